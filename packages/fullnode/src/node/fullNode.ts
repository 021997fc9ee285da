import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createBlockHeaderFromRLP } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  CallRunner,
  type ChainBackend,
  DaReader,
  type ChainBlock,
  ChainEvents,
  type ChainConfig,
  ChainStore,
  StateHistory,
  type Logger,
  MemoryState,
  type MetricsServer,
  type RpcServer,
  RpcServerMetrics,
  WorkerStateTrie,
  buildGenesis,
  createEthCommon,
  createLogger,
  createRegistry,
  createRpcServer,
  daStoreFromFlags,
  rpcServerOptionsFromFlags,
  decodeBlockSeal,
  decodeSignedMiniBlock,
  ethApi,
  executionBlock,
  loadChainConfig,
  p2pOptionsFromFlags,
  realtimeApi,
  startMetricsServer,
  subscriptionApi,
  FinalityMetrics,
  FinalityTracker,
  attestationGossip,
  serveAttestations,
  syncAttestations,
  finalityApi,
  nodeInfoApi,
  type ArchivedBlock,
  DEFAULT_STATE_WINDOW,
  genesisArchived,
  retainHistory,
  miniBlockEntries,
  sealedChainBlock,
  snapshotBaseArchived,
  debugTraceApi,
  otsApi,
  accessListApi,
  simulateApi,
} from "@staccato/common";
import { dashboardPage } from "@staccato/dashboard";
import { Follower, type VerificationError } from "../chain/follower.ts";
import { FullnodeNetwork, SignedObjects } from "../network/fullnodeNetwork.ts";
import { SequencerClient, forwardingHooks } from "../rpc/forwarding.ts";
import { FullnodeAddressIndex } from "../store/addressIndex.ts";
import { FullnodeStore, type StoreMeta } from "../store/fullnodeStore.ts";
import { DA_SYNC_DEFAULTS, DaSync, NO_DA_STORE } from "../sync/daSync.ts";
import { joinFromSnapshot } from "../sync/snapshotJoin.ts";
import { FullnodeMetrics } from "./metrics.ts";
import type { FullnodeOptions } from "./options.ts";

export const CLIENT_VERSION = "staccato-fullnode/0.1.0";

export class FullnodeStartupError extends Error {}

/** Wires the full node: store, state, follower, network, RPC, metrics. `close()` undoes it. */
export class FullNode {
  private readonly closers: (() => Promise<void> | void)[] = [];
  private unhealthy: string | null = null;

  private constructor(
    readonly logger: Logger,
    readonly config: ChainConfig,
    readonly rpc: RpcServer,
  ) {}

  static async start(o: FullnodeOptions, logger?: Logger): Promise<FullNode> {
    const log = logger ?? createLogger({ name: "fullnode", level: o.logLevel });
    const closers: (() => Promise<void> | void)[] = [];
    try {
      return await FullNode.wire(o, log, closers);
    } catch (err) {
      for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
      throw err;
    }
  }

