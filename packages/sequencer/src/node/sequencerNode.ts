import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { createBlockHeaderFromRLP } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex } from "@ethereumjs/util";
import {
  BlockStatsLog,
  type ChainBackend,
  type ChainConfig,
  ChainEvents,
  type ChainStore,
  type DaStore,
  Executor,
  FinalityMetrics,
  FinalityTracker,
  type Logger,
  type MemoryState,
  type MetricsServer,
  type RpcServer,
  SenderRecoveryPool,
  StartupError,
  StateHistory,
  WorkerStateTrie,
  buildGenesis,
  compressWitness,
  createEthCommon,
  createLogger,
  createRegistry,
  daStoreFromFlags,
  decodeBlockSeal,
  p2pOptionsFromFlags,
  retainHistory,
  rpcServerOptionsFromFlags,
  startChainRpc,
  startOrUndo,
  closeAll,
  type Closer,
  startMetricsServer,
  secp256k1Backend,
} from "@staccato/common";
import { dashboardPage } from "@staccato/dashboard";
import { DaIndexLog } from "../da/daIndex.ts";
import { DaPublisher, type DaPublisherDeps } from "../da/daPublisher.ts";
import { SequencerNetwork } from "../network/sequencerNetwork.ts";
import { debugApi } from "../rpc/debugApi.ts";
import { CLIENT_VERSION, sequencerBackend } from "../rpc/sequencerBackend.ts";
import { txpoolApi } from "../rpc/txpoolApi.ts";
import { BlockProducer, MAX_MINI_BLOCK_TXS } from "../sealing/blockProducer.ts";
import { buildBlockWitness } from "../sealing/witness.ts";
import { HistoryWriter } from "../storage/historyWriter.ts";
import { type RecoveredWitness, replayWal } from "../storage/recovery.ts";
import { snapshotSchedule } from "../storage/snapshot.ts";
import { type WalRecord, WalRecordType, WriteAheadLog } from "../storage/wal.ts";
import { WitnessStore } from "../storage/witnessStore.ts";
import { restorePoolJournal, savePoolJournal } from "../txpool/poolJournal.ts";
import { TxPool, txPoolOptionsSchema } from "../txpool/txPool.ts";
import { sequencerHealth } from "./health.ts";
import { DaMetrics, SequencerMetrics } from "./metrics.ts";
import type { SequencerOptions } from "./options.ts";
import {
  type BaseState,
  checkGenesis,
  intervals,
  loadBaseState,
  loadChain,
  loadConfig,
  loadOrCreateKey,
  openHistoryStore,
  readWriteAheadLog,
} from "./startup.ts";

export { CLIENT_VERSION } from "../rpc/sequencerBackend.ts";

/** Wires the sequencer: state, pool, execution, sealing, log, RPC, metrics. `close()` undoes it. */
export class SequencerNode {
  private readonly closers: Closer[] = [];

  private constructor(
    readonly logger: Logger,
    readonly config: ChainConfig,
    readonly rpc: RpcServer,
    readonly metricsServer: MetricsServer,
    readonly backend: ChainBackend,
  ) {}

  get rpcUrl(): string {
    const a = this.rpc.address();
    return `http://${a.host}:${a.port}`;
  }

  static async start(o: SequencerOptions, logger?: Logger): Promise<SequencerNode> {
    const log = logger ?? createLogger({ name: "sequencer", level: o.logLevel });
    return startOrUndo((closers) => SequencerNode.wire(o, log, closers));
  }

