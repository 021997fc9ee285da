import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Common } from "@ethereumjs/common";
import { bytesToHex } from "@ethereumjs/util";
import {
  type ChainBlock,
  type ChainConfig,
  ChainEvents,
  DEFAULT_STATE_WINDOW,
  DaReader,
  FinalityMetrics,
  FinalityTracker,
  type HealthStatus,
  type Logger,
  type MetricsServer,
  type RpcServer,
  type StateDiff,
  attestationGossip,
  buildGenesis,
  createEthCommon,
  createLogger,
  createRegistry,
  daStoreFromFlags,
  genesisArchived,
  loadChainConfig,
  p2pOptionsFromFlags,
  retainHistory,
  rpcServerOptionsFromFlags,
  SignedObjects,
  startChainRpc,
  startOrUndo,
  closeAll,
  type Closer,
  startMetricsServer,
  syncAttestations,
} from "@staccato/common";
import { dashboardPage } from "@staccato/dashboard";
import { FullnodeNetwork } from "../network/fullnodeNetwork.ts";
import { fullnodeReqServices } from "../network/reqServices.ts";
import { SequencerClient } from "../rpc/forwarding.ts";
import { CLIENT_VERSION, fullnodeBackend } from "../rpc/fullnodeBackend.ts";
import { FullnodeAddressIndex } from "../store/addressIndex.ts";
import { FullnodeStore } from "../store/fullnodeStore.ts";
import { DA_SYNC_DEFAULTS, DaSync, NO_DA_STORE } from "../sync/daSync.ts";
import { joinFromSnapshot } from "../sync/snapshotJoin.ts";
import { FullnodeMetrics } from "./metrics.ts";
import type { FullnodeOptions } from "./options.ts";
import { LiveReplica } from "./replica.ts";

export { CLIENT_VERSION } from "../rpc/fullnodeBackend.ts";

/** Wires the full node: store, state, follower, network, RPC, metrics. `close()` undoes it. */
export class FullNode {
  private readonly closers: Closer[] = [];

  private constructor(
    readonly logger: Logger,
    readonly config: ChainConfig,
    readonly rpc: RpcServer,
  ) {}

  static async start(o: FullnodeOptions, logger?: Logger): Promise<FullNode> {
    const log = logger ?? createLogger({ name: "fullnode", level: o.logLevel });
    return startOrUndo((closers) => FullNode.wire(o, log, closers));
  }

  /** The start, step by step; what each step opens goes on `closers`, undone in reverse. */
  private static async wire(o: FullnodeOptions, log: Logger, closers: Closer[]): Promise<FullNode> {
    mkdirSync(o.dataDir, { recursive: true });
    const config = loadChainConfig(o.chain);
    const common = createEthCommon(config);
    const genesis = await buildGenesis(config, common);
    const registry = createRegistry({ daemon: "fullnode" });
    const metrics = new FullnodeMetrics(registry);
    const signed = new SignedObjects(config.chainId, config.sequencer, common);
    const p2pOpts = { ...p2pOptionsFromFlags(o, o.dataDir), chainId: config.chainId };

    // The store, joined from a snapshot or genesis the first time, and the replica built from it.
    const store = await FullnodeStore.open(join(o.dataDir, "db"), common);
    closers.push(() => store.close());
    await initStore(o, { store, genesis, common, signed, p2pOpts, log });
    const events = new ChainEvents();
    const live = await LiveReplica.load({
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
    });
    closers.push(() => live.close());
    const addressIndex = startAddressIndex(store, common, live, events, log, closers);

    // Finality from attestations; peers and DA: gossip, catch-up, DA fill, what the node serves.
    const finality = new FinalityTracker({
      config,
      chain: () => live.current.chain,
      logger: log,
      dataDir: o.dataDir,
      metrics: new FinalityMetrics(registry),
    });
    closers.push(() => finality.close());
    events.on("block", () => finality.advance());
    const da = daFor(o, config, metrics, log);
    const net = await FullnodeNetwork.start(p2pOpts, {
      follower: live.current.follower,
      signed,
      da: { reader: da.reader, sync: da.sync },
      metrics,
      logger: log,
      services: fullnodeReqServices(finality, () => da.reader.head),
    });
    closers.push(() => net.stop());
    live.onResynced = (r) => {
      net.setFollower(r.follower);
      net.kickSync();
    };
    net.node.subscribe("attestation", attestationGossip(finality, log));
    closers.push(syncAttestations(net.node, finality, log));

    // The RPC.
    const pastState = await statePruning(o.stateHistory, store, events, log);
    const peers = () => net.node.peers().length;
    const backend = fullnodeBackend(o, {
      config,
      common,
      live,
      store,
      events,
      finality,
      sequencer: new SequencerClient(o.sequencerRpc),
      stateFloor: pastState.floor,
      peers,
    });
    closers.push(retainHistory(o.historyRetention, () => live.current.chain, events, log));
    const health = fullnodeHealth(live, metrics, peers);
    const rpc = await startChainRpc(rpcServerOptionsFromFlags(o), backend, {
      role: "fullnode",
      clientVersion: CLIENT_VERSION,
      logger: log,
      registry,
      health,
      peerId: () => net.node.peerId.toString(),
      peers,
      lagBlocks: () => lagBlocks(live),
      finality,
      addressIndex,
      page: dashboardPage,
      closers,
    });
    const metricsServer: MetricsServer = await startMetricsServer(
      { host: o.metricsHost, port: o.metricsPort },
      { registry, health, logger: log },
    );
    closers.push(() => metricsServer.close());
    const addr = rpc.address();
    log.info(
      {
        rpc: `http://${addr.host}:${addr.port}`,
        ws: `ws://${addr.host}:${addr.port}`,
        metrics: `http://${o.metricsHost}:${metricsServer.port}/metrics`,
        chainId: config.chainId,
        sequencerRpc: o.sequencerRpc,
        da: da.description,
        p2p: net.node.multiaddrs(),
        verifiedBlock: Number(live.current.follower.verifiedBlock),
      },
      "fullnode started",
    );
    const node = new FullNode(log, config, rpc);
    node.closers.push(...closers);
    return node;
  }