  private static async wire(
    o: FullnodeOptions,
    log: Logger,
    closers: (() => Promise<void> | void)[],
  ): Promise<FullNode> {
    mkdirSync(o.dataDir, { recursive: true });
    const config = loadChainConfig(o.chain);
    const common = createEthCommon(config);
    const genesis = await buildGenesis(config, common);
    const registry = createRegistry({ daemon: "fullnode" });
    const metrics = new FullnodeMetrics(registry);
    const signed = new SignedObjects(config.chainId, config.sequencer, common);
    const p2pOpts = { ...p2pOptionsFromFlags(o, o.dataDir), chainId: config.chainId };

    const store = await FullnodeStore.open(join(o.dataDir, "db"), common);
    closers.push(() => store.close());
    let meta = await store.meta();
    if (meta === null) {
      // A node that reads DA can always rebuild the whole history from genesis: when no peer
      // serves a snapshot (a sequencer with --no-serve-history, only full nodes), it does that
      // instead of failing.
      const join =
        o.sync === "snapshot"
          ? await joinFromSnapshot(p2pOpts, { signed, store, common, logger: log, fallback: o.da !== "none" })
          : null;
      if (join?.joined === false)
        log.warn(
          { reason: join.reason, da: o.da },
          "--sync snapshot: no snapshot to join from; joining from genesis and catching up from DA",
        );
      if (join?.joined !== true) {
        await store.resetToSnapshot(
          genesis.diff,
          {
            verifiedBlock: 0n,
            lastMiniBlockNumber: 0n,
            lastMiniBlockHash: new Uint8Array(32),
            baseBlock: 0n,
          },
          genesisArchived(genesis.block),
        );
        log.info({ genesis: bytesToHex(genesis.block.hash!) }, "initialized store from genesis");
      }
      meta = (await store.meta())!;
    }

    const events = new ChainEvents();
    let node: FullNode | null = null;
    let replica: Replica;
    let network: FullnodeNetwork | null = null;
    let resyncing = false;
    // A block that does not verify: stop, drop what was applied after the last verified block,
    // rebuild from the store and fetch again from peers.
    const resync = async () => {
      if (resyncing) return;
      resyncing = true;
      try {
        await replica.follower.settle().catch(() => undefined);
        const m = (await store.meta())!;
        await store.dropMiniBlocksAfter(m.lastMiniBlockNumber);
        const old = replica;
        replica = await loadReplica(ctx);
        network?.setFollower(replica.follower);
        await old.trie.close();
        if (node !== null) node.unhealthy = null;
        log.warn({ verifiedBlock: Number(m.verifiedBlock) }, "re-synced from the last verified block");
        network?.kickSync();
      } catch (err) {
        log.error({ err }, "re-sync failed; restart the node");
      } finally {
        resyncing = false;
      }
    };
    const ctx: ReplicaContext = {
      config,
      common,
      genesis: genesis.block,
      store,
      events,
      metrics,
      logger: log,
      stateWindow:
        o.stateHistory === 0 ? DEFAULT_STATE_WINDOW : Math.min(DEFAULT_STATE_WINDOW, o.stateHistory),
      retainBlocks: o.blockCache,
      retainTxs: o.blockCacheTxs,
      onMismatch: (err) => {
        metrics.mismatches.inc();
        if (node !== null) node.unhealthy = err.message;
        log.error(
          { err: err.message },
          "state diverged from the sequencer's signed block: re-syncing from the last verified block",
        );
        void resync();
      },
    };
    replica = await loadReplica(ctx);
    closers.push(() => replica.trie.close());
    const meta0 = replica.meta;
    // Otterscan's address index: verified blocks, in order, off the verification path.
    const addressIndex = new FullnodeAddressIndex(store.level, common, log);
    let indexing = addressIndex.catchUp(
      (n) => replica.chain.getBlock(n),
      meta0.verifiedBlock,
      meta0.baseBlock,
    );
    const indexErr = (err: unknown) => log.error({ err }, "could not index a block's addresses");
    indexing = indexing.catch(indexErr);
    events.on("block", (b) => {
      indexing = indexing.then(() => addressIndex.addBlock(b)).catch(indexErr);
    });
    closers.push(() => indexing);

    const daStore = daStoreFromFlags(o, o.dataDir);
    const sequencerAddress = config.sequencer.toLowerCase();
    const daReader = new DaReader(daStore ?? NO_DA_STORE, config.chainId, sequencerAddress, {
      logger: log.child({ module: "da-reader" }),
      onRead: (kind) => metrics.daReads.inc({ kind }),
    });
    const daSync =
      daStore === null ? null : new DaSync(DA_SYNC_DEFAULTS, { reader: daReader, metrics, logger: log });
    const net = await FullnodeNetwork.start(p2pOpts, {
      follower: replica.follower,
      signed,
      da: { reader: daReader, sync: daSync },
      metrics,
      logger: log,
    });
    network = net;
    closers.push(() => net.stop());

    const finality = new FinalityTracker({
      config,
      chain: () => replica.chain,
      logger: log,
      dataDir: o.dataDir,
      metrics: new FinalityMetrics(registry),
    });
    closers.push(() => finality.close());
    events.on("block", () => finality.advance());
    net.node.subscribe("attestation", attestationGossip(finality, log));
    await serveAttestations(net.node, finality);
    closers.push(syncAttestations(net.node, finality, log));

    const sequencer = new SequencerClient(o.sequencerRpc);
    const startingBlock = meta0.verifiedBlock;
    const blockHash = (n: bigint) => replica.chain.getSealedHash(n);
    const pastState = await statePruning(o.stateHistory, store, events, log);
    const backend: ChainBackend = {
      config,
      common,
      get chain() {
        return replica.chain;
      },
      get state() {
        return replica.state;
      },
      get history() {
        return replica.history;
      },
      preconfirmations: o.preconfirmations === "on",
      stateHistory: o.stateHistory,
      pastState: {
        floor: pastState.floor,
        at: (n) => {
          const through = replica.history.archivedBlock;
          const after = through === null ? undefined : replica.history.at(through);
          return n < pastState.floor() || after === undefined ? undefined : store.states.at(n, after);
        },
        changedSince: (n, into, maxKeys) => store.states.changedSince(n, into, maxKeys),
      },
      get trie() {
        return replica.trie;
      },
      calls: new CallRunner(common, blockHash),
      events,
      limits: {
        syncTimeoutMs: o.syncTimeoutMs,
        maxSyncTimeoutMs: 60_000,
        maxLogs: 10_000,
        maxBlockRange: 10_000,
        callGasCap: 50_000_000n,
      },
      clientVersion: CLIENT_VERSION,
      finalizedNumber: () => finality.finalized(),
      blockTemplate: (b) => executionBlock(b, common),
      ...forwardingHooks(sequencer, (a) => replica.state.account(a)?.nonce ?? 0n),
      syncing: () => {
        const w = replica.follower.wants();
        if (!w.behind) return false;
        return {
          startingBlock: `0x${startingBlock.toString(16)}`,
          currentBlock: `0x${replica.follower.verifiedBlock.toString(16)}`,
          highestBlock: `0x${replica.follower.highestSealedBlock.toString(16)}`,
        };
      },
      status: () => ({
        chainId: config.chainId,
        role: "fullnode",
        verifiedBlock: Number(replica.follower.verifiedBlock),
        appliedMiniBlock: Number(replica.follower.appliedMiniBlock),
        highestBlock: Number(replica.follower.highestBlock),
        peers: net.node.peers().length,
        healthy: node?.unhealthy === null,
        finalizedBlock: Number(finality.finalized()),
      }),
    };
    closers.push(retainHistory(o.historyRetention, () => replica.chain, events, log));
    const subs = subscriptionApi(backend);
    closers.push(() => subs.close());
    const realtime = realtimeApi(backend);
    closers.push(() => realtime.close());
    const health = () => {
      metrics.peers.set(net.node.peers().length);
      metrics.lagBlocks.set(Number(replica.follower.highestBlock - replica.follower.verifiedBlock));
      const problem = node?.unhealthy ?? (replica.follower.isHalted ? "halted" : null);
      return problem === null
        ? {
            ok: true,
            verifiedBlock: Number(replica.follower.verifiedBlock),
            appliedMiniBlock: Number(replica.follower.appliedMiniBlock),
            peers: net.node.peers().length,
          }
        : { ok: false, error: problem };
    };
    const nodeInfo = nodeInfoApi({
      role: "fullnode",
      clientVersion: CLIENT_VERSION,
      chainId: config.chainId,
      logger: log,
      peerId: () => net.node.peerId.toString(),
      peers: () => net.node.peers().length,
      health,
      status: () => backend.status(),
      lagBlocks: () => Number(replica.follower.highestBlock - replica.follower.verifiedBlock),
      events,
    });
    closers.push(() => nodeInfo.close());
    const rpc = createRpcServer(rpcServerOptionsFromFlags(o), {
      logger: log,
      methods: {
        ...ethApi(backend),
        ...nodeInfo.methods,
        ...subs.methods,
        ...realtime.methods,
        ...finalityApi(backend, finality),
        ...debugTraceApi(backend),
        ...accessListApi(backend),
        ...simulateApi(backend),
        ...otsApi(backend, addressIndex),
      },
      metrics: new RpcServerMetrics(registry),
      health,
      page: dashboardPage,
    });
    const addr = await rpc.listen();
    closers.push(() => rpc.close());
    const metricsServer: MetricsServer = await startMetricsServer(
      { host: o.metricsHost, port: o.metricsPort },
      { registry, health, logger: log },
    );
    closers.push(() => metricsServer.close());
    log.info(
      {
        rpc: `http://${addr.host}:${addr.port}`,
        ws: `ws://${addr.host}:${addr.port}`,
        metrics: `http://${o.metricsHost}:${metricsServer.port}/metrics`,
        chainId: config.chainId,
        sequencerRpc: o.sequencerRpc,
        da: daStore?.description ?? "none",
        p2p: net.node.multiaddrs(),
        verifiedBlock: Number(replica.follower.verifiedBlock),
      },
      "fullnode started",
    );
    node = new FullNode(log, config, rpc);
    node.closers.push(...closers);
    return node;
  }