  /** The start, step by step; what each step opens goes on `closers`, undone in reverse. */
  private static async wire(o: SequencerOptions, log: Logger, closers: Closer[]): Promise<SequencerNode> {
    mkdirSync(o.dataDir, { recursive: true });
    const key = loadOrCreateKey(o, log);
    const config = loadConfig(o, bytesToHex(key.address), log);
    const { miniBlockMs, blockMs } = intervals(o, config);
    const common = createEthCommon(config);
    const registry = createRegistry({ daemon: "sequencer" });
    const metrics = new SequencerMetrics(registry);
    const trie = new WorkerStateTrie();
    closers.push(() => trie.close());
    const senders = startSenderWorkers(o, config.chainId, closers);

    // What is on disk: the history store, the write-ahead log, the newest state snapshot.
    const genesis = await buildGenesis(config, common);
    checkGenesis(o.dataDir, bytesToHex(genesis.block.hash!));
    const store = await openHistoryStore(o, common, genesis.block, closers);
    const started = performance.now();
    const logRead = readWriteAheadLog(o, log);
    const chain = await loadChain(o, store, genesis.block, logRead.firstOpen);
    const base = await loadBaseState(o, genesis, trie, logRead.firstOpen, log);
    const { state } = base;
    const history = new StateHistory(state, base.blockNumber, o.stateHistory);
    const events = new ChainEvents();

    let producer: BlockProducer | null = null;
    let network: SequencerNetwork | null = null;
    const blockHash = async (n: bigint) =>
      producer === null ? chain.getSealedHash(n) : producer.blockHash(n);
    const executor = await createExecutor(o, common, state, chain, blockHash, metrics, log);
    const pool = createPool(o, common, state, chain, config.blockGasLimit, events);

    // Recover: replay the write-ahead log by applying diffs.
    const witnesses = await WitnessStore.open(store.db, join(o.dataDir, "witnesses.log"), log);
    closers.push(() => witnesses.close());
    const replay = await replayLog(logRead.read.records, base, started, {
      common,
      chain,
      state,
      trie,
      history,
      witnesses,
      log,
    });
    const historyWriter = new HistoryWriter(store.archive, chain, log);
    for (let n = (store.archivedThrough ?? 0n) + 1n; n <= chain.latest.number; n++) historyWriter.add(n);
    // What was left in the pool at the last graceful stop comes back before the RPC opens.
    const journalPath = join(o.dataDir, "txpool.journal");
    restorePoolJournal(journalPath, pool, log);
    const walSegmentBytes = o.walSegmentMb * 1024 * 1024;
    const wal = await WriteAheadLog.open(logRead.dir, logRead.read.validBytes, o.walFsync, walSegmentBytes);
    closers.push(() => wal.close());
    const finality = new FinalityTracker({
      config,
      chain: () => chain,
      logger: log,
      dataDir: o.dataDir,
      metrics: new FinalityMetrics(registry),
    });
    closers.push(() => finality.close());
    const daStore = daStoreFromFlags(o, o.dataDir);
    const da = startDaPublisher(daStore, o.dataDir, {
      chain,
      witnesses,
      chainId: config.chainId,
      signingKey: key.privateKey,
      logger: log,
      metrics: new DaMetrics(registry),
      onPublished: (p) => network?.publishDaPointer(p),
    });
    if (da !== null) closers.push(() => da.stop());

    // Sealing: every mini-block and block goes to gossip, subscribers and (blocks) to disk and DA.
    const blockStats = new BlockStatsLog();
    const snapshot = snapshotSchedule(o.snapshotInterval, {
      dataDir: o.dataDir,
      chain,
      history,
      wal,
      logger: log,
      witnessWritten: (n) => witnesses.written(n),
    });
    const p = new BlockProducer(
      { miniBlockMs, blockMs, maxMiniBlockTxs: MAX_MINI_BLOCK_TXS },
      {
        config,
        common,
        signingKey: key.privateKey,
        state,
        pool,
        chain,
        executor,
        trie,
        wal,
        witnesses,
        history,
        logger: log,
        metrics,
        events: {
          onMiniBlock: (block, miniBlock, txs) => {
            const ref = chain.miniBlockRef(miniBlock.number);
            if (network !== null && ref !== undefined) network.publishMiniBlock(ref.encoded);
            events.emit("miniBlock", { block, miniBlock, txs });
          },
          // Each sealed block goes to disk, a snapshot when due, gossip, DA and finality.
          onBlock: (b, timing) => {
            historyWriter.add(b.number);
            blockStats.record(b.number, {
              stateRootMs: timing.rootMs,
              sealMs: timing.sealMs,
              sealedAt: Date.now(),
            });
            snapshot(b);
            network?.publishBlock(b);
            da?.kick();
            finality.advance();
            metrics.observeHead(b.number, pool.size, wal.bytes);
            events.emit("block", b);
          },
        },
      },
      replay.cursor,
    );
    producer = p;
    p.resumeSeals(replay.unfinished, replay.headReads);
    recordLostWitnesses(replay.witnesses, chain, state, witnesses, log);
    // At shutdown, once the RPC is closed: the pool's ready transactions are sealed (up to
    // --stop-drain-ms) and the rest kept in the pool journal, the last blocks published to DA and
    // the pointer gossiped while the network is still up, so peers learn where DA ends.
    closers.push(async () => {
      await p.stop(o.stopDrainMs);
      await historyWriter.flush().catch(() => undefined);
      savePoolJournal(journalPath, pool, log, o.txpoolJournal);
      await da?.flush(5_000);
      await network?.stop();
    });

    // What the RPC reads.
    const backend = sequencerBackend(o, {
      config,
      common,
      chain,
      state,
      history,
      trie,
      pool,
      executor,
      senders,
      events,
      finality,
      blockStats,
      da,
      metrics,
      blockHash,
      peers: () => network?.peerCount() ?? 0,
    });
    // The block before the log's first segment is where a restart picks the chain up: kept.
    closers.push(
      retainHistory(
        o.historyRetention,
        () => chain,
        events,
        log,
        () => (wal.firstBlock ?? chain.latest.number) - 1n,
      ),
    );
    const health = sequencerHealth({ producer: p, historyWriter, chain, pool, da });
    const rpc = await startChainRpc(rpcServerOptionsFromFlags(o), backend, {
      role: "sequencer",
      clientVersion: CLIENT_VERSION,
      logger: log,
      registry,
      health,
      peerId: () => network?.peerId ?? null,
      peers: () => network?.peerCount() ?? 0,
      finality,
      // No address index on the sequencer: the search methods point at a full node.
      addressIndex: null,
      own: { ...debugApi(backend, witnesses), ...txpoolApi(pool) },
      page: dashboardPage,
      closers,
    });
    const metricsServer = await startMetricsServer(
      { host: o.metricsHost, port: o.metricsPort },
      { registry, health, logger: log },
    );
    closers.push(() => metricsServer.close());

    if (o.p2p) {
      network = await SequencerNetwork.start(
        { ...p2pOptionsFromFlags(o, o.dataDir), chainId: config.chainId },
        {
          chain,
          state,
          history,
          logger: log,
          witnesses,
          finality,
          serveHistory: o.serveHistory,
          daHead: () => da?.head ?? null,
        },
      );
    }

    await p.start();
    da?.kick();
    const addr = rpc.address();
    log.info(
      {
        rpc: `http://${addr.host}:${addr.port}`,
        ws: `ws://${addr.host}:${addr.port}`,
        metrics: `http://${o.metricsHost}:${metricsServer.port}/metrics`,
        chainId: config.chainId,
        sequencer: config.sequencer,
        miniBlockMs,
        blockMs,
        dataDir: o.dataDir,
        latestBlock: Number(chain.latest.number),
        p2p: network?.multiaddrs() ?? [],
        da: daStore?.description ?? "none",
        serveHistory: o.serveHistory,
        engine: executor.engine,
        // What recovers senders: the libsecp256k1 0.5.0 addon, or the slower secp256k1 package.
        secp256k1: secp256k1Backend,
        // Calls of a contract before the fast EVM compiles it (null: never).
        evmCompileAfter: o.evmCompileAfter ?? null,
      },
      "sequencer started",
    );
    const node = new SequencerNode(log, config, rpc, metricsServer, backend);
    node.closers.push(...closers);
    return node;
  }