  async close(): Promise<void> {
    await closeAll(this.closers, this.logger);
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
 * A new store starts from a peer's verified state snapshot (`--sync snapshot`) or from genesis.
 * A node that reads DA can always rebuild the whole history from genesis: when no peer serves a
 * snapshot (a sequencer with --no-serve-history, only full nodes), it does that instead of failing.
 */
async function initStore(
  o: FullnodeOptions,
  d: {
    store: FullnodeStore;
    genesis: { block: ChainBlock; diff: StateDiff };
    common: Common;
    signed: SignedObjects;
    p2pOpts: Parameters<typeof joinFromSnapshot>[0];
    log: Logger;
  },
): Promise<void> {
  const { store, genesis, log } = d;
  if ((await store.meta()) !== null) return;
  const join =
    o.sync === "snapshot"
      ? await joinFromSnapshot(d.p2pOpts, {
          signed: d.signed,
          store,
          common: d.common,
          logger: log,
          fallback: o.da !== "none",
        })
      : null;
  if (join?.joined === false)
    log.warn(
      { reason: join.reason, da: o.da },
      "--sync snapshot: no snapshot to join from; joining from genesis and catching up from DA",
    );
  if (join?.joined === true) return;
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

/** Otterscan's address index: verified blocks, in order, off the verification path. */
function startAddressIndex(
  store: FullnodeStore,
  common: Common,
  live: LiveReplica,
  events: ChainEvents,
  log: Logger,
  closers: Closer[],
): FullnodeAddressIndex {
  const index = new FullnodeAddressIndex(store.level, common, log);
  const { meta } = live.current;
  const failed = (err: unknown) => log.error({ err }, "could not index a block's addresses");
  let indexing = index
    .catchUp((n) => live.current.chain.getBlock(n), meta.verifiedBlock, meta.baseBlock)
    .catch(failed);
  events.on("block", (b) => {
    indexing = indexing.then(() => index.addBlock(b)).catch(failed);
  });
  closers.push(() => indexing);
  return index;
}

/** The DA reader (with no store, it reads nothing) and, when the node reads DA, its filler. */
function daFor(o: FullnodeOptions, config: ChainConfig, metrics: FullnodeMetrics, log: Logger) {
  const store = daStoreFromFlags(o, o.dataDir);
  const reader = new DaReader(store ?? NO_DA_STORE, config.chainId, config.sequencer.toLowerCase(), {
    logger: log.child({ module: "da-reader" }),
    onRead: (kind) => metrics.daReads.inc({ kind }),
  });
  const sync = store === null ? null : new DaSync(DA_SYNC_DEFAULTS, { reader, metrics, logger: log });
  return { reader, sync, description: store?.description ?? "none" };
}

function lagBlocks(live: LiveReplica): number {
  const f = live.current.follower;
  return Number(f.highestBlock - f.verifiedBlock);
}

/** `/health`: unhealthy while a mismatch is being re-synced or the follower is halted. */
function fullnodeHealth(
  live: LiveReplica,
  metrics: FullnodeMetrics,
  peers: () => number,
): () => HealthStatus {
  return () => {
    metrics.peers.set(peers());
    metrics.lagBlocks.set(lagBlocks(live));
    const problem = live.problem;
    if (problem !== null) return { ok: false, error: problem };
    const f = live.current.follower;
    return {
      ok: true,
      verifiedBlock: Number(f.verifiedBlock),
      appliedMiniBlock: Number(f.appliedMiniBlock),
      peers: peers(),
    };
  };
}
