import { type CliOptions, DEFAULT_PORTS, defineFlags, LOG_LEVELS } from "@staccato/common";
import { z } from "zod";

const port = z.number().int().min(1).max(65535);

/**
 * Every flag of `staccato-devnet`. Env vars are `STACCATO_DEVNET_*`, not the daemons'
 * `STACCATO_*`, so a shell set up for one daemon does not reconfigure the whole devnet.
 */
export const devnetFlags = defineFlags({
  dataDir: {
    schema: z.string().default("./data/devnet"),
    description: "Data directory: chain config, keys, one data dir per daemon, logs/",
    placeholder: "<dir>",
    env: "STACCATO_DEVNET_DATA_DIR",
  },
  fresh: {
    schema: z.boolean().default(false),
    description: "Delete the data directory first and start a new chain",
    env: "STACCATO_DEVNET_FRESH",
  },
  initOnly: {
    schema: z.boolean().default(false),
    description:
      "Only write the chain config and keys into the data directory (if missing), then exit (docker-compose's init service)",
    env: "STACCATO_DEVNET_INIT_ONLY",
  },
  provers: {
    schema: z.number().int().min(0).max(16).optional(),
    description:
      "Provers registered in a new chain config (default 2; a resumed devnet keeps the ones it has)",
    placeholder: "<n>",
    env: "STACCATO_DEVNET_PROVERS",
  },
  proverQuorum: {
    schema: z.number().int().min(0).max(16).optional(),
    description:
      "Attestations that finalize a block, in a new chain config (default: all provers, at most 2)",
    placeholder: "<n>",
    env: "STACCATO_DEVNET_PROVER_QUORUM",
  },
  fullnodes: {
    schema: z.number().int().min(0).max(16).default(2),
    description: "Full nodes to run",
    placeholder: "<n>",
    env: "STACCATO_DEVNET_FULLNODES",
  },
  host: {
    schema: z.string().default("127.0.0.1"),
    description: "Listen address of every JSON-RPC server (0.0.0.0 to expose them)",
    placeholder: "<host>",
    env: "STACCATO_DEVNET_HOST",
  },
  rpcPort: {
    schema: port.default(DEFAULT_PORTS.sequencer.rpc),
    description:
      "Sequencer JSON-RPC port; full node i listens on rpc-port + i, then prover i's node-info RPC on the ports after the full nodes'",
    placeholder: "<port>",
    env: "STACCATO_DEVNET_RPC_PORT",
  },
  p2pPort: {
    schema: port.default(DEFAULT_PORTS.sequencer.p2p),
    description: "First libp2p port (127.0.0.1): the sequencer's, then one per prover, then per full node",
    placeholder: "<port>",
    env: "STACCATO_DEVNET_P2P_PORT",
  },
  metricsPort: {
    schema: port.default(DEFAULT_PORTS.sequencer.metrics),
    description: "First metrics port (/metrics, /health), in the same order",
    placeholder: "<port>",
    env: "STACCATO_DEVNET_METRICS_PORT",
  },
  proverWorkers: {
    schema: z.number().int().min(1).default(1),
    description: "Worker threads per prover",
    placeholder: "<n>",
    env: "STACCATO_DEVNET_PROVER_WORKERS",
  },
  logLevel: {
    schema: z.enum(LOG_LEVELS).default("info"),
    description: "Log level of every daemon (their logs go to <data-dir>/logs/<name>.log)",
    env: "STACCATO_DEVNET_LOG_LEVEL",
  },
  onCrash: {
    schema: z.enum(["stop", "continue"]).default("stop"),
    description:
      "When a daemon exits on its own: stop the others and exit 1 (stop), or report it and keep the rest running until Ctrl-C, then exit 1 (continue: e.g. to watch a node fail on the dashboard)",
    placeholder: "<stop|continue>",
    env: "STACCATO_DEVNET_ON_CRASH",
  },
  startTimeoutMs: {
    schema: z.number().int().min(1000).default(90_000),
    description: "How long each daemon may take to answer /health at start",
    placeholder: "<ms>",
    env: "STACCATO_DEVNET_START_TIMEOUT_MS",
  },
});

export type DevnetOptions = CliOptions<typeof devnetFlags>;