  /** Stops accepting requests, finishes in-flight mini-blocks and seals, closes the log. */
  async close(): Promise<void> {
    await closeAll(this.closers, this.logger);
    this.logger.info("sequencer stopped");
  }
}

/** Worker threads that recover senders (ecrecover) off the execution thread; null for none. */
function startSenderWorkers(
  o: SequencerOptions,
  chainId: number,
  closers: Closer[],
): SenderRecoveryPool | null {
  // Recovery comes in bursts (a poll's requests, a batch) while the execution thread waits for
  // it, so two workers pay even on two cores: measured there, +11-25 % ETH and +3-14 % ERC-20
  // throughput against one, for ~30-80 MB more RSS.
  const n = o.senderWorkers ?? Math.max(2, availableParallelism() - 1);
  if (n === 0) return null;
  const senders = new SenderRecoveryPool(n, chainId);
  closers.push(() => senders.close());
  return senders;
}

async function createExecutor(
  o: SequencerOptions,
  common: Common,
  state: MemoryState,
  chain: ChainStore,
  blockHash: (n: bigint) => Promise<Uint8Array | undefined>,
  metrics: SequencerMetrics,
  log: Logger,
): Promise<Executor> {
  const executor = await Executor.create(common, state, blockHash, {
    engine: o.engine,
    // BLOCKHASH on the fast path: a sealed block's hash, undefined for none, null while a
    // block's seal is still in progress (that transaction then runs through runTx, which waits).
    syncBlockHash: (n) => (chain.block(n)?.hash === null ? null : chain.sealedHash(n)),
    onFallback: (reason) => metrics.fastFallbacks.inc({ reason }),
    compileAfter: o.evmCompileAfter,
  });
  if (o.engine === "fast" && executor.engine !== "fast")
    log.warn(
      { hardfork: common.hardfork() },
      "the fast EVM does not implement this chain's rules: using runTx",
    );
  return executor;
}

