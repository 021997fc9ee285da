import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { bytesToHex } from "@ethereumjs/util";
import {
  type ChainConfig,
  type DaPointer,
  DaReader,
  type Logger,
  type MetricsServer,
  createEthCommon,
  createLogger,
  createRegistry,
  daStoreFromFlags,
  encodeAttestation,
  loadChainConfig,
  p2pOptionsFromFlags,
  signAttestation,
  readSigningKeyFile,
  PROVER_KEY_FILE,
  startMetricsServer,
  StartupError,
  closeAll,
  type Closer,
  secp256k1Backend,
} from "@staccato/common";
import { DaBundleSource } from "../da/daBundleSource.ts";
import { BundleFetcher, type Fetched } from "../fetch/bundleFetcher.ts";
import { ProverNetwork, type SealedBlockNotice } from "../network/proverNetwork.ts";
import type { BlockVerdict } from "../validation/verifyBlock.ts";
import { VerifierPool } from "../validation/workerPool.ts";
import { ProverMetrics } from "./metrics.ts";
import type { ProverOptions } from "./options.ts";
import { Progress } from "./progress.ts";
import { proverRpcServer } from "./proverRpc.ts";

interface Job {
  number: bigint;
  /** From gossip; null for a block picked up after a restart or a gap (any signed block at that height). */
  hash: Uint8Array | null;
  attempts: number;
  notBefore: number;
}

/** Backoff between attempts at one block: 200 ms doubling to 10 s. */
const backoffMs = (attempts: number) => Math.min(10_000, 200 * 2 ** Math.min(attempts, 6));
/** Hashes of attested blocks remembered for dedup. */
const REMEMBER = 10_000;
/**
 * Blocks heard of by gossip queued at most; past it, newer notices are left to the backfill (they
 * lose only the hash check against the notice). Bounds the queue when the chain outruns the prover.
 */
const MAX_NOTICES_QUEUED = 1_024;

/**
 * The stateless prover (DESIGN §5): learns of sealed blocks from gossip (block seals, and the
 * sequencer's DA pointers when `--da` is set), fetches each block's bundle (signed header,
 * transactions, witness) from any peer, or from DA when no peer serves it (DESIGN §7),
 * re-executes it on a worker from the witness alone, and publishes a signed attestation. Blocks
 * are fetched and verified many at a time, in whatever order they come: none waits for its
 * parent's verdict.
 */
export class ProverNode {
  private readonly queue: Job[] = [];
  private readonly waiting = new Set<string>();
  /** Block numbers queued or being worked on: for telling out-of-order completions. */
  private readonly open = new Map<bigint, number>();
  private readonly attested = new Set<string>();
  private active = 0;
  private maxConcurrent = 0;
  private highestAttested = 0n;
  private highestSeen: bigint;
  /**
   * The backfill: the next block number it looks at. Blocks nobody announced (the prover was down,
   * joined late, or missed a notice) are queued from here up to `highestSeen`, at most
   * `backfillCap` at a time, so a prover joining a long chain holds a few jobs, not one per block.
   */
  private backfillNext: bigint;
  /** Backfill jobs (hash null) queued or running. */
  private backfilling = 0;
  private readonly backfillCap: number;
  private queuedPeak = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly closers: Closer[] = [];
  private network: ProverNetwork | null = null;
  private fetcher: BundleFetcher | null = null;

  private constructor(
    readonly logger: Logger,
    readonly config: ChainConfig,
    readonly address: string,
    private readonly key: Uint8Array,
    private readonly pool: VerifierPool,
    private readonly progress: Progress,
    private readonly metrics: ProverMetrics,
    private readonly maxActive: number,
  ) {
    this.highestSeen = progress.attestedThrough;
    this.backfillNext = progress.attestedThrough + 1n;
    this.backfillCap = maxActive * 2;
  }

  metricsServer: MetricsServer | null = null;
  /** Where `--rpc-port` serves `staccato_nodeInfo`, or null without it. */
  rpcAddress: { host: string; port: number } | null = null;

