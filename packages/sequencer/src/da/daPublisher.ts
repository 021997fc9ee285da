import { setTimeout as sleep } from "node:timers/promises";
import { bytesToHex } from "@ethereumjs/util";
import {
  type ChainStore,
  blockSealBytes,
  DA_INDEX_SPAN,
  type DaIndexRef,
  type DaPointer,
  type DaRef,
  type DaStore,
  type Logger,
  daBundleHash,
  decodeDaBundle,
  encodeDaBundle,
  encodeDaIndex,
  signDaPointer,
} from "@staccato/common";
import type { DaMetrics } from "../node/metrics.ts";
import type { WitnessStore } from "../storage/witnessStore.ts";
import type { DaIndexLog } from "./daIndex.ts";

export interface DaPublisherDeps {
  store: DaStore;
  index: DaIndexLog;
  chain: ChainStore;
  witnesses: WitnessStore;
  chainId: number;
  signingKey: Uint8Array;
  logger: Logger;
  metrics: DaMetrics;
  /** A block is published: gossip its pointer (the promise settles once it is sent). */
  onPublished(p: DaPointer): Promise<unknown> | undefined;
}

export interface DaStatus {
  ok: boolean;
  store: string;
  publishedBlock: number;
  backlog: number;
  failures: number;
  error?: string;
}

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 10_000;

/**
 * Publishes every sealed block to DA (DESIGN §7), one at a time and in order, off the sealing
 * path: sealing only `kick`s it. A failed put is retried with doubling backoff (counted, and
 * shown in `/health`) and the blocks sealed meanwhile wait their turn, so once the store is back
 * they go out in order and none is skipped. Each bundle links to the previous one's commitment;
 * after each put the sequencer's signed pointer is gossiped.
 */
export class DaPublisher {
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly wake = new AbortController();
  private failures = 0;
  private lastError: string | null = null;
  private newest: DaPointer | null = null;
  private lastGossip: Promise<unknown> = Promise.resolve();
  /** The newest DA index published (null: none yet; undefined: not known since the start). */
  private indexRef: DaIndexRef | null | undefined = undefined;
  private readonly log: Logger;

  constructor(private readonly d: DaPublisherDeps) {
    this.log = d.logger.child({ module: "da" });
    const last = d.index.publishedThrough;
    const ref = d.index.get(last);
    const blockHash = d.chain.sealedHash(last);
    if (last > 0n && ref !== undefined && blockHash !== undefined)
      this.newest = signDaPointer({ number: last, blockHash, ...ref }, d.chainId, d.signingKey);
    d.metrics.publishedBlock.set(Number(last));
  }

  /** The newest published block's pointer, served as `da-head`. */
  get head(): DaPointer | null {
    return this.newest;
  }

  status(): DaStatus {
    const published = this.d.index.publishedThrough;
    return {
      ok: this.lastError === null,
      store: this.d.store.description,
      publishedBlock: Number(published),
      backlog: Number(this.d.chain.latest.number - published),
      failures: this.failures,
      ...(this.lastError !== null ? { error: this.lastError } : {}),
    };
  }

  /** A block was sealed: publish everything not yet published. */
  kick(): void {
    this.d.metrics.backlog.set(Number(this.d.chain.latest.number - this.d.index.publishedThrough));
    if (this.running !== null || this.stopped) return;
    this.running = this.drain().finally(() => {
      this.running = null;
    });
  }

