import { createBlockHeaderFromRLP } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  type ArchivedBlock,
  type ChainBlock,
  type ChainConfig,
  type ChainEvents,
  ChainStore,
  type Logger,
  MemoryState,
  StartupError,
  StateHistory,
  WorkerStateTrie,
  decodeBlockSeal,
  decodeSignedMiniBlock,
  genesisArchived,
  miniBlockEntries,
  sealedChainBlock,
  snapshotBaseArchived,
} from "@staccato/common";
import { Follower, type VerificationError } from "../chain/follower.ts";
import type { FullnodeStore, StoreMeta } from "../store/fullnodeStore.ts";
import type { FullnodeMetrics } from "./metrics.ts";

/**
 * A store written before the history indexes: writes each verified block's index records once
 * (block index, block-hash and transaction-hash indexes), from its seal and stored mini-blocks.
 */
async function indexOldStore(ctx: ReplicaContext, meta: StoreMeta): Promise<void> {
  const { store, common, logger: log } = ctx;
  const started = performance.now();
  log.info(
    { verifiedBlock: Number(meta.verifiedBlock) },
    "indexing the store's history (once, for this version)",
  );
  const miniBlocks = store.miniBlocks(0n)[Symbol.asyncIterator]();
  let batch: ArchivedBlock[] = [meta.baseBlock === 0n ? genesisArchived(ctx.genesis) : undefined].filter(
    (x): x is ArchivedBlock => x !== undefined,
  );
  let nextMb = 1n;
  let blocks = 0;
  for await (const sealBytes of store.blockSeals()) {
    const seal = decodeBlockSeal(sealBytes);
    const header = createBlockHeaderFromRLP(seal.header, { common, skipConsensusFormatValidation: true });
    if (header.number === meta.baseBlock && meta.baseBlock > 0n) {
      const base = snapshotBaseArchived(header, seal, nextMb - 1n);
      nextMb = base.firstMiniBlock + BigInt(seal.miniBlockHashes.length);
      batch.push(base);
      continue;
    }
    const b = sealedChainBlock(header, seal.hash, seal.signature);
    const firstMiniBlock = nextMb;
    for (let i = 0; i < seal.miniBlockHashes.length; i++) {
      const next = await miniBlocks.next();
      if (next.done) throw new StartupError(`store is missing mini-blocks of block ${header.number}`);
      const mb = decodeSignedMiniBlock(next.value);
      const { entries } = miniBlockEntries(mb, b.number, common);
      b.miniBlocks.push({ number: mb.number, hash: mb.hash, encoded: next.value });
      b.txs.push(...entries);
      nextMb = mb.number + 1n;
    }
    batch.push({ block: b, seal, withMiniBlocks: false, withSenders: false, firstMiniBlock });
    if (++blocks % 1_000 === 0) {
      await store.putIndexes(batch, false);
      batch = [];
      log.info({ blocks }, "indexing the store's history");
    }
  }
  await store.putIndexes(batch, true);
  log.info({ blocks, ms: Math.round(performance.now() - started) }, "indexed the store's history");
}

export interface ReplicaContext {
  config: ChainConfig;
  common: Common;
  genesis: ChainBlock;
  store: FullnodeStore;
  events: ChainEvents;
  metrics: FullnodeMetrics;
  logger: Logger;
  /** `--state-history`: sealed blocks whose state is served. */
  stateWindow: number;
  /** Sealed blocks kept in memory; older ones are read from the store. */
  retainBlocks: number;
  /** Most transactions the sealed blocks in memory hold together. */
  retainTxs: number;
  onMismatch(err: VerificationError): void;
}

/** The node's chain and state, rebuilt from its store (at start, and again after a re-sync). */
export interface Replica {
  state: MemoryState;
  trie: WorkerStateTrie;
  chain: ChainStore;
  history: StateHistory;
  follower: Follower;
  meta: StoreMeta;
}

/**
 * Loads the verified state from the store and checks it against the verified block's state
 * root, loads the verified blocks and their mini-blocks into the in-memory chain, then replays the
 * stored mini-blocks after it through a new follower.
 */
