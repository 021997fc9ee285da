import { availableParallelism } from "node:os";
import {
  type CliOptions,
  DEFAULT_CORS_ORIGINS,
  DEFAULT_PORTS,
  DEFAULT_RPC_HOST,
  EXECUTION_ENGINES,
  daFlags,
  defineFlags,
  operationsFlags,
  p2pFlags,
  PROVER_KEY_FILE,
} from "@staccato/common";
import { z } from "zod";

/** Every flag of `staccato-prover` (also `STACCATO_*` env vars and `--config <file.json>` keys). */
export const proverFlags = defineFlags({
  chain: {
    schema: z.string(),
    description: "Chain config (genesis) JSON file; its `provers` list must hold this prover's address",
    placeholder: "<file>",
  },
  dataDir: {
    schema: z.string().default("./data/prover"),
    description: "Data directory: libp2p key, attestation progress",
    placeholder: "<dir>",
  },
  keyFile: {
    schema: z.string().optional(),
    description: `The prover's secp256k1 private key (hex). Default <data-dir>/${PROVER_KEY_FILE}`,
    placeholder: "<file>",
  },
  workers: {
    schema: z.number().int().min(1).max(64).default(availableParallelism()),
    description: "Worker threads verifying blocks in parallel (default: the number of cores)",
    placeholder: "<n>",
  },
  rpcHost: {
    schema: z.string().default(DEFAULT_RPC_HOST),
    description: "Listen address of --rpc-port",
    placeholder: "<host>",
  },
  rpcPort: {
    schema: z.number().int().min(0).max(65535).optional(),
    description:
      "Serve a small JSON-RPC on this port (0 = pick a free one): staccato_nodeInfo, staccato_status, eth_chainId, net_version, web3_clientVersion, for the dashboard's nodes table. Off by default: a prover only dials out",
    placeholder: "<port>",
  },
  corsOrigins: {
    schema: z.string().default(DEFAULT_CORS_ORIGINS),
    description: "Allowed CORS origins of --rpc-port (comma-separated, or *)",
    placeholder: "<origins>",
  },
  engine: {
    schema: z.enum(EXECUTION_ENGINES).default("reference"),
    description:
      "EVM that re-executes blocks: reference (@ethereumjs/vm, an implementation independent of the sequencer's fast engine, so a divergence is an invalid attestation) or fast (Staccato's synchronous interpreter)",
  },
  ...p2pFlags(DEFAULT_PORTS.prover.p2p),
  ...daFlags("none", "read"),
  ...operationsFlags(DEFAULT_PORTS.prover.metrics),
});

export type ProverOptions = CliOptions<typeof proverFlags>;
