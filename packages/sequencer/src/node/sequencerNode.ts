import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { availableParallelism } from "node:os";
import { createBlockHeaderFromRLP } from "@ethereumjs/block";
import { bytesToHex } from "@ethereumjs/util";
import {
  BlockStatsLog,
  ChainArchive,
  decodeBlockSeal,
  retainHistory,
  genesisArchived,
  type ChainConfig,
  type Logger,
  MemoryState,
  type MetricsServer,
  type RpcServer,
  RpcServerMetrics,
  WorkerStateTrie,
  SenderRecoveryPool,
  buildGenesis,
  chainConfigToJson,
  createEthCommon,
  createLogger,
  createRegistry,
  createRpcServer,
  rpcServerOptionsFromFlags,
  devChainConfig,
  loadChainConfig,
  p2pOptionsFromFlags,
  randomPrivateKey,
  readSigningKeyFile,
  startMetricsServer,
  CallRunner,
  type ChainBackend,
  ethApi,
  finalityApi,
  nodeInfoApi,
  realtimeApi,
  subscriptionApi,
  FinalityMetrics,
  FinalityTracker,
  compressWitness,
  daStoreFromFlags,
  debugTraceApi,
  otsApi,
  accessListApi,
  simulateApi,
} from "@staccato/common";
import { dashboardPage } from "@staccato/dashboard";
import { ClassicLevel } from "classic-level";
import { DaIndexLog } from "../da/daIndex.ts";
import { DaMetrics, DaPublisher } from "../da/daPublisher.ts";
import { debugApi } from "../rpc/debugApi.ts";
import { HistoryWriter } from "../storage/historyWriter.ts";
import { txpoolApi } from "../rpc/txpoolApi.ts";
import { WitnessStore } from "../storage/witnessStore.ts";
import { buildBlockWitness } from "../sealing/witness.ts";
import { SequencerNetwork } from "../network/sequencerNetwork.ts";
import { Executor } from "@staccato/common";
import { sequencerRpcHooks } from "../rpc/sequencerBackend.ts";
import { BlockProducer, MAX_MINI_BLOCK_TXS } from "../sealing/blockProducer.ts";
import { StateHistory } from "@staccato/common";
import { ChainStore } from "@staccato/common";
import { replayWal } from "../storage/recovery.ts";
import { encodeSnapshot, readLatestSnapshot, snapshotPoint, writeSnapshot } from "../storage/snapshot.ts";
import {
  WalCorruptError,
  WalRecordType,
  WriteAheadLog,
  migrateSingleFileWal,
  readWalDir,
} from "../storage/wal.ts";
import { decodeBlockOpen } from "../storage/walCodec.ts";
import { restorePoolJournal, savePoolJournal } from "../txpool/poolJournal.ts";
import { TxPool, txPoolOptionsSchema } from "../txpool/txPool.ts";
import { ChainEvents } from "@staccato/common";
import { SequencerMetrics } from "./metrics.ts";
import type { SequencerOptions } from "./options.ts";

export const CLIENT_VERSION = "staccato-sequencer/0.1.0";

export class StartupError extends Error {}

