import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { availableParallelism } from "node:os";
import { bytesToHex } from "@ethereumjs/util";
import {
  type ChainConfig,
  type Logger,
  MemoryState,
  type MetricsServer,
  type RpcServer,
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
  realtimeApi,
  subscriptionApi,
  FinalityMetrics,
  FinalityTracker,
  compressWitness,
  daStoreFromFlags,
} from "@staccato/common";
import { DaIndexLog } from "../da/daIndex.ts";
import { DaMetrics, DaPublisher } from "../da/daPublisher.ts";
import { debugApi } from "../rpc/debugApi.ts";
import { WitnessStore } from "../storage/witnessStore.ts";
import { buildBlockWitness } from "../sealing/witness.ts";
import { SequencerNetwork } from "../network/sequencerNetwork.ts";
import { Executor } from "@staccato/common";
import { sequencerRpcHooks } from "../rpc/sequencerBackend.ts";
import { BlockProducer } from "../sealing/blockProducer.ts";
import { LatestView } from "@staccato/common";
import { ChainStore } from "@staccato/common";
import { replayWal } from "../storage/recovery.ts";
import { encodeSnapshot, readLatestSnapshot, snapshotPoint, writeSnapshot } from "../storage/snapshot.ts";
import { WriteAheadLog, readWal } from "../storage/wal.ts";
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
    const chain = new ChainStore();
    const genesis = await buildGenesis(config, common);
    checkGenesis(o.dataDir, bytesToHex(genesis.block.hash!));
    chain.addBlock(genesis.block);
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
    if (snapshot !== null)
      log.info(
        { block: Number(snapshot.blockNumber), accounts: snapshot.diff.length },
        "loaded state snapshot",
      );
    const latestView = new LatestView(state);
    const events = new ChainEvents();

    let producer: BlockProducer | null = null;
    let network: SequencerNetwork | null = null;
    const blockHash = async (n: bigint) =>
      producer === null ? (chain.block(n)?.hash ?? undefined) : producer.blockHash(n);
    const executor = await Executor.create(common, state, blockHash, {
      engine: o.engine,
      // BLOCKHASH on the fast path: a sealed block's hash, undefined for none, null while a
      // block's seal is still in progress (that transaction then runs through runTx, which waits).
      syncBlockHash: (n) => {
        const b = chain.block(n);
        return b === undefined ? undefined : (b.hash ?? null);
      },
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
    const walPath = join(o.dataDir, "sequencer.wal");
    const started = performance.now();
    const read = readWal(walPath);
    if (read.droppedBytes > 0) {
      log.warn(
        { path: walPath, droppedBytes: read.droppedBytes },
        "dropped a torn record at the end of the write-ahead log",
      );
    }
    const witnesses = await WitnessStore.open(join(o.dataDir, "witnesses.log"), log);
    closers.push(() => witnesses.close());
    const replay = await replayWal(
      read.records,
      { common, chain, state, trie, latestView },
      { miniBlockNumber: 0n, lastMiniBlockHash: new Uint8Array(32) },
      base.blockNumber,
      (n) => !witnesses.has(n),
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
    // What was left in the pool at the last graceful stop comes back before the RPC opens.
    const journalPath = join(o.dataDir, "txpool.journal");
    restorePoolJournal(journalPath, pool, log);
    const wal = await WriteAheadLog.open(walPath, read.validBytes, o.walFsync);
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
      { miniBlockMs, blockMs, maxMiniBlockTxs: 2_000 },
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
        latestView,
        logger: log,
        metrics,
        events: {
          onMiniBlock: (block, miniBlock, txs) => {
            const ref = chain.miniBlockRef(miniBlock.number);
            if (network !== null && ref !== undefined) network.publishMiniBlock(ref.encoded);
            events.emit("miniBlock", { block, miniBlock, txs });
          },
          onBlock: (b) => {
            if (o.snapshotInterval > 0 && b.number % BigInt(o.snapshotInterval) === 0n) {
              const data = encodeSnapshot(snapshotPoint(chain, b), latestView.addresses(state), latestView);
              writeSnapshot(o.dataDir, b.number, data).then(
                (path) =>
                  log.info({ block: Number(b.number), bytes: data.length, path }, "wrote state snapshot"),
                (err: Error) => log.error({ err }, "could not write state snapshot"),
              );
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
      savePoolJournal(journalPath, pool, log, o.txpoolJournal);
      await da?.flush(5_000);
      await network?.stop();
    });

    const backend: ChainBackend = {
      config,
      common,
      chain,
      state,
      latestView,
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
    };
    const subs = subscriptionApi(backend);
    closers.push(() => subs.close());
    const realtime = realtimeApi(backend);
    closers.push(() => realtime.close());
    const health = () => {
      const err = p.error;
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
    const rpc = createRpcServer(rpcServerOptionsFromFlags(o), {
      logger: log,
      methods: {
        ...ethApi(backend),
        ...subs.methods,
        ...realtime.methods,
        ...finalityApi(backend, finality),
        ...debugApi(backend, witnesses),
      },
      metrics: { observe: (method, seconds) => metrics.rpcSeconds.observe({ method }, seconds) },
      health,
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
          latestView,
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