  static async start(o: ProverOptions, logger?: Logger): Promise<ProverNode> {
    const log = logger ?? createLogger({ name: "prover", level: o.logLevel });
    mkdirSync(o.dataDir, { recursive: true });
    let config: ChainConfig;
    try {
      config = loadChainConfig(o.chain);
    } catch (err) {
      throw new StartupError((err as Error).message);
    }
    const key = loadKey(o.keyFile ?? join(o.dataDir, PROVER_KEY_FILE));
    const address = bytesToHex(key.address);
    if (!config.provers.includes(address))
      throw new StartupError(
        `this prover's address ${address} is not in the chain config's provers (${config.provers.join(", ") || "none"})`,
      );
    let da: DaBundleSource | null;
    try {
      const store = daStoreFromFlags(o, o.dataDir);
      da =
        store === null
          ? null
          : new DaBundleSource(
              new DaReader(store, config.chainId, config.sequencer, {
                logger: log.child({ module: "da-reader" }),
              }),
            );
    } catch (err) {
      throw new StartupError((err as Error).message);
    }
    const registry = createRegistry({ daemon: "prover" });
    const metrics = new ProverMetrics(registry);
    const pool = new VerifierPool(o.workers, config, o.engine, (w, held) =>
      metrics.workerHeap.set({ worker: String(w) }, held.heapUsedBytes),
    );
    const progress = new Progress(o.dataDir);
    const node = new ProverNode(log, config, address, key.privateKey, pool, progress, metrics, o.workers * 2);
    node.closers.push(() => pool.close());
    node.closers.push(() => progress.flush());
    try {
      const common = createEthCommon(config);
      const net = await ProverNetwork.start(
        { ...p2pOptionsFromFlags(o, o.dataDir), chainId: config.chainId },
        {
          sequencer: config.sequencer,
          common,
          logger: log,
          metrics,
          onBlock: (b) => node.onBlock(b),
          da: da?.reader ?? null,
          onDaPointer: (p) => node.onDaPointer(p),
        },
      );
      node.network = net;
      node.fetcher = new BundleFetcher(net, da, { logger: log, metrics });
      node.closers.push(() => net.stop());
      const health = () => ({
        ok: true,
        peers: net.peerCount(),
        attestedThrough: Number(progress.attestedThrough),
        highestSeen: Number(node.highestSeen),
        queued: node.queue.length,
        verifying: pool.busy,
        // What the prover holds, for operators and tests: every figure is bounded by the work
        // queue or a fixed cap, none by the chain's length.
        held: node.held(),
      });
      node.metricsServer = await startMetricsServer(
        { host: o.metricsHost, port: o.metricsPort },
        { registry, logger: log, health },
      );
      const ms = node.metricsServer;
      node.closers.push(() => ms.close());
      if (o.rpcPort !== undefined) {
        const rpc = proverRpcServer(o, {
          logger: log,
          config,
          address,
          health,
          peerId: () => net.node.peerId.toString(),
          peers: () => net.peerCount(),
          registry,
        });
        node.rpcAddress = await rpc.listen();
        node.closers.push(() => rpc.close());
      }
      log.info(
        {
          prover: address,
          chainId: config.chainId,
          workers: o.workers,
          engine: o.engine,
          secp256k1: secp256k1Backend,
          attestedThrough: Number(progress.attestedThrough),
          metrics: `http://${o.metricsHost}:${ms.port}/metrics`,
          rpc: node.rpcAddress === null ? null : `http://${node.rpcAddress.host}:${node.rpcAddress.port}`,
          p2p: net.multiaddrs(),
          da: da?.description ?? "none",
          dataDir: o.dataDir,
        },
        "prover started",
      );
    } catch (err) {
      await node.close();
      throw err;
    }
    return node;
  }

