import type { Block } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex } from "@ethereumjs/util";
import {
  type BlockReads,
  type ChainConfig,
  type CommitResult,
  compressWitness,
  mergeReads,
  sealMiniBlockBytes,
  newBlockReads,
  toWitnessReads,
  type Logger,
  type SignedMiniBlock,
  SigningDomain,
  type StateTrieHandle,
  buildHeader,
  blockSealBytes,
  encodeConsensusReceipt,
  orBlooms,
  signPayload,
  nextBlockEnv,
  openChainBlock,
} from "@staccato/common";
import type { MemoryState } from "@staccato/common";
import { z } from "zod";
import type { Executor } from "@staccato/common";
import type { WitnessStore } from "../storage/witnessStore.ts";
import { buildBlockWitness } from "./witness.ts";
import type { SequencerMetrics } from "../node/metrics.ts";
import type { StateHistory } from "@staccato/common";
import { type ChainBlock, type ChainStore, type TxEntry, ZERO_BLOOM } from "@staccato/common";
import { encodeBlockOpen, encodeLoggedMiniBlock } from "../storage/walCodec.ts";
import { WalRecordType, type WriteAheadLog } from "../storage/wal.ts";
import type { TxPool } from "../txpool/txPool.ts";

/** Most transactions one mini-block takes, so a backlog cannot starve the event loop. */
export const MAX_MINI_BLOCK_TXS = 2_000;

export const producerOptionsSchema = z.object({
  miniBlockMs: z.number().int().min(1),
  blockMs: z.number().int().min(1),
  maxMiniBlockTxs: z.number().int().min(1).default(MAX_MINI_BLOCK_TXS),
});
export type ProducerOptions = z.infer<typeof producerOptionsSchema>;

export interface ProducerEvents {
  onMiniBlock(block: ChainBlock, mb: SignedMiniBlock, txs: TxEntry[]): void;
  /** A sealed block, with how long its state root and the rest of its seal took. */
  onBlock(block: ChainBlock, timing: SealTiming): void;
}

export interface SealTiming {
  rootMs: number;
  sealMs: number;
}

export interface ProducerDeps {
  config: ChainConfig;
  common: Common;
  signingKey: Uint8Array;
  state: MemoryState;
  pool: TxPool;
  chain: ChainStore;
  executor: Executor;
  trie: StateTrieHandle;
  wal: WriteAheadLog;
  /** Where each sealed block's witness goes (null: no witnesses recorded). */
  witnesses: WitnessStore | null;
  history: StateHistory;
  logger: Logger;
  metrics: SequencerMetrics | null;
  events: ProducerEvents;
}

/** Where the producer continues from (after genesis or a restart). */
export interface ProducerCursor {
  miniBlockNumber: bigint;
  lastMiniBlockHash: Uint8Array;
}

/**
 * Seals mini-blocks every `miniBlockMs` (when transactions are waiting) and blocks every
 * `blockMs` (DESIGN §1–2). Execution never waits for a block's state root: closing a block asks
 * the state trie for its root and the seal completes in the background while the next block's
 * mini-blocks run. A mini-block's receipts are published only once it is in the write-ahead log.
 */
export class BlockProducer {
  private miniBlockNumber: bigint;
  private lastMiniBlockHash: Uint8Array;
  private template: Block;
  /** Chain of seals in progress; each waits for the previous. */
  private sealing: Promise<void> = Promise.resolve();
  /** Mini-blocks written to the log but not yet published; a block seals only after all of them. */
  private publishing: Promise<void> = Promise.resolve();
  private readonly sealWaiters = new Map<bigint, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private nextBlockAt = 0;
  private stopped = false;
  private fatal: Error | null = null;
  private running: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  /** What the open block's sealed mini-blocks read: its witness keys. */
  private blockReads: BlockReads = newBlockReads();

  constructor(
    private readonly opts: ProducerOptions,
    private readonly deps: ProducerDeps,
    cursor: ProducerCursor,
  ) {
    this.miniBlockNumber = cursor.miniBlockNumber;
    this.lastMiniBlockHash = cursor.lastMiniBlockHash;
    this.template = deps.executor.blockTemplate(deps.chain.head);
    this.log = deps.logger.child({ module: "producer" });
  }

