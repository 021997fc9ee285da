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
  LatestView,
  type Logger,
  MemoryState,
  type MetricsServer,
  type RpcServer,
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
} from "@staccato/common";
import { Follower, type VerificationError } from "../chain/follower.ts";
import { replicaEntries } from "../chain/replicaTx.ts";
import { FullnodeNetwork, SignedObjects } from "../network/fullnodeNetwork.ts";
import { SequencerClient, forwardingHooks } from "../rpc/forwarding.ts";
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

    const store = await FullnodeStore.open(join(o.dataDir, "db"));
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
        await store.resetToSnapshot(genesis.diff, {
          verifiedBlock: 0n,
          lastMiniBlockNumber: 0n,
          lastMiniBlockHash: new Uint8Array(32),
          baseBlock: 0n,
        });
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
    const blockHash = async (n: bigint) => replica.chain.block(n)?.hash ?? undefined;
    const backend: ChainBackend = {
      config,
      common,
      get chain() {
        return replica.chain;
      },
      get state() {
        return replica.state;
      },
      get latestView() {
        return replica.latestView;
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
    const rpc = createRpcServer(rpcServerOptionsFromFlags(o), {
      logger: log,
      methods: {
        ...ethApi(backend),
        ...subs.methods,
        ...realtime.methods,
        ...finalityApi(backend, finality),
      },
      health,
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

function sealedChainBlock(
  header: ReturnType<typeof createBlockHeaderFromRLP>,
  hash: Uint8Array,
  signature: Uint8Array,
): ChainBlock {
  return {
    number: header.number,
    timestamp: header.timestamp,
    baseFee: header.baseFeePerGas ?? 0n,
    gasLimit: header.gasLimit,
    coinbase: header.coinbase.bytes,
    prevRandao: header.mixHash,
    txs: [],
    miniBlocks: [],
    gasUsed: header.gasUsed,
    txCount: 0,
    miniBlockCount: 0,
    logCount: 0,
    header,
    hash,
    signature,
  };
}

/** Adds a stored mini-block of an already verified block to the in-memory chain (no state change). */
function attachMiniBlock(chain: ChainStore, b: ChainBlock, encoded: Uint8Array, common: Common): void {
  const mb = decodeSignedMiniBlock(encoded);
  const { entries, logIndex } = replicaEntries(mb, b.number, common);
  b.txCount += entries.length;
  b.miniBlockCount++;
  b.logCount = logIndex;
  chain.addMiniBlock(b, { number: mb.number, hash: mb.hash, encoded }, entries);
}

export interface ReplicaContext {
  config: ChainConfig;
  common: Common;
  genesis: ChainBlock;
  store: FullnodeStore;
  events: ChainEvents;
  metrics: FullnodeMetrics;
  logger: Logger;
  onMismatch(err: VerificationError): void;
}

/** The node's chain and state, rebuilt from its store (at start, and again after a re-sync). */
export interface Replica {
  state: MemoryState;
  trie: WorkerStateTrie;
  chain: ChainStore;
  latestView: LatestView;
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

    const chain = new ChainStore(meta.baseBlock);
    const latestView = new LatestView(state);
    const miniBlocks = store.miniBlocks(0n)[Symbol.asyncIterator]();
    let expectRoot = ctx.genesis.header!.stateRoot;
    if (meta.baseBlock === 0n) chain.addBlock({ ...ctx.genesis, txs: [], miniBlocks: [] });
    for await (const sealBytes of store.blockSeals()) {
      const seal = decodeBlockSeal(sealBytes);
      const header = createBlockHeaderFromRLP(seal.header, { common, skipConsensusFormatValidation: true });
      const b = sealedChainBlock(header, seal.hash, seal.signature);
      chain.addBlock(b);
      if (header.number > meta.baseBlock) {
        for (let i = 0; i < seal.miniBlockHashes.length; i++) {
          const next = await miniBlocks.next();
          if (next.done)
            throw new FullnodeStartupError(`store is missing mini-blocks of block ${header.number}`);
          attachMiniBlock(chain, b, next.value, common);
        }
      }
      chain.markSealed(b);
      expectRoot = header.stateRoot;
    }
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
        latestView,
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
    for (let n = await miniBlocks.next(); !n.done; n = await miniBlocks.next()) {
      follower.offerMiniBlock(decodeSignedMiniBlock(n.value), false, n.value);
    }
    log.info(
      {
        verifiedBlock: Number(meta.verifiedBlock),
        appliedMiniBlock: Number(follower.appliedMiniBlock),
        baseBlock: Number(meta.baseBlock),
      },
      "loaded store",
    );
    return { state, trie, chain, latestView, follower, meta };
  } catch (err) {
    await trie.close();
    throw err;
  }
}