  /** Sizes of everything the prover keeps (see `/health`). */
  private held() {
    return {
      queuedPeak: this.queuedPeak,
      backfilling: this.backfilling,
      backfillNext: Number(this.backfillNext),
      openBlocks: this.open.size,
      waiting: this.waiting.size,
      attestedRemembered: this.attested.size,
      progressAbove: this.progress.pending,
      network: this.network?.held() ?? null,
      workers: this.pool.held(),
    };
  }

  /**
   * A sealed block from gossip: queue it (the backfill takes every block before it not attested
   * yet, a few at a time).
   */
  private onBlock(b: SealedBlockNotice): void {
    if (this.stopped) return;
    const id = bytesToHex(b.hash);
    if (this.attested.has(id) || this.waiting.has(id)) return;
    if (b.number > this.highestSeen) this.highestSeen = b.number;
    // By hash even at an attested height: a second block the sequencer signed there is verified too.
    if (this.queue.length < MAX_NOTICES_QUEUED) this.enqueue(b.number, b.hash);
    else this.pump();
  }

  /** Queues blocks from `backfillNext` up to `highestSeen` that no job holds and none attested. */
  private backfill(): void {
    while (this.backfilling < this.backfillCap && this.backfillNext <= this.highestSeen) {
      const n = this.backfillNext++;
      if (this.progress.has(n) || this.open.has(n)) continue;
      this.backfilling++;
      this.enqueue(n, null, false);
    }
  }

  /** A DA pointer the sequencer signed names a sealed block as surely as the block's gossip does. */
  private onDaPointer(p: DaPointer): void {
    this.metrics.daHead.set(Number(p.number));
    this.onBlock({ number: p.number, hash: p.blockHash });
  }

  private enqueue(number: bigint, hash: Uint8Array | null, pump = true): void {
    const id = hash === null ? `#${number}` : bytesToHex(hash);
    if (this.waiting.has(id)) return;
    this.waiting.add(id);
    this.open.set(number, (this.open.get(number) ?? 0) + 1);
    this.queue.push({ number, hash, attempts: 0, notBefore: 0 });
    if (this.queue.length > this.queuedPeak) this.queuedPeak = this.queue.length;
    if (pump) this.pump();
  }

  private pump(): void {
    if (this.stopped) return;
    this.backfill();
    this.metrics.queueDepth.set(this.queue.length);
    const now = performance.now();
    let nextAt = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.queue.length && this.active < this.maxActive; ) {
      const job = this.queue[i]!;
      if (job.notBefore > now) {
        nextAt = Math.min(nextAt, job.notBefore);
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.active++;
      void this.run(job).finally(() => {
        this.active--;
        this.pump();
      });
    }
    if (nextAt !== Number.POSITIVE_INFINITY && this.timer === null) {
      this.timer = setTimeout(
        () => {
          this.timer = null;
          this.pump();
        },
        Math.max(1, nextAt - now),
      );
    }
    this.metrics.queueDepth.set(this.queue.length);
  }

  private retry(job: Job, why: string, details: Record<string, unknown>): void {
    job.attempts++;
    job.notBefore = performance.now() + backoffMs(job.attempts);
    const level = job.attempts % 10 === 3 ? "warn" : "debug";
    this.logger[level]({ block: Number(job.number), attempts: job.attempts, ...details }, why);
    this.queue.push(job);
  }

