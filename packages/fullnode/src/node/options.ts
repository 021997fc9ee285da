import {
  type CliOptions,
  DEFAULT_PORTS,
  daFlags,
  defineFlags,
  operationsFlags,
  p2pFlags,
  rpcFlags,
  historyFlags,
} from "@staccato/common";
import { z } from "zod";

/** Every flag of `staccato-fullnode` (also `STACCATO_*` env vars and `--config <file.json>` keys). */
export const fullnodeFlags = defineFlags({
  chain: {
    schema: z.string(),
    description:
      "Chain config (genesis) JSON file: the sequencer's (in dev mode, <sequencer data dir>/chain.json)",
    placeholder: "<file>",
  },
  dataDir: {
    schema: z.string().default("./data/fullnode"),
    description: "Data directory: LevelDB store and libp2p key",
    placeholder: "<dir>",
  },
  sequencerRpc: {
    schema: z.string().url().default(`http://127.0.0.1:${DEFAULT_PORTS.sequencer.rpc}`),
    description: "The sequencer's JSON-RPC, where transactions sent here are forwarded",
    placeholder: "<url>",
  },
  sync: {
    schema: z.enum(["genesis", "snapshot"]).default("genesis"),
    description:
      "How an empty node joins: replay every block from genesis, or start from a verified state snapshot",
  },
  ...historyFlags(0, true),
  ...p2pFlags(DEFAULT_PORTS.fullnode.p2p),
  ...daFlags("none", "read"),
  ...rpcFlags(DEFAULT_PORTS.fullnode.rpc),
  ...operationsFlags(DEFAULT_PORTS.fullnode.metrics),
});

export type FullnodeOptions = CliOptions<typeof fullnodeFlags>;