/** Wires the sequencer: state, pool, execution, sealing, log, RPC, metrics. `close()` undoes it. */
export class SequencerNode {
  private readonly closers: (() => Promise<void> | void)[] = [];

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
    const closers: (() => Promise<void> | void)[] = [];
    try {
      return await SequencerNode.wire(o, log, closers);
    } catch (err) {
      for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
      throw err;
    }
  }

  private static async wire(
    o: SequencerOptions,
    log: Logger,
    closers: (() => Promise<void> | void)[],
  ): Promise<SequencerNode> {
    mkdirSync(o.dataDir, { recursive: true });
    const key = loadOrCreateKey(o, log);
    const config = loadConfig(o, bytesToHex(key.address), log);
    const miniBlockMs = o.miniBlockMs ?? config.miniBlockMs;
    const blockMs = o.blockMs ?? config.blockMs;
    if (blockMs < miniBlockMs) throw new StartupError("--block-ms must be at least --mini-block-ms");
    const common = createEthCommon(config);
    const registry = createRegistry({ daemon: "sequencer" });
    const metrics = new SequencerMetrics(registry);

    const state = new MemoryState();
    const trie = new WorkerStateTrie();
    closers.push(() => trie.close());
    const senderWorkers = o.senderWorkers ?? Math.max(1, availableParallelism() - 1);
    const senders = senderWorkers > 0 ? new SenderRecoveryPool(senderWorkers, config.chainId) : null;
    if (senders !== null) closers.push(() => senders.close());
    // Sealed history on disk: blocks older than --block-cache leave memory once written there.
    const historyDb = new ClassicLevel<Uint8Array, Uint8Array>(join(o.dataDir, "history"), {
      keyEncoding: "view",
      valueEncoding: "view",
    });
    await historyDb.open();
    closers.push(() => historyDb.close());
    const archive = new ChainArchive(historyDb, common);
    const archivedThrough = await archive.lastBlock();
    const genesis = await buildGenesis(config, common);
    checkGenesis(o.dataDir, bytesToHex(genesis.block.hash!));
    if (archivedThrough === undefined)
      await historyDb.batch(archive.blockOps(genesisArchived(genesis.block)));

    // The write-ahead log, in segments; a log from before segments becomes the first one.
    const walDir = join(o.dataDir, "wal");
    if (migrateSingleFileWal(join(o.dataDir, "sequencer.wal"), walDir))
      log.info({ dir: walDir }, "moved the write-ahead log into segments");
    const started = performance.now();
    let read: ReturnType<typeof readWalDir>;
    try {
      read = readWalDir(walDir);
    } catch (err) {
      if (err instanceof WalCorruptError) throw new StartupError(err.message);
      throw err;
    }
    if (read.droppedBytes > 0) {
      log.warn(
        { path: read.segments.at(-1)?.path, droppedBytes: read.droppedBytes },
        "dropped a torn record at the end of the write-ahead log",
      );
    }
    // Segments before the first one kept were deleted: their blocks are in the history store, and
    // the chain picks up after the block before it.
    const first = read.records[0];
    const firstOpen = first?.type === WalRecordType.blockOpen ? decodeBlockOpen(first.payload).number : 1n;
    const chain =
      firstOpen > 1n
        ? new ChainStore(0n, {
            archive,
            retain: o.blockCache,
            retainTxs: o.blockCacheTxs,
            first: firstOpen - 1n,
            before: await archive.lastMiniBlockBefore(firstOpen - 1n),
          })
        : new ChainStore(0n, { archive, retain: o.blockCache, retainTxs: o.blockCacheTxs });
    // History deleted past --history-retention stays deleted: `earliest` is the oldest block kept.
    const oldestKept = await archive.firstBlock();
    if (oldestKept !== undefined) chain.prunedBelow(oldestKept);
    if (firstOpen > 1n) {
      const prev = await archive.block(firstOpen - 1n);
      if (prev === undefined)
        throw new StartupError(
          `the write-ahead log starts at block ${firstOpen}, but block ${firstOpen - 1n} is not in the history store (${join(o.dataDir, "history")})`,
        );
      chain.addBlock(prev);
      // BLOCKHASH, witnesses and attestations reach back further than the log.
      await chain.loadSealedRefs();
    } else chain.addBlock(genesis.block);
    // Blocks the write-ahead log replays that are on disk already leave memory as they are sealed.
    chain.archived(archivedThrough ?? 0n);
    // Start from the newest intact snapshot, else from genesis; either way the trie must agree.
    const snapshot = readLatestSnapshot(o.dataDir, (file, err) =>
      log.warn({ file, err: err.message }, "skipping a corrupt state snapshot"),
    );
    const base = snapshot ?? {
      blockNumber: 0n,
      stateRoot: genesis.block.header!.stateRoot,
      diff: genesis.diff,
    };
    state.applyDiff(base.diff);
    trie.add(base.diff);
    const baseRoot = (await trie.commit()).root;
    if (bytesToHex(baseRoot) !== bytesToHex(base.stateRoot)) {
      throw new StartupError(`state snapshot of block ${base.blockNumber} does not hash to its state root`);
    }
    if (base.blockNumber < firstOpen - 1n)
      throw new StartupError(
        `the write-ahead log starts at block ${firstOpen}, but the newest state snapshot is of block ${base.blockNumber}: the state between cannot be rebuilt`,
      );
    if (snapshot !== null)
      log.info(
        { block: Number(snapshot.blockNumber), accounts: snapshot.diff.length },
        "loaded state snapshot",
      );
    const history = new StateHistory(state, base.blockNumber, o.stateHistory);
    const events = new ChainEvents();

    let producer: BlockProducer | null = null;
    let network: SequencerNetwork | null = null;
    const blockHash = async (n: bigint) =>
      producer === null ? chain.getSealedHash(n) : producer.blockHash(n);
    const executor = await Executor.create(common, state, blockHash, {
      engine: o.engine,
      // BLOCKHASH on the fast path: a sealed block's hash, undefined for none, null while a
      // block's seal is still in progress (that transaction then runs through runTx, which waits).
      syncBlockHash: (n) => (chain.block(n)?.hash === null ? null : chain.sealedHash(n)),
      onFallback: (reason) => metrics.fastFallbacks.inc({ reason }),
    });
    if (o.engine === "fast" && executor.engine !== "fast")
      log.warn(
        { hardfork: common.hardfork() },
        "the fast EVM does not implement this chain's rules: using runTx",
      );
    const pool = new TxPool(
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
          blockGasLimit: () => config.blockGasLimit,
          isIncluded: (h) => chain.hasTx(h),
        },
        events: { onAccepted: (p) => events.emit("pendingTx", p) },
      },
    );

    // Recover: replay the write-ahead log by applying diffs.
    const witnesses = await WitnessStore.open(historyDb, join(o.dataDir, "witnesses.log"), log);
    closers.push(() => witnesses.close());
    // Sealed blocks in the log whose witness a crash lost (they are recorded again below).
    const witnessLost = new Set<bigint>();
    for (const r of read.records) {
      if (r.type !== WalRecordType.blockSeal) continue;
      const n = createBlockHeaderFromRLP(decodeBlockSeal(r.payload).header, {
        common,
        skipConsensusFormatValidation: true,
      }).number;
      if (n > base.blockNumber && !(await witnesses.has(n))) witnessLost.add(n);
    }
    const replay = await replayWal(
      read.records,
      { common, chain, state, trie, history },
      (() => {
        const last = chain.lastMiniBlockThrough(chain.head.number);
        return { miniBlockNumber: last.number, lastMiniBlockHash: last.hash };
      })(),
      base.blockNumber,
      (n) => witnessLost.has(n),
    );
    if (snapshot !== null && chain.latest.number < snapshot.blockNumber) {
      throw new StartupError(
        `state snapshot of block ${snapshot.blockNumber} is ahead of the write-ahead log (block ${chain.latest.number})`,
      );
    }
    if (read.records.length > 0) {
      log.info(
        {
          records: read.records.length,
          txs: replay.txs,
          latest: Number(chain.latest.number),
          ms: Math.round(performance.now() - started),
        },
        "replayed write-ahead log",
      );
    }
    const historyWriter = new HistoryWriter(archive, chain, log);
    for (let n = (archivedThrough ?? 0n) + 1n; n <= chain.latest.number; n++) historyWriter.add(n);
    // What was left in the pool at the last graceful stop comes back before the RPC opens.
    const journalPath = join(o.dataDir, "txpool.journal");
    restorePoolJournal(journalPath, pool, log);
    const wal = await WriteAheadLog.open(walDir, read.validBytes, o.walFsync, o.walSegmentMb * 1024 * 1024);
    closers.push(() => wal.close());
    const finality = new FinalityTracker({
      config,
      chain: () => chain,
      logger: log,
      dataDir: o.dataDir,
      metrics: new FinalityMetrics(registry),
    });
    closers.push(() => finality.close());

    // DA (DESIGN §7): every sealed block goes out in order, off the sealing path.
    const daStore = daStoreFromFlags(o, o.dataDir);
    let da: DaPublisher | null = null;
    const blockStats = new BlockStatsLog();
    if (daStore !== null) {
      const index = DaIndexLog.open(join(o.dataDir, "da-index.log"), (droppedBytes) =>
        log.warn({ droppedBytes }, "dropped a torn record at the end of the DA index"),
      );
      da = new DaPublisher({
        store: daStore,
        index,
        chain,
        witnesses,
        chainId: config.chainId,
        signingKey: key.privateKey,
        logger: log,
        metrics: new DaMetrics(registry),
        onPublished: (p) => network?.publishDaPointer(p),
      });
      const publisher = da;
      closers.push(() => publisher.stop());
    }

    producer = new BlockProducer(
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
          onBlock: (b, timing) => {
            historyWriter.add(b.number);
            blockStats.record(b.number, {
              stateRootMs: timing.rootMs,
              sealMs: timing.sealMs,
              sealedAt: Date.now(),
            });
            if (o.snapshotInterval > 0 && b.number % BigInt(o.snapshotInterval) === 0n) {
              const data = encodeSnapshot(snapshotPoint(chain, b), history.addresses(), history.latest);
              writeSnapshot(o.dataDir, b.number, data)
                .then(async (path) => {
                  log.info({ block: Number(b.number), bytes: data.length, path }, "wrote state snapshot");
                  // Log segments whose blocks the snapshot and the history store both cover go.
                  const through = chain.archivedBlock < b.number ? chain.archivedBlock : b.number;
                  const deleted = await wal.prune(through);
                  if (deleted > 0)
                    log.info(
                      { segments: deleted, through: Number(through), walBytes: wal.bytes },
                      "deleted write-ahead log segments covered by a snapshot and the history store",
                    );
                })
                .catch((err: Error) => log.error({ err }, "could not write state snapshot"));
            }
            network?.publishBlock(b);
            da?.kick();
            finality.advance();
            metrics.headBlock.set(Number(b.number));
            metrics.poolSize.set(pool.size);
            metrics.walBytes.set(wal.bytes);
            events.emit("block", b);
          },
        },
      },
      replay.cursor,
    );
    producer.resumeSeals(replay.unfinished, replay.headReads);
    for (const w of replay.witnesses) {
      const { encoded, hash } = buildBlockWitness(chain, state, w.block, w.reads, w.nodes);
      witnesses.add(w.block.number, hash, compressWitness(encoded));
    }
    if (replay.witnesses.length > 0)
      log.info(
        { blocks: replay.witnesses.map((w) => Number(w.block.number)) },
        "recorded witnesses lost in the crash",
      );
    const p = producer;
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

    const backend: ChainBackend = {
      config,
      common,
      chain,
      state,
      history,
      preconfirmations: o.preconfirmations === "on",
      stateHistory: o.stateHistory,
      trie,
      ...sequencerRpcHooks(
        pool,
        executor,
        () => ({
          chainId: config.chainId,
          role: "sequencer",
          latestBlock: Number(chain.latest.number),
          pendingBlock: Number(chain.head.number),
          latestMiniBlock: Number(chain.lastMiniBlockThrough(chain.head.number).number),
          poolSize: pool.size,
          readyTxs: pool.readyCount(),
          sequencer: config.sequencer,
          peers: network?.peerCount() ?? 0,
          finalizedBlock: Number(finality.finalized()),
        }),
        senders,
        (reason) => metrics.txsRejected.inc({ reason }),
      ),
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
      // Without provers every sealed block is final; with provers, finality waits for attestations.
      finalizedNumber: () => finality.finalized(),
      blockStats: (n) => blockStats.get(n),
      ...(da !== null ? { daPublished: () => BigInt(da!.status().publishedBlock) } : {}),
    };
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
    const subs = subscriptionApi(backend);
    closers.push(() => subs.close());
    const realtime = realtimeApi(backend);
    closers.push(() => realtime.close());
    const health = () => {
      const err = p.error ?? historyWriter.error;
      return err === null
        ? {
            ok: true,
            latestBlock: Number(chain.latest.number),
            pendingBlock: Number(chain.head.number),
            poolSize: pool.size,
            ...(da !== null ? { da: da.status() } : {}),
          }
        : { ok: false, error: err.message };
    };
    const nodeInfo = nodeInfoApi({
      role: "sequencer",
      clientVersion: CLIENT_VERSION,
      chainId: config.chainId,
      logger: log,
      peerId: () => network?.peerId ?? null,
      peers: () => network?.peerCount() ?? 0,
      health,
      status: () => backend.status(),
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
        ...debugApi(backend, witnesses),
        ...debugTraceApi(backend),
        ...accessListApi(backend),
        ...simulateApi(backend),
        ...txpoolApi(pool),
        // No address index on the sequencer: the search methods point at a full node.
        ...otsApi(backend, null),
      },
      metrics: new RpcServerMetrics(registry),
      health,
      page: dashboardPage,
    });
    const addr = await rpc.listen();
    closers.push(() => rpc.close());
    const metricsServer = await startMetricsServer(
      { host: o.metricsHost, port: o.metricsPort },
      { registry, health, logger: log },
    );
    closers.push(() => metricsServer.close());

    if (o.p2p) {
      const net = await SequencerNetwork.start(
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
      network = net;
    }

    await producer.start();
    da?.kick();
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
      },
      "sequencer started",
    );
    const node = new SequencerNode(log, config, rpc, metricsServer, backend);
    node.closers.push(...closers);
    return node;
  }

  /** Stops accepting requests, finishes in-flight mini-blocks and seals, closes the log. */
  async close(): Promise<void> {
    for (const c of this.closers.reverse()) {
      try {
        await c();
      } catch (err) {
        this.logger.warn({ err }, "error while shutting down");
      }
    }
    this.closers.length = 0;
    this.logger.info("sequencer stopped");
  }
}

