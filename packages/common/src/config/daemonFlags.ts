import { z } from "zod";
import { LOG_LEVELS } from "../log/logger.ts";
import type { RpcServerOptionsInput } from "../rpc/server.ts";
import { defineFlags } from "./cli.ts";

/** The JSON-RPC flags every daemon that serves wallets takes; spread into its `defineFlags({...})`. */
export function rpcFlags(defaultPort: number) {
  return defineFlags({
    rpcHost: {
      schema: z.string().default("127.0.0.1"),
      description: "JSON-RPC (HTTP + WebSocket) listen address",
      placeholder: "<host>",
    },
    rpcPort: {
      schema: z.number().int().min(0).max(65535).default(defaultPort),
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
  });
}

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
