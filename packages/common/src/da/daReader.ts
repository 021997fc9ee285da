import { RLP } from "@ethereumjs/rlp";
import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  DA_INDEX_SPAN,
  type DaBundle,
  type DaIndex,
  type DaIndexRef,
  type DaPointer,
  type DaRef,
  daBundleHash,
  decodeDaBundle,
  decodeDaIndex,
  decodeDaPointer,
} from "../codec/daCodec.ts";
import { decodeSignedMiniBlock } from "../codec/chainCodec.ts";
import { big, bytes, list } from "../codec/rlpUtil.ts";
import { checkSequencerSignature } from "../crypto/sequencerSignature.ts";
import { SigningDomain } from "../crypto/signing.ts";
import type { Logger } from "../log/logger.ts";
import type { SignedMiniBlock } from "../types/chain.ts";
import { DaError, type DaStore } from "./daStore.ts";

/** References kept below the newest pointer (about 15 MB of them); older ones are pruned. */
const KEEP_REFS = 100_000n;
const PRUNE_EVERY = 10_000n;
/**
 * Bundles read ahead of need (walking back through links from a later block) are kept, up to
 * this many bytes and this long, for the read in order that follows: each bundle is read once.
 */
const WALKED_BYTES = 64 * 1024 * 1024;
const WALKED_MS = 120_000;
/** Index blobs kept decoded (each one is a span's references, ~5 KB). */
const KEEP_INDEXES = 4;
/** A walk back logs its progress this often. */
const PROGRESS_MS = 2_000;

/** What was read from the store: bundles, or index blobs. */
export type DaReadKind = "bundle" | "index";

export interface DaReaderOptions {
  keepRefs: bigint;
  pruneEvery: bigint;
  /** Progress of long walks back (info), when given. */
  logger?: Logger | null;
  /** Hears every read from the store (for metrics and tests). */
  onRead?: ((kind: DaReadKind, bytes: number) => void) | null;
}

/** A bundle read from DA and checked: its mini-blocks decoded, every signature the sequencer's. */
export interface CheckedDaBundle {
  bundle: DaBundle;
  miniBlocks: SignedMiniBlock[];
  /** Size of the bundle as stored. */
  bytes: number;
}

/** A pointer from gossip or a peer, checked: decodes, and the chain's sequencer signed it. */
export function checkDaPointer(data: Uint8Array, chainId: number, sequencer: string): DaPointer {
  const { pointer, hash } = decodeDaPointer(data);
  checkSequencerSignature(
    { chainId, sequencer },
    SigningDomain.daPointer,
    hash,
    pointer.signature,
    `DA pointer for block ${pointer.number}`,
  );
  return pointer;
}

/**
 * Reads blocks back from DA for a full node or prover (DESIGN §7). It knows where bundles are
 * from the sequencer's signed pointers (gossip, or a peer's `da-head`) and from each bundle's
 * link to the previous one, so one pointer reaches every earlier block. Every bundle read is
 * checked: its bytes against the hash the sequencer signed (directly or through the chain of
 * links), its seal and mini-blocks against the sequencer's signatures, and the mini-blocks
 * against the seal's list.
 */
export class DaReader {
  private readonly refs = new Map<bigint, DaRef>();
  /** Index blobs by the last block they cover; learned from bundles and from earlier indexes. */
  private readonly indexRefs = new Map<bigint, DaRef>();
  /** Decoded index blobs, newest use last. */
  private readonly indexes = new Map<bigint, DaIndex>();
  /** Bundles read during a walk back, until read in order (see `WALKED_BYTES`). */
  private readonly walked = new Map<bigint, { c: CheckedDaBundle; at: number }>();
  private walkedBytes = 0;
  /** Reads from the store so far. */
  readonly reads = { bundles: 0, indexes: 0 };
  /** Block hashes the sequencer's pointers name, checked against the seals read. */
  private readonly pointedHashes = new Map<bigint, Uint8Array>();
  private newest: DaPointer | null = null;
  /** Blocks with a known reference, kept sorted on demand for the walk back. */
  private sortedKnown: bigint[] | null = null;
  /** The block last asked for, and when: pruning spares a catch-up in progress. */
  private lastRead = { block: 0n, at: 0 };

