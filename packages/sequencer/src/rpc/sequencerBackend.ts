import type { Common } from "@ethereumjs/common";
import {
  type BlockStatsLog,
  CallRunner,
  type ChainBackend,
  type ChainConfig,
  type ChainEvents,
  type ChainStore,
  type Executor,
  type FinalityTracker,
  type MemoryState,
  RPC_LIMITS,
  type SenderRecoveryPool,
  type StateHistory,
  type StateTrieHandle,
  formatTx,
} from "@staccato/common";
import type { DaPublisher } from "../da/daPublisher.ts";
import type { SequencerMetrics } from "../node/metrics.ts";
import type { SequencerOptions } from "../node/options.ts";
import { TxRejectedError, type TxRejection } from "../txpool/txErrors.ts";
import type { TxPool } from "../txpool/txPool.ts";

export const CLIENT_VERSION = "staccato-sequencer/0.1.0";

export interface SequencerBackendDeps {
  config: ChainConfig;
  common: Common;
  chain: ChainStore;
  state: MemoryState;
  history: StateHistory;
  trie: StateTrieHandle;
  pool: TxPool;
  executor: Executor;
  senders: SenderRecoveryPool | null;
  events: ChainEvents;
  finality: FinalityTracker;
  blockStats: BlockStatsLog;
  da: DaPublisher | null;
  metrics: SequencerMetrics;
  blockHash: (n: bigint) => Promise<Uint8Array | undefined>;
  peers: () => number;
}

/** What the sequencer's RPC reads: the chain and state in memory, the pool, finality and DA. */
export function sequencerBackend(o: SequencerOptions, d: SequencerBackendDeps): ChainBackend {
  const { config, chain, pool, finality, da } = d;
  return {
    config,
    common: d.common,
    chain,
    state: d.state,
    history: d.history,
    preconfirmations: o.preconfirmations === "on",
    stateHistory: o.stateHistory,
    trie: d.trie,
    ...sequencerRpcHooks(
      pool,
      d.executor,
      () => ({
        chainId: config.chainId,
        role: "sequencer",
        latestBlock: Number(chain.latest.number),
        pendingBlock: Number(chain.head.number),
        latestMiniBlock: Number(chain.lastMiniBlockThrough(chain.head.number).number),
        poolSize: pool.size,
        readyTxs: pool.readyCount(),
        sequencer: config.sequencer,
        peers: d.peers(),
        finalizedBlock: Number(finality.finalized()),
      }),
      d.senders,
      (reason) => d.metrics.txsRejected.inc({ reason }),
    ),
    calls: new CallRunner(d.common, d.blockHash),
    events: d.events,
    limits: { syncTimeoutMs: o.syncTimeoutMs, ...RPC_LIMITS },
    clientVersion: CLIENT_VERSION,
    // Without provers every sealed block is final; with provers, finality waits for attestations.
    finalizedNumber: () => finality.finalized(),
    blockStats: (n) => d.blockStats.get(n),
    ...(da !== null ? { daPublished: () => BigInt(da.status().publishedBlock) } : {}),
  };
}

/**
 * The sequencer's answers to what the shared RPC methods need beyond the chain: transactions go
 * into its pool (refusals become -32000 errors with geth's messages, which viem and ethers map to
 * their typed errors), pending nonces and transactions come from the pool.
 */
export function sequencerRpcHooks(
  pool: TxPool,
  executor: Executor,
  status: () => Record<string, unknown>,
  /** Recovers senders off the execution thread (null: the pool recovers them itself). */
  senders: SenderRecoveryPool | null,
  /** A submission the pool refused (`staccato_txpool_rejected_total`). */
  onRejected: (reason: TxRejection) => void,
): Pick<
  ChainBackend,
  | "submit"
  | "prepareSubmit"
  | "pendingNonce"
  | "pendingTx"
  | "isPooled"
  | "blockTemplate"
  | "syncing"
  | "status"
> {
  const prepareSubmit = (raw: Uint8Array) => senders?.recover(raw) ?? null;
  return {
    prepareSubmit,
    async submit(raw, prepared) {
      const sender = await ((prepared as ReturnType<typeof prepareSubmit> | undefined) ?? prepareSubmit(raw));
      try {
        const ptx = pool.add(raw, sender ?? undefined);
        return { hashHex: ptx.hashHex, sender: ptx.sender, queued: ptx.readyGen === 0 };
      } catch (err) {
        // The dispatcher answers it with geth's message (-32000).
        if (err instanceof TxRejectedError) onRejected(err.reason);
        throw err;
      }
    },
    async pendingNonce(address) {
      return pool.pendingNonce(address);
    },
    pendingTx(hashHex) {
      const p = pool.get(hashHex);
      return p === undefined ? null : formatTx(p.tx.typed(), p.hashHex, p.sender, null);
    },
    isPooled: (hashHex) => pool.get(hashHex) !== undefined,
    blockTemplate: (b) => executor.blockTemplate(b),
    syncing: () => false,
    status,
  };
}