function createPool(
  o: SequencerOptions,
  common: Common,
  state: MemoryState,
  chain: ChainStore,
  blockGasLimit: bigint,
  events: ChainEvents,
): TxPool {
  return new TxPool(
    txPoolOptionsSchema.parse({
      maxPoolSize: o.txpoolMax,
      nonceGapLimit: o.nonceGapLimit,
      priorityFeeThreshold: o.priorityFee,
      prioritySenders: o.prioritySenders,
    }),
    {
      common,
      state: {
        nonce: (a) => state.account(a)?.nonce ?? 0n,
        balance: (a) => state.account(a)?.balance ?? 0n,
        baseFee: () => chain.head.baseFee,
        blockGasLimit: () => blockGasLimit,
        isIncluded: (h) => chain.hasTx(h),
      },
      events: { onAccepted: (p) => events.emit("pendingTx", p) },
    },
  );
}

/** Blocks the log holds sealed, past the base state, whose witness a crash lost (recorded again). */
async function sealedWithoutWitness(
  records: readonly WalRecord[],
  after: bigint,
  common: Common,
  witnesses: WitnessStore,
): Promise<Set<bigint>> {
  const lost = new Set<bigint>();
  for (const r of records) {
    if (r.type !== WalRecordType.blockSeal) continue;
    const n = createBlockHeaderFromRLP(decodeBlockSeal(r.payload).header, {
      common,
      skipConsensusFormatValidation: true,
    }).number;
    if (n > after && !(await witnesses.has(n))) lost.add(n);
  }
  return lost;
}

/** DA (DESIGN §7): every sealed block goes out in order, off the sealing path; null without DA. */
function startDaPublisher(
  store: DaStore | null,
  dataDir: string,
  d: Omit<DaPublisherDeps, "store" | "index">,
): DaPublisher | null {
  if (store === null) return null;
  const index = DaIndexLog.open(join(dataDir, "da-index.log"), (droppedBytes) =>
    d.logger.warn({ droppedBytes }, "dropped a torn record at the end of the DA index"),
  );
  return new DaPublisher({ ...d, store, index });
}

/** Replays the write-ahead log onto the base state by applying its diffs. */
async function replayLog(
  records: WalRecord[],
  base: BaseState,
  started: number,
  d: {
    common: Common;
    chain: ChainStore;
    state: MemoryState;
    trie: WorkerStateTrie;
    history: StateHistory;
    witnesses: WitnessStore;
    log: Logger;
  },
): ReturnType<typeof replayWal> {
  const { chain } = d;
  const witnessLost = await sealedWithoutWitness(records, base.blockNumber, d.common, d.witnesses);
  const last = chain.lastMiniBlockThrough(chain.head.number);
  const replay = await replayWal(
    records,
    d,
    { miniBlockNumber: last.number, lastMiniBlockHash: last.hash },
    base.blockNumber,
    (n) => witnessLost.has(n),
  );
  if (base.snapshotBlock !== null && chain.latest.number < base.snapshotBlock) {
    throw new StartupError(
      `state snapshot of block ${base.snapshotBlock} is ahead of the write-ahead log (block ${chain.latest.number})`,
    );
  }
  if (records.length > 0) {
    d.log.info(
      {
        records: records.length,
        txs: replay.txs,
        latest: Number(chain.latest.number),
        ms: Math.round(performance.now() - started),
      },
      "replayed write-ahead log",
    );
  }
  return replay;
}

/** Witnesses of sealed blocks that a crash lost, rebuilt by the replay, are stored again. */
function recordLostWitnesses(
  lost: readonly RecoveredWitness[],
  chain: ChainStore,
  state: MemoryState,
  witnesses: WitnessStore,
  log: Logger,
): void {
  for (const w of lost) {
    const { encoded, hash } = buildBlockWitness(chain, state, w.block, w.reads, w.nodes);
    witnesses.add(w.block.number, hash, compressWitness(encoded));
  }
  if (lost.length > 0)
    log.info({ blocks: lost.map((w) => Number(w.block.number)) }, "recorded witnesses lost in the crash");
}