  private readonly limits: DaReaderOptions;

  constructor(
    readonly store: DaStore,
    readonly chainId: number,
    readonly sequencer: string,
    opts: Partial<DaReaderOptions> = {},
  ) {
    this.limits = { keepRefs: KEEP_REFS, pruneEvery: PRUNE_EVERY, ...opts };
  }

  /** The newest pointer known, to serve as `da-head`. */
  get head(): DaPointer | null {
    return this.newest;
  }

  get headNumber(): bigint {
    return this.newest?.number ?? 0n;
  }

  /** Decodes a pointer from gossip or a peer and checks that this chain's sequencer signed it. */
  checkPointer(data: Uint8Array): DaPointer {
    return checkDaPointer(data, this.chainId, this.sequencer);
  }

  /** Records a checked pointer; true if it is newer than the head. */
  addPointer(p: DaPointer): boolean {
    this.setRef(p.number, p);
    this.pointedHashes.set(p.number, p.blockHash);
    if (this.newest !== null && p.number <= this.newest.number) return false;
    this.newest = p;
    if (p.number % this.limits.pruneEvery === 0n) {
      // A catch-up under way still needs the references from where it is reading.
      const reading = Date.now() - this.lastRead.at < 60_000 ? this.lastRead.block : p.number;
      this.prune(min(p.number - this.limits.keepRefs, reading));
    }
    return true;
  }

  /**
   * Forgets references to blocks below `below`: a node following the chain hears one pointer per
   * block forever. A forgotten block is still reachable, by walking back from a later reference.
   */
  private prune(below: bigint): void {
    if (below <= 1n) return;
    for (const n of this.refs.keys()) if (n < below) this.refs.delete(n);
    for (const n of this.pointedHashes.keys()) if (n < below) this.pointedHashes.delete(n);
    for (const n of this.indexRefs.keys()) if (n < below) this.indexRefs.delete(n);
    this.sortedKnown = null;
  }

  /**
   * Block `n`'s bundle. When `n`'s reference is not known: from the DA index covering it (walking
   * back the chain of indexes from the newest one known), else by walking back through the links
   * from the nearest later reference, until an index covering `n` turns up. Bundles read on the
   * way are kept for the reads in order that follow, so joining a long chain reads each bundle
   * once, plus one small index blob per `DA_INDEX_SPAN` blocks.
   */
  async bundle(n: bigint): Promise<CheckedDaBundle> {
    if (n < 1n) throw new RangeError(`no DA bundle for block ${n}`);
    this.lastRead = { block: n, at: Date.now() };
    const kept = this.takeWalked(n);
    if (kept !== undefined) return kept;
    const ref =
      this.refs.get(n) ?? this.indexes.get(spanEnd(n))?.refs[spanOffset(n)] ?? (await this.locate(n));
    return this.read(n, ref);
  }

  /** Finds block `n`'s reference: through the indexes, or walking back through the links. */
  private async locate(n: bigint): Promise<DaRef> {
    const started = performance.now();
    const reads0 = { ...this.reads };
    const fromIndex = await this.fromIndex(n);
    if (fromIndex !== undefined) {
      this.logLocated(n, started, reads0);
      return fromIndex;
    }
    const from = this.nearestAbove(n);
    if (from === undefined)
      throw new DaError("not-found", `no DA pointer reaches block ${n} (newest known: ${this.headNumber})`);
    let lastLog = started;
    for (let k = from; k > n; k--) {
      // A bundle an earlier walk read and kept is not read again.
      const kept = this.walked.get(k)?.c;
      const c = kept ?? (await this.read(k, this.refs.get(k)!));
      if (kept === undefined) this.keepWalked(k, c);
      else if (c.bundle.prev !== null) this.setRef(k - 1n, c.bundle.prev);
      const ix = c.bundle.index;
      if (ix !== null && ix.through >= n && k - 1n > n) {
        const r = await this.fromIndex(n);
        if (r !== undefined) {
          this.logLocated(n, started, reads0);
          return r;
        }
      }
      if (performance.now() - lastLog > PROGRESS_MS) {
        lastLog = performance.now();
        this.limits.logger?.info(
          {
            block: Number(n),
            at: Number(k),
            from: Number(from),
            bundlesRead: this.reads.bundles - reads0.bundles,
          },
          "walking back through DA links",
        );
      }
    }
    this.logLocated(n, started, reads0);
    return this.refs.get(n)!;
  }