export async function loadReplica(ctx: ReplicaContext): Promise<Replica> {
  const { store, common, config, logger: log } = ctx;
  const meta = (await store.meta())!;
  const state = new MemoryState();
  const trie = new WorkerStateTrie();
  try {
    const verifiedState = await store.state();
    state.applyDiff(verifiedState);
    trie.add(verifiedState);
    const root = (await trie.commit()).root;

    if (!(await store.hasIndexes())) await indexOldStore(ctx, meta);
    // Only the newest blocks come into memory, as many as the running node keeps (blocks and
    // transactions); older ones are read from the store on request, so a restart takes as long on
    // a long chain, or a busy one, as on a short one.
    const oldestKept = (await store.archive.firstBlock()) ?? meta.baseBlock;
    const lowest = meta.baseBlock > oldestKept ? meta.baseBlock : oldestKept;
    const recent: ChainBlock[] = [];
    let held = 0;
    for (let n = meta.verifiedBlock; n >= lowest && recent.length < ctx.retainBlocks; n--) {
      const b = await store.archive.block(n);
      if (b === undefined) throw new StartupError(`store is missing block ${n}`);
      if (recent.length > 0 && held + b.txs.length > ctx.retainTxs) break;
      recent.push(b);
      held += b.txs.length;
    }
    recent.reverse();
    const first = recent[0]!.number;
    const chain = new ChainStore(meta.baseBlock, {
      archive: store.archive,
      retain: ctx.retainBlocks,
      retainTxs: ctx.retainTxs,
      first,
      before: await store.archive.lastMiniBlockBefore(first),
    });
    const history = new StateHistory(state, meta.verifiedBlock, ctx.stateWindow, true);
    chain.prunedBelow(oldestKept);
    for (const b of recent) chain.addBlock(b);
    chain.archived(meta.verifiedBlock);
    await chain.loadSealedRefs();
    const expectRoot = chain.latest.header!.stateRoot;
    if (!equalsBytes(root, expectRoot)) {
      throw new StartupError(
        `stored state hashes to ${bytesToHex(root)}, but verified block ${meta.verifiedBlock} has state root ${bytesToHex(expectRoot)}`,
      );
    }
    const follower = new Follower(
      {
        config,
        common,
        chain,
        state,
        history,
        trie,
        store,
        events: ctx.events,
        logger: log,
        metrics: ctx.metrics,
        onMismatch: ctx.onMismatch,
      },
      {
        verifiedBlock: meta.verifiedBlock,
        lastMiniBlockNumber: meta.lastMiniBlockNumber,
        lastMiniBlockHash: meta.lastMiniBlockHash,
      },
    );
    // Mini-blocks applied after the verified block are replayed.
    for await (const enc of store.miniBlocks(meta.lastMiniBlockNumber + 1n)) {
      follower.offerMiniBlock(decodeSignedMiniBlock(enc), false, enc);
    }
    log.info(
      {
        verifiedBlock: Number(meta.verifiedBlock),
        appliedMiniBlock: Number(follower.appliedMiniBlock),
        baseBlock: Number(meta.baseBlock),
      },
      "loaded store",
    );
    return { state, trie, chain, history, follower, meta };
  } catch (err) {
    await trie.close();
    throw err;
  }
}

/**
 * The replica the node serves, replaced by a fresh one when a block does not verify: it stops,
 * drops what was applied after the last verified block, rebuilds from the store and fetches again
 * from peers. Until then the node is unhealthy (`problem`).
 */
export class LiveReplica {
  private resyncing = false;
  private mismatch: string | null = null;
  /** Called with the new replica after a re-sync (the network follows its follower). */
  onResynced: ((r: Replica) => void) | null = null;

  private constructor(
    private replica: Replica,
    private readonly ctx: ReplicaContext,
  ) {}

  static async load(ctx: Omit<ReplicaContext, "onMismatch">): Promise<LiveReplica> {
    let live: LiveReplica | null = null;
    const full: ReplicaContext = {
      ...ctx,
      onMismatch: (err) => {
        ctx.metrics.mismatches.inc();
        ctx.logger.error(
          { err: err.message },
          "state diverged from the sequencer's signed block: re-syncing from the last verified block",
        );
        if (live !== null) {
          live.mismatch = err.message;
          void live.resync();
        }
      },
    };
    live = new LiveReplica(await loadReplica(full), full);
    return live;
  }

  get current(): Replica {
    return this.replica;
  }

  /** Why the node is unhealthy (a mismatch not yet re-synced, a halted follower), or null. */
  get problem(): string | null {
    return this.mismatch ?? (this.replica.follower.isHalted ? "halted" : null);
  }

  async close(): Promise<void> {
    await this.replica.trie.close();
  }

  private async resync(): Promise<void> {
    if (this.resyncing) return;
    this.resyncing = true;
    const { store, logger: log } = this.ctx;
    try {
      await this.replica.follower.settle().catch(() => undefined);
      const m = (await store.meta())!;
      await store.dropMiniBlocksAfter(m.lastMiniBlockNumber);
      const old = this.replica;
      this.replica = await loadReplica(this.ctx);
      await old.trie.close();
      this.mismatch = null;
      log.warn({ verifiedBlock: Number(m.verifiedBlock) }, "re-synced from the last verified block");
      this.onResynced?.(this.replica);
    } catch (err) {
      log.error({ err }, "re-sync failed; restart the node");
    } finally {
      this.resyncing = false;
    }
  }
}
