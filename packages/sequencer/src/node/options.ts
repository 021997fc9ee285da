import {
  type CliOptions,
  DEFAULT_BLOCK_MS,
  DEFAULT_MINI_BLOCK_MS,
  DEFAULT_PORTS,
  DEFAULT_STATE_WINDOW,
  DEV_ACCOUNT_COUNT,
  DEV_CHAIN_ID,
  EXECUTION_ENGINES,
  daFlags,
  defineFlags,
  operationsFlags,
  p2pFlags,
  rpcFlags,
  historyFlags,
  SEQUENCER_KEY_FILE,
} from "@staccato/common";
import { z } from "zod";
import { DEFAULT_WAL_SEGMENT_MB, FSYNC_POLICIES } from "../storage/wal.ts";
import { DEFAULT_NONCE_GAP_LIMIT, DEFAULT_PRIORITY_FEE, DEFAULT_TXPOOL_MAX } from "../txpool/txPool.ts";

/** Every flag of `staccato-sequencer` (also `STACCATO_*` env vars and `--config <file.json>` keys). */
export const sequencerFlags = defineFlags({
  dev: {
    schema: z.boolean().default(false),
    description: `Dev mode: no files needed. Generates a chain config (chain id ${DEV_CHAIN_ID}, the dev mnemonic's ${DEV_ACCOUNT_COUNT} accounts prefunded) and a sequencer key in the data dir`,
  },
  chain: {
    schema: z.string().optional(),
    description: "Chain config (genesis) JSON file. Required unless --dev",
    placeholder: "<file>",
  },
  dataDir: {
    schema: z.string().default("./data/sequencer"),
    description: "Data directory: write-ahead log, snapshots, generated key and chain config",
    placeholder: "<dir>",
  },
  keyFile: {
    schema: z.string().optional(),
    description: `Sequencer secp256k1 private key (hex). Default <data-dir>/${SEQUENCER_KEY_FILE} (generated in dev mode)`,
    placeholder: "<file>",
  },
  miniBlockMs: {
    schema: z.number().int().min(1).max(60_000).optional(),
    description: `Mini-block interval in ms (default: the chain config's, ${DEFAULT_MINI_BLOCK_MS})`,
    placeholder: "<ms>",
  },
  blockMs: {
    schema: z.number().int().min(1).max(600_000).optional(),
    description: `Block interval in ms (default: the chain config's, ${DEFAULT_BLOCK_MS})`,
    placeholder: "<ms>",
  },
  walFsync: {
    schema: z.enum(FSYNC_POLICIES).default("always"),
    description:
      "always: fdatasync each mini-block before its receipts are served; none: leave flushing to the OS",
  },
  walSegmentMb: {
    schema: z.number().int().min(1).max(4096).default(DEFAULT_WAL_SEGMENT_MB),
    description:
      "Size at which the write-ahead log starts a new segment (at a block boundary); a segment is deleted once a state snapshot and the on-disk history cover all its blocks",
    placeholder: "<MiB>",
  },
  snapshotInterval: {
    schema: z.number().int().min(0).default(1000),
    description: "Write a state snapshot every N blocks, bounding the log replay at restart (0 = never)",
    placeholder: "<blocks>",
  },
  txpoolMax: {
    schema: z.number().int().min(1).default(DEFAULT_TXPOOL_MAX),
    description: "Most transactions held in the pool",
    placeholder: "<n>",
  },
  nonceGapLimit: {
    schema: z.number().int().min(0).default(DEFAULT_NONCE_GAP_LIMIT),
    description: "How far past a sender's next nonce a future transaction may wait in the pool",
    placeholder: "<n>",
  },
  priorityFee: {
    schema: z.bigint().nonnegative().default(DEFAULT_PRIORITY_FEE),
    description: "Tip (wei) at or above which a transaction enters the priority lane (0 = off)",
    placeholder: "<wei>",
  },
  prioritySenders: {
    schema: z.array(z.string().regex(/^0x[0-9a-fA-F]{40}$/, "expected 0x addresses")).default([]),
    description: "Addresses whose transactions always enter the priority lane (comma-separated)",
    placeholder: "<addrs>",
  },
  stopDrainMs: {
    schema: z.number().int().min(0).max(600_000).default(5_000),
    description:
      "At a graceful stop (SIGTERM, SIGINT), seal the pool's ready transactions for up to this long before exiting (0 = seal none: they go to the pool journal)",
    placeholder: "<ms>",
  },
  txpoolJournal: {
    schema: z.boolean().default(true),
    description:
      "At a graceful stop, keep the pool's unsealed transactions (future nonces, or ready ones past --stop-drain-ms) in <data-dir>/txpool.journal and re-admit them at the next start (--no-txpool-journal: drop them)",
  },
  senderWorkers: {
    schema: z.number().int().min(0).max(64).optional(),
    description:
      "Worker threads that recover transaction senders (ecrecover) off the execution thread (default: cores - 1, at least 2; 0 = on the execution thread)",
    placeholder: "<n>",
  },
  engine: {
    schema: z.enum(EXECUTION_ENGINES).default("fast"),
    description:
      "EVM for contract transactions: fast (Staccato's synchronous interpreter; what it does not implement runs on @ethereumjs/vm, counted in staccato_execution_fast_fallbacks_total) or reference (@ethereumjs/vm for every transaction)",
  },
  evmCompileAfter: {
    schema: z.number().int().min(0).optional(),
    description:
      "Fast EVM: compile a contract's straight-line code to JavaScript once this many calls ran it (default: never). Measured ~20 % faster on arithmetic loops, ~10 % slower on swaps",
    placeholder: "<calls>",
  },
  p2p: {
    schema: z.boolean().default(true),
    description: "Publish mini-blocks and blocks over libp2p and serve history to peers (--no-p2p: off)",
  },
  serveHistory: {
    schema: z.boolean().default(true),
    description:
      "Serve mini-blocks, blocks, witnesses and state snapshots to peers by request (--no-serve-history: peers catch up from DA instead)",
  },
  ...historyFlags(DEFAULT_STATE_WINDOW, false),
  ...p2pFlags(DEFAULT_PORTS.sequencer.p2p),
  ...daFlags("dir", "publish"),
  ...rpcFlags(DEFAULT_PORTS.sequencer.rpc),
  ...operationsFlags(DEFAULT_PORTS.sequencer.metrics),
});

export type SequencerOptions = CliOptions<typeof sequencerFlags>;