  private async drain(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    while (!this.stopped) {
      const n = this.d.index.publishedThrough + 1n;
      if (n > this.d.chain.latest.number) return;
      try {
        await this.publish(n);
        if (this.lastError !== null)
          this.log.info(
            { block: Number(n), store: this.d.store.description },
            "DA store is back; publishing caught up from here",
          );
        this.lastError = null;
        backoff = MIN_BACKOFF_MS;
      } catch (err) {
        this.failures++;
        this.d.metrics.failures.inc();
        const message = (err as Error).message;
        if (this.lastError !== message)
          this.log.warn({ block: Number(n), err: message, retryMs: backoff }, "DA publish failed; retrying");
        this.lastError = message;
        await sleep(backoff, undefined, { signal: this.wake.signal }).catch(() => undefined);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  private async publish(n: bigint): Promise<void> {
    const started = performance.now();
    const { chain, index, metrics } = this.d;
    const block = await chain.getSealedBlock(n);
    if (block?.hash == null) throw new Error(`block ${n} is not sealed`);
    const witness = await this.d.witnesses.get(n);
    if (witness === undefined) throw new Error(`no witness stored for block ${n}`);
    const prev = n === 1n ? null : (index.get(n - 1n) ?? null);
    if (n > 1n && prev === null) throw new Error(`block ${n - 1n} is not published`);
    const miniBlocks = block.miniBlocks.map((m) => m.encoded);
    const encoded = await encodeDaBundle({
      number: n,
      prev,
      index: await this.indexBefore(n),
      sealBytes: blockSealBytes(block),
      miniBlocks,
      witnessCompressed: witness.compressed,
    });
    const commitment = await this.d.store.put(encoded);
    const ref = { commitment, bundleHash: daBundleHash(encoded) };
    index.append(n, ref);
    this.newest = signDaPointer(
      { number: n, blockHash: block.hash, ...ref },
      this.d.chainId,
      this.d.signingKey,
    );
    this.lastGossip = Promise.resolve(this.d.onPublished(this.newest)).catch(() => undefined);

    metrics.publishSeconds.observe((performance.now() - started) / 1000);
    metrics.publishedBlock.set(Number(n));
    metrics.backlog.set(Number(chain.latest.number - n));
    metrics.bundleBytes.inc(encoded.length);
    metrics.witnessBytes.inc(witness.compressed.length);
    metrics.txs.inc(block.txs.length);
    this.log.debug(
      { block: Number(n), bytes: encoded.length, commitment: bytesToHex(commitment) },
      "published block to DA",
    );
  }

  /**
   * The DA index covering every span of `DA_INDEX_SPAN` blocks before block `n`, published first if
   * it is not yet (the span's last block was just published). After a restart the previous index is
   * learned from the bundle of that span's last block, which names it: nothing but DA records it.
   */
  private async indexBefore(n: bigint): Promise<DaIndexRef | null> {
    const through = ((n - 1n) / DA_INDEX_SPAN) * DA_INDEX_SPAN;
    if (through === 0n) return null;
    if (this.indexRef?.through === through) return this.indexRef;
    const { index, store } = this.d;
    let prev: DaIndexRef | null;
    if (this.indexRef !== undefined && (this.indexRef?.through ?? 0n) === through - DA_INDEX_SPAN)
      prev = this.indexRef;
    else {
      // Bundle `through` names the index before its span (null when it predates indexes).
      const ref = index.get(through);
      if (ref === undefined) throw new Error(`block ${through} is not published`);
      prev = decodeDaBundle(await store.get(ref.commitment)).index;
      if (prev !== null && prev.through !== through - DA_INDEX_SPAN) prev = null;
    }
    const refs: DaRef[] = [];
    for (let m = through - DA_INDEX_SPAN + 1n; m <= through; m++) {
      const r = index.get(m);
      if (r === undefined) throw new Error(`block ${m} is not published`);
      refs.push(r);
    }
    const blob = encodeDaIndex({ through, refs, prev });
    const commitment = await store.put(blob);
    this.indexRef = { through, commitment, bundleHash: daBundleHash(blob) };
    this.log.debug({ through: Number(through), bytes: blob.length }, "published DA index");
    return this.indexRef;
  }

  /**
   * At shutdown, while the network still runs: publishes what is sealed (for at most `timeoutMs`,
   * and not while the store is failing) and sends the last pointer, so peers learn where DA ends.
   */
  async flush(timeoutMs: number): Promise<void> {
    const target = this.d.chain.latest.number;
    const deadline = Date.now() + timeoutMs;
    this.kick();
    while (this.d.index.publishedThrough < target && this.lastError === null && Date.now() < deadline)
      await sleep(20);
    await this.lastGossip;
    const left = this.d.chain.latest.number - this.d.index.publishedThrough;
    if (left > 0n)
      this.log.warn(
        { unpublished: Number(left), publishedBlock: Number(this.d.index.publishedThrough) },
        "stopping with blocks not yet published to DA; they go out at the next start",
      );
  }

  /** Stops after the put in flight (if any) finishes; unpublished blocks wait for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.abort();
    await this.running;
  }
}