  private logLocated(n: bigint, started: number, reads0: { bundles: number; indexes: number }): void {
    const bundles = this.reads.bundles - reads0.bundles;
    const indexes = this.reads.indexes - reads0.indexes;
    if (bundles + indexes === 0) return;
    this.limits.logger?.info(
      {
        block: Number(n),
        bundlesRead: bundles,
        indexesRead: indexes,
        ms: Math.round(performance.now() - started),
      },
      "located block in DA",
    );
  }

  /**
   * Block `n`'s reference from the index covering it, reading back the chain of indexes from the
   * nearest known one at or above it; undefined when no known index reaches it (none is known
   * yet, or the chain of indexes starts above `n`: older bundles predate indexes).
   */
  private async fromIndex(n: bigint): Promise<DaRef | undefined> {
    const want = spanEnd(n);
    let at: bigint | undefined;
    for (const t of this.indexRefs.keys()) if (t >= want && (at === undefined || t < at)) at = t;
    if (at === undefined) return undefined;
    for (;;) {
      const ix = await this.index(at);
      if (at === want) return ix.refs[spanOffset(n)];
      if (ix.prev === null) return undefined;
      this.indexRefs.set(ix.prev.through, ix.prev);
      at = ix.prev.through;
    }
  }

  private async index(through: bigint): Promise<DaIndex> {
    const kept = this.indexes.get(through);
    if (kept !== undefined) {
      this.indexes.delete(through);
      this.indexes.set(through, kept);
      return kept;
    }
    const ref = this.indexRefs.get(through)!;
    const what = `DA index of blocks ${through - DA_INDEX_SPAN + 1n}…${through}`;
    const blob = await this.get(ref, what);
    this.reads.indexes++;
    this.limits.onRead?.("index", blob.length);
    let ix: DaIndex;
    try {
      ix = decodeDaIndex(blob);
    } catch (err) {
      throw new DaError("corrupt", `${what}: ${(err as Error).message}`);
    }
    if (ix.through !== through) throw new DaError("corrupt", `${what}: covers blocks up to ${ix.through}`);
    this.indexes.set(through, ix);
    if (this.indexes.size > KEEP_INDEXES) this.indexes.delete(this.indexes.keys().next().value!);
    return ix;
  }

  private keepWalked(n: bigint, c: CheckedDaBundle): void {
    const now = Date.now();
    for (const [k, w] of this.walked) if (now - w.at > WALKED_MS) this.dropWalked(k);
    this.walked.set(n, { c, at: now });
    this.walkedBytes += c.bytes;
    // Over budget, the highest blocks go first: a read in order needs them last.
    while (this.walkedBytes > WALKED_BYTES && this.walked.size > 0) {
      let top = n;
      for (const k of this.walked.keys()) if (k > top) top = k;
      this.dropWalked(top);
    }
  }

  private takeWalked(n: bigint): CheckedDaBundle | undefined {
    const w = this.walked.get(n);
    if (w === undefined) return undefined;
    this.dropWalked(n);
    return w.c;
  }

  private dropWalked(n: bigint): void {
    const w = this.walked.get(n);
    if (w === undefined) return;
    this.walked.delete(n);
    this.walkedBytes -= w.c.bytes;
  }