function loadOrCreateKey(o: SequencerOptions, log: Logger) {
  const path = o.keyFile ?? join(o.dataDir, "sequencer.key");
  if (!existsSync(path)) {
    if (!o.dev)
      throw new StartupError(
        `sequencer key file ${path} does not exist (pass --key-file, or --dev to generate one)`,
      );
    const key = randomPrivateKey();
    writeFileSync(path, `${bytesToHex(key)}\n`, { mode: 0o600 });
    chmodSync(path, 0o600);
    log.info({ path }, "generated a sequencer key");
  }
  try {
    return readSigningKeyFile(path);
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
}

function loadConfig(o: SequencerOptions, sequencerAddress: string, log: Logger): ChainConfig {
  let config: ChainConfig;
  if (o.chain !== undefined) config = loadChainConfig(o.chain);
  else if (o.dev) {
    const path = join(o.dataDir, "chain.json");
    if (existsSync(path)) config = loadChainConfig(path);
    else {
      config = devChainConfig({ sequencer: sequencerAddress });
      writeFileSync(path, `${chainConfigToJson(config)}\n`);
      log.info({ path, chainId: config.chainId }, "generated a dev chain config");
    }
  } else throw new StartupError("no chain config: pass --chain <file>, or --dev for a generated one");
  if (config.sequencer !== sequencerAddress.toLowerCase()) {
    throw new StartupError(
      `the key controls ${sequencerAddress}, but the chain config names ${config.sequencer} as sequencer`,
    );
  }
  return config;
}

/** A data dir belongs to one chain: refuse to replay a log written for another genesis. */
function checkGenesis(dataDir: string, genesisHash: string): void {
  const path = join(dataDir, "genesis.hash");
  if (!existsSync(path)) {
    writeFileSync(path, `${genesisHash}\n`);
    return;
  }
  const stored = readFileSync(path, "utf8").trim();
  if (stored !== genesisHash) {
    throw new StartupError(
      `data dir ${dataDir} holds chain ${stored}, but the chain config gives genesis ${genesisHash}`,
    );
  }
}
