import { type CliOptions, LOG_LEVELS, defineFlags, p2pFlags } from "@staccato/common";
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
    schema: z.string().url().default("http://127.0.0.1:8545"),
    description: "The sequencer's JSON-RPC, where transactions sent here are forwarded",
    placeholder: "<url>",
  },
  sync: {
    schema: z.enum(["genesis", "snapshot"]).default("genesis"),
    description:
      "How an empty node joins: replay every block from genesis, or start from a verified state snapshot",
  },
  rpcHost: {
    schema: z.string().default("127.0.0.1"),
    description: "JSON-RPC (HTTP + WebSocket) listen address",
    placeholder: "<host>",
  },
  rpcPort: {
    schema: z.number().int().min(0).max(65535).default(8546),
    description: "JSON-RPC port (0 = pick a free one)",
    placeholder: "<port>",
  },
  rpcMaxBody: {
    schema: z
      .number()
      .int()
      .min(1024)
      .default(5 * 1024 * 1024),
    description: "Largest JSON-RPC request body or WebSocket message, bytes",
    placeholder: "<bytes>",
  },
  rpcMaxBatch: {
    schema: z.number().int().min(1).default(1000),
    description: "Most requests in one JSON-RPC batch",
    placeholder: "<n>",
  },
  corsOrigins: {
    schema: z.string().default("*"),
    description: "Allowed CORS origins (comma-separated, or *)",
    placeholder: "<origins>",
  },
  syncTimeoutMs: {
    schema: z.number().int().min(1).default(2000),
    description: "Default wait of eth_sendRawTransactionSync / realtime_sendRawTransaction (EIP-7966)",
    placeholder: "<ms>",
  },
  ...p2pFlags(9001),
  logLevel: { schema: z.enum(LOG_LEVELS).default("info"), description: "Log level" },
  metricsHost: {
    schema: z.string().default("127.0.0.1"),
    description: "Metrics/health listen address",
    placeholder: "<host>",
  },
  metricsPort: {
    schema: z.number().int().min(0).max(65535).default(9546),
    description: "Prometheus /metrics, /health and /ready port (0 = pick a free one)",
    placeholder: "<port>",
  },
});

export type FullnodeOptions = CliOptions<typeof fullnodeFlags>;