  async close(): Promise<void> {
    for (const c of this.closers.reverse()) {
      try {
        await c();
      } catch (err) {
        this.logger.warn({ err }, "error while shutting down");
      }
    }
    this.closers.length = 0;
    this.logger.info("fullnode stopped");
  }
}

/**
 * The oldest block whose state the node serves, and `--state-history`'s pruning: every 64 blocks,
 * the change sets the window no longer needs are deleted (in batches, off the block's path).
 */
async function statePruning(
  keep: number,
  store: FullnodeStore,
  events: ChainEvents,
  log: Logger,
): Promise<{ floor(): bigint }> {
  const oldestSet = await store.states.oldestChangeSet();
  let floor = oldestSet !== undefined ? oldestSet - 1n : ((await store.meta())?.verifiedBlock ?? 0n);
  let running = false;
  if (keep > 0) {
    events.on("block", (b) => {
      const target = b.number - BigInt(keep) + 1n;
      if (running || target <= floor || b.number % 64n !== 0n) return;
      running = true;
      // Reads below the new floor are refused from now on, before anything is deleted.
      floor = target;
      void (async () => {
        let deleted = 0;
        for (;;) {
          const ops = await store.states.pruneOps(target + 1n);
          if (ops.length === 0) break;
          await store.apply(ops);
          deleted += ops.length;
        }
        log.debug({ below: Number(target), keys: deleted }, "pruned state history");
      })()
        .catch((err: unknown) => log.error({ err }, "could not prune state history"))
        .finally(() => {
          running = false;
        });
    });
  }
  return { floor: () => floor };
}

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
      if (next.done) throw new FullnodeStartupError(`store is missing mini-blocks of block ${header.number}`);
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
      if (b === undefined) throw new FullnodeStartupError(`store is missing block ${n}`);
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
      throw new FullnodeStartupError(
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