  /** Fails if the producer hit an unrecoverable error (the log could not be written). */
  get error(): Error | null {
    return this.fatal;
  }

  /** Starts the tick loop; opens a new block first if the head is sealed. */
  async start(): Promise<void> {
    if (this.deps.chain.head.hash !== null) await this.openBlock();
    this.nextBlockAt = performance.now() + this.opts.blockMs;
    this.schedule(0);
  }

  /**
   * Stops ticking and waits for in-flight mini-blocks and seals to finish. With `drainMs`, first
   * seals the pool's ready transactions into mini-blocks (closing blocks on schedule, or when one
   * is full) for up to that long, so what was accepted is not lost at a graceful stop.
   */
  async stop(drainMs = 0): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.running.catch(() => undefined);
    if (drainMs > 0 && this.fatal === null) await this.drain(drainMs);
    await this.publishing.catch(() => undefined);
    await this.sealing.catch(() => undefined);
  }

  private async drain(ms: number): Promise<void> {
    const { pool } = this.deps;
    const ready = pool.readyCount();
    if (ready === 0) return;
    const until = performance.now() + ms;
    try {
      while (pool.readyCount() > 0 && performance.now() < until && this.fatal === null) {
        const before = pool.readyCount();
        await this.step(performance.now());
        // Nothing fitted: the open block is full, so the next step closes it.
        if (pool.readyCount() === before) this.nextBlockAt = performance.now();
      }
    } catch (err) {
      this.die(err as Error);
    }
    const left = pool.readyCount();
    if (left > 0)
      this.log.warn(
        { readyAtStop: ready, stillReady: left, drainMs: ms },
        "stopping: the drain time ran out before the pool's ready transactions were sealed",
      );
    else this.log.info({ readyAtStop: ready }, "stopping: sealed the pool's ready transactions");
  }

  /**
   * Resolves once block `number` is sealed (BLOCKHASH during the seal window waits on it). A
   * call at an older block reaches 256 blocks before that one: past the recent headers, the
   * history store answers.
   */
  async blockHash(number: bigint): Promise<Uint8Array | undefined> {
    const { chain } = this.deps;
    const b = chain.block(number);
    if (b !== undefined && b.hash === null) await this.sealWaiters.get(number);
    return chain.getSealedHash(number);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().catch((err: unknown) => this.die(err as Error));
    }, delay);
  }

  private async tick(): Promise<void> {
    const started = performance.now();
    await this.step(started);
    const now = performance.now();
    const untilMini = this.opts.miniBlockMs - (now - started);
    this.schedule(Math.max(0, Math.min(untilMini, this.nextBlockAt - now)));
  }

  /** Closes the open block when its time has come, then seals a mini-block if any are ready. */
  private async step(now: number): Promise<void> {
    if (now >= this.nextBlockAt) {
      await this.closeBlock();
      // Catch up without a burst of empty blocks if the process stalled.
      this.nextBlockAt = Math.max(this.nextBlockAt + this.opts.blockMs, now + this.opts.blockMs / 2);
    }
    if (this.deps.pool.readyCount() > 0) await this.sealMiniBlock();
  }

  private async sealMiniBlock(): Promise<void> {
    const { pool, executor, state, chain } = this.deps;
    const b = chain.head;
    const started = performance.now();
    const budgetMs = this.opts.miniBlockMs * 0.8;
    const entries: TxEntry[] = [];
    const firstTxIndex = b.txCount;
    const firstLogIndex = b.logCount;
    let logIndex = firstLogIndex;
    while (entries.length < this.opts.maxMiniBlockTxs) {
      const ptx = pool.take();
      if (ptx === undefined) break;
      const out = await executor.execute(ptx.tx, this.template, b.gasUsed);
      if (!out.ok) {
        if (out.reason === "block gas limit reached") {
          pool.putBack(ptx);
          break;
        }
        this.log.debug({ tx: ptx.hashHex, reason: out.reason }, "dropped transaction at execution");
        this.deps.metrics?.txsDropped.inc();
        pool.dropFailed(ptx);
        continue;
      }
      b.gasUsed = out.receipt.cumulativeGasUsed;
      entries.push({
        hashHex: ptx.hashHex,
        raw: ptx.raw,
        sender: ptx.tx.sender,
        type: ptx.tx.type,
        blockNumber: b.number,
        index: firstTxIndex + entries.length,
        miniBlockNumber: this.miniBlockNumber + 1n,
        receipt: out.receipt,
        firstLogIndex: logIndex,
        bloom: out.receipt.logs.length === 0 ? ZERO_BLOOM : out.bloom,
      });
      logIndex += out.receipt.logs.length;
      if (performance.now() - started > budgetMs) break;
    }
    if (entries.length === 0) return;
    const reads = executor.takeReads();
    mergeReads(this.blockReads, reads);
    b.logCount = logIndex;
    b.txCount += entries.length;

    const { diff, pre } = state.takeDiff();
    this.deps.history.add(b.number, pre);
    this.deps.trie.add(diff);
    const mb: Omit<SignedMiniBlock, "hash" | "signature"> = {
      number: ++this.miniBlockNumber,
      blockNumber: b.number,
      index: b.miniBlockCount++,
      parentHash: this.lastMiniBlockHash,
      timestampUs: nowMicros(),
      blockTimestamp: b.timestamp,
      firstTxIndex,
      firstLogIndex,
      txs: entries.map((e) => e.raw),
      receipts: entries.map((e) => e.receipt),
      diff,
    };
    const { hash, signature, encoded } = sealMiniBlockBytes(mb, (h) =>
      signPayload(SigningDomain.miniBlock, this.deps.config.chainId, h, this.deps.signingKey),
    );
    const signed: SignedMiniBlock = { ...mb, hash, signature };
    this.lastMiniBlockHash = hash;
    const execMs = performance.now() - started;
    const written = this.deps.wal.append(
      WalRecordType.miniBlock,
      encodeLoggedMiniBlock(
        encoded,
        entries.map((e) => e.sender),
        reads,
      ),
    );
    this.publishing = this.publishing.then(async () => {
      await written;
      chain.addMiniBlock(b, { number: signed.number, hash, encoded }, entries);
      this.deps.metrics?.miniBlockSealed(entries.length, execMs, (performance.now() - started) / 1000);
      this.deps.events.onMiniBlock(b, signed, entries);
    });
    this.publishing.catch((err: unknown) => this.die(err as Error));
  }

  /**
   * Closes the head block: its root (and witness: the keys its transactions read) is requested
   * now, its seal finishes in the background.
   */
  private async closeBlock(): Promise<void> {
    const reads = this.blockReads;
    this.blockReads = newBlockReads();
    const witnessing = this.deps.witnesses !== null;
    this.enqueueSeal(
      this.deps.chain.head,
      this.deps.trie.commit(witnessing ? toWitnessReads(reads) : undefined),
      witnessing ? reads : null,
    );
    await this.openBlock();
  }

  /**
   * Seals blocks closed before a restart whose seal never reached the log, with the read sets
   * their logged mini-blocks carried; `headReads` are those of the open block's logged mini-blocks.
   */
  resumeSeals(
    unfinished: { block: ChainBlock; root: Promise<CommitResult>; reads: BlockReads | null }[],
    headReads: BlockReads | null,
  ): void {
    for (const u of unfinished) {
      if (u.reads === null)
        this.log.warn({ block: Number(u.block.number) }, "block resealed after a restart has no witness");
      this.enqueueSeal(u.block, u.root, u.reads);
    }
    if (headReads !== null) mergeReads(this.blockReads, headReads);
  }

  private enqueueSeal(b: ChainBlock, rootRequested: Promise<CommitResult>, reads: BlockReads | null): void {
    const published = this.publishing;
    const previous = this.sealing;
    const seal = (async () => {
      await previous;
      await published;
      const { root, ms, witness } = await rootRequested;
      const timing = await this.finishSeal(b, root, ms);
      // The witness is stored (its compression under way) before anyone hears of the block, so
      // whatever serves or publishes the block finds its witness.
      if (reads !== null && witness !== undefined) this.storeWitness(b, reads, witness);
      this.deps.events.onBlock(b, timing);
    })();
    this.sealing = seal.catch((err: unknown) => this.die(err as Error));
    this.sealWaiters.set(b.number, this.sealing);
  }

  private async finishSeal(b: ChainBlock, stateRoot: Uint8Array, rootMs: number): Promise<SealTiming> {
    const started = performance.now();
    const { common, chain, config } = this.deps;
    const parent = chain.block(b.number - 1n)!;
    const logsBloom = new Uint8Array(256);
    for (const t of b.txs) orBlooms(logsBloom, t.bloom);
    const [transactionsRoot, receiptsRoot] = await this.deps.trie.orderedRoots([
      b.txs.map((t) => t.raw),
      b.txs.map((t) => encodeConsensusReceipt(t.receipt, t.type, t.bloom)),
    ]);
    const header = buildHeader(
      {
        parentHash: parent.hash!,
        coinbase: b.coinbase,
        stateRoot,
        transactionsRoot: transactionsRoot!,
        receiptsRoot: receiptsRoot!,
        logsBloom,
        number: b.number,
        gasLimit: b.gasLimit,
        gasUsed: b.gasUsed,
        timestamp: b.timestamp,
        prevRandao: b.prevRandao,
        baseFee: b.baseFee,
      },
      common,
    );
    const hash = header.hash();
    const signature = signPayload(SigningDomain.block, config.chainId, hash, this.deps.signingKey);
    await this.deps.wal.append(
      WalRecordType.blockSeal,
      blockSealBytes({ header, hash, signature, miniBlocks: b.miniBlocks }),
    );
    b.header = header;
    b.hash = hash;
    b.signature = signature;
    chain.markSealed(b);
    this.deps.history.sealed(b.number);
    this.sealWaiters.delete(b.number);
    this.deps.pool.prune();
    const sealMs = performance.now() - started;
    this.deps.metrics?.blockSealed(b.txs.length, rootMs / 1000, sealMs / 1000);
    const level = b.txs.length > 0 ? "info" : "debug";
    this.log[level](
      {
        number: Number(b.number),
        txs: b.txs.length,
        miniBlocks: b.miniBlocks.length,
        gasUsed: Number(b.gasUsed),
        rootMs: Math.round(rootMs),
        sealMs: Math.round(sealMs),
        hash: bytesToHex(hash),
      },
      "sealed block",
    );
    return { rootMs, sealMs };
  }

  /** Assembles the sealed block's witness; compression and the write happen off this thread. */
  private storeWitness(b: ChainBlock, reads: BlockReads, nodes: Uint8Array[]): void {
    const { encoded, hash } = buildBlockWitness(this.deps.chain, this.deps.state, b, reads, nodes);
    this.deps.witnesses!.add(b.number, hash, compressWitness(encoded));
    this.deps.metrics?.witnessBytes.inc(encoded.length);
  }

  /** Opens the next block; its environment goes to the log first so a restart reopens it alike. */
  private async openBlock(): Promise<void> {
    const { chain, config } = this.deps;
    const parent = chain.head;
    const nowSec = BigInt(Math.floor(Date.now() / 1000));
    const minTs = parent.timestamp + (this.opts.blockMs >= 1000 ? 1n : 0n);
    const b = openChainBlock(nextBlockEnv(parent, config, nowSec > minTs ? nowSec : minTs));
    const written = this.deps.wal.append(WalRecordType.blockOpen, encodeBlockOpen(b), b.number);
    chain.addBlock(b);
    this.template = this.deps.executor.blockTemplate(b);
    await written;
  }

  private die(err: Error): void {
    if (this.fatal !== null) return;
    this.fatal = err;
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.log.fatal({ err }, "block production stopped");
  }
}

function nowMicros(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
}