  /** A blob by reference, checked against the reference's hash. */
  private async get(ref: DaRef, what: string): Promise<Uint8Array> {
    let blob: Uint8Array;
    try {
      blob = await this.store.get(ref.commitment);
    } catch (err) {
      // Name the block: a walk back reads blocks other than the one asked for.
      if (err instanceof DaError) throw new DaError(err.kind, `${what}: ${err.message}`);
      throw err;
    }
    const got = daBundleHash(blob);
    if (!equalsBytes(got, ref.bundleHash))
      throw new DaError(
        "corrupt",
        `${what} (${this.store.description}, commitment ${short(ref.commitment)}) hashes to ${bytesToHex(got)}, not to the ${bytesToHex(ref.bundleHash)} the sequencer signed`,
      );
    return blob;
  }

  private async read(n: bigint, ref: DaRef): Promise<CheckedDaBundle> {
    const blob = await this.get(ref, `DA bundle of block ${n}`);
    this.reads.bundles++;
    this.limits.onRead?.("bundle", blob.length);
    let checked: CheckedDaBundle;
    try {
      checked = this.check(n, decodeDaBundle(blob), blob.length);
    } catch (err) {
      throw new DaError("corrupt", `DA bundle of block ${n}: ${(err as Error).message}`);
    }
    if (checked.bundle.prev !== null) this.setRef(n - 1n, checked.bundle.prev);
    const ix: DaIndexRef | null = checked.bundle.index;
    if (ix !== null && !this.indexRefs.has(ix.through))
      this.indexRefs.set(ix.through, { commitment: ix.commitment, bundleHash: ix.bundleHash });
    return checked;
  }

  private check(n: bigint, b: DaBundle, size: number): CheckedDaBundle {
    if (b.number !== n) throw new Error(`holds block ${b.number}`);
    checkSequencerSignature(this, SigningDomain.block, b.seal.hash, b.seal.signature, "seal");
    const headerNumber = big(list(RLP.decode(b.seal.header) as never, "header")[8], "header.number");
    if (headerNumber !== n) throw new Error(`seal is block ${headerNumber}`);
    const pointed = this.pointedHashes.get(n);
    if (pointed !== undefined && !equalsBytes(pointed, b.seal.hash))
      throw new Error(`seal hash ${bytesToHex(b.seal.hash)} is not the pointer's ${bytesToHex(pointed)}`);
    if (b.miniBlocks.length !== b.seal.miniBlockHashes.length)
      throw new Error(`${b.miniBlocks.length} mini-blocks, the seal lists ${b.seal.miniBlockHashes.length}`);
    const miniBlocks = b.miniBlocks.map((enc, i) => {
      const mb = decodeSignedMiniBlock(bytes(enc, `miniBlocks[${i}]`));
      if (!equalsBytes(mb.hash, b.seal.miniBlockHashes[i]!))
        throw new Error(`mini-block ${i} is not the one the seal lists`);
      checkSequencerSignature(
        this,
        SigningDomain.miniBlock,
        mb.hash,
        mb.signature,
        `mini-block ${mb.number}`,
      );
      return mb;
    });
    return { bundle: b, miniBlocks, bytes: size };
  }

  private setRef(n: bigint, ref: DaRef): void {
    if (!this.refs.has(n)) this.sortedKnown = null;
    this.refs.set(n, { commitment: ref.commitment, bundleHash: ref.bundleHash });
  }

  private nearestAbove(n: bigint): bigint | undefined {
    if (this.sortedKnown === null)
      this.sortedKnown = [...this.refs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const s = this.sortedKnown;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid]! <= n) lo = mid + 1;
      else hi = mid;
    }
    return s[lo];
  }
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
/** The last block of the index span holding block `n`. */
const spanEnd = (n: bigint): bigint => ((n + DA_INDEX_SPAN - 1n) / DA_INDEX_SPAN) * DA_INDEX_SPAN;
/** Block `n`'s place in its span's index. */
const spanOffset = (n: bigint): number => Number((n - 1n) % DA_INDEX_SPAN);

const short = (c: Uint8Array): string => {
  const h = bytesToHex(c);
  return h.length > 24 ? `${h.slice(0, 14)}…${h.slice(-8)}` : h;
};
