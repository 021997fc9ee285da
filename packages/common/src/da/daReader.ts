import { RLP } from "@ethereumjs/rlp";
import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  type DaBundle,
  type DaPointer,
  type DaRef,
  daBundleHash,
  decodeDaBundle,
  decodeDaPointer,
} from "../codec/daCodec.ts";
import { decodeSignedMiniBlock } from "../codec/chainCodec.ts";
import { DecodeError, big, bytes, list } from "../codec/rlpUtil.ts";
import { SigningDomain, recoverPayloadSigner } from "../crypto/signing.ts";
import type { SignedMiniBlock } from "../types/chain.ts";
import { DaError, type DaStore } from "./daStore.ts";

/** References kept below the newest pointer (about 15 MB of them); older ones are pruned. */
const KEEP_REFS = 100_000n;
const PRUNE_EVERY = 10_000n;

/** A bundle read from DA and checked: its mini-blocks decoded, every signature the sequencer's. */
export interface CheckedDaBundle {
  bundle: DaBundle;
  miniBlocks: SignedMiniBlock[];
  /** Size of the bundle as stored. */
  bytes: number;
}

/** A pointer from gossip or a peer, checked: decodes, and the chain's sequencer signed it. */
export function checkDaPointer(data: Uint8Array, chainId: number, sequencer: string): DaPointer {
  const { pointer, signer } = decodeDaPointer(data, chainId);
  if (bytesToHex(signer) !== sequencer.toLowerCase())
    throw new DecodeError(
      `DA pointer for block ${pointer.number} is signed by ${bytesToHex(signer)}, not the sequencer`,
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
  /** Block hashes the sequencer's pointers name, checked against the seals read. */
  private readonly pointedHashes = new Map<bigint, Uint8Array>();
  private newest: DaPointer | null = null;
  /** Blocks with a known reference, kept sorted on demand for the walk back. */
  private sortedKnown: bigint[] | null = null;
  /** The block last asked for, and when: pruning spares a catch-up in progress. */
  private lastRead = { block: 0n, at: 0 };

  constructor(
    readonly store: DaStore,
    readonly chainId: number,
    readonly sequencer: string,
    private readonly limits = { keepRefs: KEEP_REFS, pruneEvery: PRUNE_EVERY },
  ) {}

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
    this.sortedKnown = null;
  }

  /** Block `n`'s bundle, walking back from the nearest later reference if `n`'s is not known. */
  async bundle(n: bigint): Promise<CheckedDaBundle> {
    if (n < 1n) throw new RangeError(`no DA bundle for block ${n}`);
    this.lastRead = { block: n, at: Date.now() };
    let ref = this.refs.get(n);
    if (ref === undefined) {
      const from = this.nearestAbove(n);
      if (from === undefined)
        throw new DaError("not-found", `no DA pointer reaches block ${n} (newest known: ${this.headNumber})`);
      for (let k = from; k > n; k--) await this.read(k, this.refs.get(k)!);
      ref = this.refs.get(n)!;
    }
    return this.read(n, ref);
  }

  private async read(n: bigint, ref: DaRef): Promise<CheckedDaBundle> {
    let blob: Uint8Array;
    try {
      blob = await this.store.get(ref.commitment);
    } catch (err) {
      // Name the block: a walk back reads blocks other than the one asked for.
      if (err instanceof DaError) throw new DaError(err.kind, `DA bundle of block ${n}: ${err.message}`);
      throw err;
    }
    const got = daBundleHash(blob);
    if (!equalsBytes(got, ref.bundleHash))
      throw new DaError(
        "corrupt",
        `DA bundle of block ${n} (${this.store.description}, commitment ${short(ref.commitment)}) hashes to ${bytesToHex(got)}, not to the ${bytesToHex(ref.bundleHash)} the sequencer signed`,
      );
    let checked: CheckedDaBundle;
    try {
      checked = this.check(n, decodeDaBundle(blob), blob.length);
    } catch (err) {
      throw new DaError("corrupt", `DA bundle of block ${n}: ${(err as Error).message}`);
    }
    if (checked.bundle.prev !== null) this.setRef(n - 1n, checked.bundle.prev);
    return checked;
  }

  private check(n: bigint, b: DaBundle, size: number): CheckedDaBundle {
    if (b.number !== n) throw new Error(`holds block ${b.number}`);
    const signer = bytesToHex(
      recoverPayloadSigner(SigningDomain.block, this.chainId, b.seal.hash, b.seal.signature),
    );
    if (signer !== this.sequencer) throw new Error(`seal signed by ${signer}, not the sequencer`);
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
      const s = bytesToHex(
        recoverPayloadSigner(SigningDomain.miniBlock, this.chainId, mb.hash, mb.signature),
      );
      if (s !== this.sequencer) throw new Error(`mini-block ${mb.number} signed by ${s}, not the sequencer`);
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

const short = (c: Uint8Array): string => {
  const h = bytesToHex(c);
  return h.length > 24 ? `${h.slice(0, 14)}…${h.slice(-8)}` : h;
};
