import { z } from "zod";
import { LOG_LEVELS } from "../log/logger.ts";
import {
  DEFAULT_CORS_ORIGINS,
  DEFAULT_RPC_HOST,
  DEFAULT_RPC_MAX_BATCH,
  DEFAULT_RPC_MAX_BODY_BYTES,
  type RpcServerOptionsInput,
} from "../rpc/server.ts";
import { DEFAULT_RETAINED_BLOCKS, DEFAULT_RETAINED_TXS, MIN_RETAINED_BLOCKS } from "../chain/chainStore.ts";
import { defineFlags } from "./cli.ts";

/** The JSON-RPC flags every daemon that serves wallets takes; spread into its `defineFlags({...})`. */
export function rpcFlags(defaultPort: number) {
  return defineFlags({
    rpcHost: {
      schema: z.string().default(DEFAULT_RPC_HOST),
      description: "JSON-RPC (HTTP + WebSocket) listen address",
      placeholder: "<host>",
    },
    rpcPort: {
      schema: z.number().int().min(0).max(65535).default(defaultPort),
      description: "JSON-RPC port (0 = pick a free one)",
      placeholder: "<port>",
    },
    rpcMaxBody: {
      schema: z.number().int().min(1024).default(DEFAULT_RPC_MAX_BODY_BYTES),
      description: "Largest JSON-RPC request body or WebSocket message, bytes",
      placeholder: "<bytes>",
    },
    rpcMaxBatch: {
      schema: z.number().int().min(1).default(DEFAULT_RPC_MAX_BATCH),
      description: "Most requests in one JSON-RPC batch",
      placeholder: "<n>",
    },
    corsOrigins: {
      schema: z.string().default(DEFAULT_CORS_ORIGINS),
      description: "Allowed CORS origins (comma-separated, or *)",
      placeholder: "<origins>",
    },
    syncTimeoutMs: {
      schema: z.number().int().min(1).default(2000),
      description: "Default wait of eth_sendRawTransactionSync / realtime_sendRawTransaction (EIP-7966)",
      placeholder: "<ms>",
    },
    preconfirmations: {
      schema: z.enum(PRECONFIRMATION_MODES).default("on"),
      description:
        "on: receipts, transactions and logs are served once their mini-block seals, and latest state is the newest mini-block's; off: strict Ethereum semantics, only from sealed blocks (the pending tag, the miniBlocks/stateChanges subscriptions and the sync sends stay real-time)",
    },
  });
}

/** `--preconfirmations`: whether `latest` and by-hash lookups see mini-blocks before their block seals. */
export const PRECONFIRMATION_MODES = ["on", "off"] as const;
export type PreconfirmationMode = (typeof PRECONFIRMATION_MODES)[number];

/**
 * How much history a daemon with RPC keeps: state at past blocks, and blocks in memory. A node
 * with an archive on disk (a full node) keeps every block's state by default (`0`).
 */
export function historyFlags(defaultStateBlocks: number, archive: boolean) {
  return defineFlags({
    stateHistory: {
      schema: z
        .number()
        .int()
        .min(archive ? 0 : 1)
        .default(defaultStateBlocks),
      description: archive
        ? "Sealed blocks whose state is served at a block number or hash (eth_getBalance, eth_call…): the latest and the N-1 before it, older change sets are pruned and answer error 4444 (0 = every block since the node joined: an archive node)"
        : "Sealed blocks whose state is served at a block number or hash (eth_getBalance, eth_call…): the latest and the N-1 before it; older blocks answer error 4444",
      placeholder: "<blocks>",
    },
    blockCache: {
      schema: z.number().int().min(MIN_RETAINED_BLOCKS).default(DEFAULT_RETAINED_BLOCKS),
      description:
        "Newest sealed blocks kept in memory: hashes and headers of all of them, transactions, receipts and mini-blocks as --block-cache-txs allows; older ones are read from the on-disk store",
      placeholder: "<blocks>",
    },
    blockCacheTxs: {
      schema: z.number().int().min(0).default(DEFAULT_RETAINED_TXS),
      description:
        "Most transactions (with receipts and mini-blocks) the sealed blocks in memory hold together; the newest sealed block always stays. Bounds memory under load: older blocks are read from the on-disk store",
      placeholder: "<txs>",
    },
    historyRetention: {
      schema: z
        .number()
        .int()
        .refine((n) => n === 0 || n >= MIN_RETAINED_BLOCKS, `0, or at least ${MIN_RETAINED_BLOCKS}`)
        .default(archive ? 0 : SEQUENCER_HISTORY_RETENTION),
      description: archive
        ? "Sealed blocks kept on disk (blocks, receipts, transactions, logs): older ones are deleted and answer error 4444 (0 = keep every block)"
        : "Sealed blocks kept on disk (blocks, receipts, transactions, logs): older ones are deleted and answer error 4444 (the chain's archive is DA and the full nodes; 0 = keep every block)",
      placeholder: "<blocks>",
    },
  });
}

/** The sequencer's default `--history-retention`: about 28 hours of 1 s blocks. */
export const SEQUENCER_HISTORY_RETENTION = 100_000;

/** Logging and metrics flags every daemon takes. */
export function operationsFlags(defaultMetricsPort: number) {
  return defineFlags({
    logLevel: { schema: z.enum(LOG_LEVELS).default("info"), description: "Log level" },
    metricsHost: {
      schema: z.string().default("127.0.0.1"),
      description: "Metrics/health listen address",
      placeholder: "<host>",
    },
    metricsPort: {
      schema: z.number().int().min(0).max(65535).default(defaultMetricsPort),
      description: "Prometheus /metrics, /health and /ready port (0 = pick a free one)",
      placeholder: "<port>",
    },
  });
}

/** The RPC server's options from the parsed `rpcFlags`. */
export function rpcServerOptionsFromFlags(o: {
  rpcHost: string;
  rpcPort: number;
  rpcMaxBody: number;
  rpcMaxBatch: number;
  corsOrigins: string;
}): RpcServerOptionsInput {
  return {
    host: o.rpcHost,
    port: o.rpcPort,
    maxBodyBytes: o.rpcMaxBody,
    maxBatch: o.rpcMaxBatch,
    corsOrigins: o.corsOrigins,
  };
}