  private async run(job: Job): Promise<void> {
    const got = await this.fetcher!.fetch(job.number, job.hash);
    if (this.stopped) return;
    if (!("bundle" in got)) {
      this.retry(job, got.why, got.details);
      return;
    }
    this.metrics.bundlesFetched.inc({ source: got.source });
    const concurrent = this.pool.busy + 1;
    if (concurrent > this.maxConcurrent) {
      this.maxConcurrent = concurrent;
      this.metrics.maxConcurrent.set(concurrent);
    }
    this.metrics.inFlight.inc();
    let r: Awaited<ReturnType<VerifierPool["verify"]>>;
    try {
      r = await this.pool.verify(got.bundle, job.hash);
    } catch (err) {
      if (this.stopped) return;
      this.retry(job, "verification failed; retrying", { err: (err as Error).message });
      return;
    } finally {
      this.metrics.inFlight.dec();
    }
    if (this.stopped) return;
    if (!r.ok) {
      this.metrics.fetchFailures.inc({ reason: r.bad ? "bad-bundle" : "error" });
      this.retry(job, r.bad ? "rejected a bad bundle; retrying" : "verification error; retrying", {
        source: got.source,
        from: got.from,
        err: r.error,
      });
      return;
    }
    const out = r.outcome;
    if (out.kind === "incomplete") {
      this.metrics.verified.inc({ verdict: "incomplete", source: got.source });
      this.logger.warn(
        {
          block: Number(job.number),
          hash: bytesToHex(out.blockHash),
          missing: out.missing,
          source: got.source,
          from: got.from,
        },
        "incomplete witness: not attesting; retrying",
      );
      this.retry(job, "incomplete witness", { missing: out.missing });
      return;
    }
    this.attest(job, out, got.source, r.ms, r.worker, concurrent);
  }

  private attest(
    job: Job,
    v: BlockVerdict,
    source: Fetched["source"],
    ms: number,
    worker: number,
    concurrent: number,
  ): void {
    const id = bytesToHex(v.blockHash);
    this.waiting.delete(job.hash === null ? `#${job.number}` : id);
    if (job.hash === null) this.backfilling--;
    const left = (this.open.get(job.number) ?? 1) - 1;
    if (left === 0) this.open.delete(job.number);
    else this.open.set(job.number, left);
    // A block picked up as a gap (`#n`) and by its own notice is verified by two jobs; the second
    // one must not attest again: the same signed bytes would be a duplicate gossip message.
    if (this.attested.has(id)) {
      this.logger.debug({ block: Number(v.blockNumber), hash: id }, "block already attested");
      return;
    }
    const att = signAttestation(
      {
        blockNumber: v.blockNumber,
        blockHash: v.blockHash,
        preStateRoot: v.preStateRoot,
        postStateRoot: v.postStateRoot,
        witnessHash: v.witnessHash,
        verdict: v.kind,
        reason: v.reason,
      },
      this.config.chainId,
      this.key,
    );
    this.network!.publishAttestation(v.blockNumber, encodeAttestation(att));
    this.attested.add(id);
    if (this.attested.size > REMEMBER) this.attested.delete(this.attested.values().next().value!);
    let outOfOrder = false;
    for (const n of this.open.keys())
      if (n < v.blockNumber) {
        outOfOrder = true;
        break;
      }
    if (outOfOrder) this.metrics.outOfOrder.inc();
    this.progress.add(v.blockNumber);
    this.metrics.verified.inc({ verdict: v.kind, source });
    this.metrics.verifySeconds.observe(ms / 1000);
    this.metrics.txs.inc(v.txs);
    this.metrics.witnessBytes.inc(v.witnessBytes);
    if (v.blockNumber > this.highestAttested) {
      this.highestAttested = v.blockNumber;
      this.metrics.attestedBlock.set(Number(v.blockNumber));
    }
    const fields = {
      block: Number(v.blockNumber),
      hash: id,
      verdict: v.kind,
      txs: v.txs,
      ms: Math.round(ms),
      worker,
      concurrent,
      outOfOrder,
      source,
    };
    if (v.kind === "invalid") this.logger.error({ ...fields, reason: v.reason }, "attested block INVALID");
    else this.logger.info(fields, "attested block");
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await closeAll(this.closers, this.logger);
    this.logger.info("prover stopped");
  }
}

function loadKey(path: string) {
  if (!existsSync(path))
    throw new StartupError(
      `prover key file ${path} does not exist (pass --key-file <file> with a hex private key)`,
    );
  try {
    return readSigningKeyFile(path);
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
}
