import { promisify } from "node:util";
import zlib from "node:zlib";
import { RLP } from "@ethereumjs/rlp";
import { keccak256 } from "../crypto/keccak.ts";
import { SigningDomain, signPayload } from "../crypto/signing.ts";
import type { BlockSeal } from "../types/chain.ts";
import { decodeBlockSeal } from "./chainCodec.ts";
import { DecodeError, type RlpItem, big, bytes, int, list, u, un } from "./rlpUtil.ts";

/**
 * Where a block's DA bundle is and what it must hash to. The hash makes every read checkable
 * whatever the backend's commitment means.
 */
export interface DaRef {
  commitment: Uint8Array;
  bundleHash: Uint8Array;
}

/** Where a DA index blob is (see `DaIndex`): the blob covering blocks up to `through`. */
export interface DaIndexRef extends DaRef {
  through: bigint;
}

/**
 * Blocks one DA index blob covers. The sequencer publishes an index of every `DA_INDEX_SPAN`
 * blocks' references once the last of them is published, and each later bundle names the newest
 * index, so a node joining a long chain learns where every bundle is from a few small blobs
 * instead of walking back through every bundle.
 */
export const DA_INDEX_SPAN = 64n;

/**
 * What the sequencer publishes to DA for one block (DESIGN §7): the signed seal, the block's
 * signed mini-blocks (transactions, receipts, state diffs) and its compressed witness, plus the
 * reference to the previous block's bundle, so one known reference leads to all earlier ones,
 * and (version 2) the newest DA index published before it.
 */
export interface DaBundle {
  number: bigint;
  /** Block `number - 1`'s bundle; null for block 1. */
  prev: DaRef | null;
  /**
   * The index covering blocks up to the last multiple of `DA_INDEX_SPAN` below `number`; null
   * for the first span's blocks and for version-1 bundles (published before indexes existed).
   */
  index: DaIndexRef | null;
  sealBytes: Uint8Array;
  seal: BlockSeal;
  /** Each mini-block's signed encoding, in order. */
  miniBlocks: Uint8Array[];
  witnessCompressed: Uint8Array;
}

/**
 * Version 2 adds the index reference. Version-1 bundles (no index) are still read: a chain
 * published before indexes is reached through its links, as before.
 */
export const DA_BUNDLE_VERSION = 2;
/** Largest bundle read from DA, and the largest its mini-blocks may inflate to. */
export const MAX_DA_BUNDLE_BYTES = 512 * 1024 * 1024;
export const MAX_DA_MINI_BLOCKS_BYTES = 1024 * 1024 * 1024;

const brotli = promisify(zlib.brotliCompress);
const EMPTY = new Uint8Array(0);

/**
 * RLP [version, number, prevCommitment, prevBundleHash, seal, brotli(RLP [mini-blocks]), witness,
 * index] with index = [] or [through, commitment, indexHash]. The mini-blocks are compressed off
 * the main thread; the witness is already compressed.
 */
export async function encodeDaBundle(
  b: Omit<DaBundle, "seal" | "index"> & { index?: DaIndexRef | null },
): Promise<Uint8Array> {
  const raw = RLP.encode(b.miniBlocks);
  const packed = await brotli(raw, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 5,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  return RLP.encode([
    un(DA_BUNDLE_VERSION),
    u(b.number),
    b.prev?.commitment ?? EMPTY,
    b.prev?.bundleHash ?? EMPTY,
    b.sealBytes,
    new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength),
    b.witnessCompressed,
    b.index == null ? [] : [u(b.index.through), b.index.commitment, b.index.bundleHash],
  ]);
}

/** Decodes a bundle; nothing is checked against signatures here (`checkDaBundle` does). */
export function decodeDaBundle(data: Uint8Array): DaBundle {
  if (data.length > MAX_DA_BUNDLE_BYTES)
    throw new DecodeError(`DA bundle: larger than ${MAX_DA_BUNDLE_BYTES} bytes`);
  let d: RlpItem;
  try {
    d = RLP.decode(data) as RlpItem;
  } catch (err) {
    throw new DecodeError(`DA bundle: bad RLP: ${(err as Error).message}`);
  }
  const top = list(d, "DA bundle");
  const version = top.length > 0 ? int(top[0], "DA bundle version") : 0;
  if (version !== 1 && version !== DA_BUNDLE_VERSION)
    throw new DecodeError(`DA bundle: unknown version ${version}`);
  const f = list(d, "DA bundle", version === 1 ? 7 : 8);
  const number = big(f[1], "number");
  const prevCommitment = bytes(f[2], "prevCommitment");
  const prevHash = bytes(f[3], "prevBundleHash");
  if (
    (prevCommitment.length === 0) !== (prevHash.length === 0) ||
    (prevHash.length !== 0 && prevHash.length !== 32)
  )
    throw new DecodeError("DA bundle: bad previous-bundle reference");
  if ((number === 1n) !== (prevHash.length === 0))
    throw new DecodeError("DA bundle: only block 1 has no previous bundle");
  const sealBytes = bytes(f[4], "seal");
  let inflated: Buffer;
  try {
    inflated = zlib.brotliDecompressSync(bytes(f[5], "miniBlocks"), {
      maxOutputLength: MAX_DA_MINI_BLOCKS_BYTES,
    });
  } catch (err) {
    throw new DecodeError(`DA bundle: mini-blocks do not inflate: ${(err as Error).message}`);
  }
  let mbs: RlpItem;
  try {
    mbs = RLP.decode(new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength)) as RlpItem;
  } catch (err) {
    throw new DecodeError(`DA bundle: mini-blocks: bad RLP: ${(err as Error).message}`);
  }
  let index: DaIndexRef | null = null;
  if (version >= 2) {
    const ix = list(f[7], "index");
    if (ix.length !== 0) {
      if (ix.length !== 3) throw new DecodeError("DA bundle: bad index reference");
      index = {
        through: big(ix[0], "index.through"),
        commitment: bytes(ix[1], "index.commitment"),
        bundleHash: bytes(ix[2], "index.hash", 32),
      };
      if (index.commitment.length === 0) throw new DecodeError("DA bundle: empty index commitment");
      if (index.through === 0n || index.through % DA_INDEX_SPAN !== 0n || index.through >= number)
        throw new DecodeError(`DA bundle: index through ${index.through} for block ${number}`);
    }
  }
  return {
    number,
    prev: prevHash.length === 0 ? null : { commitment: prevCommitment, bundleHash: prevHash },
    index,
    sealBytes,
    seal: decodeBlockSeal(sealBytes),
    miniBlocks: list(mbs, "miniBlocks").map((m, i) => bytes(m, `miniBlocks[${i}]`)),
    witnessCompressed: bytes(f[6], "witness"),
  };
}

export const daBundleHash = (encoded: Uint8Array): Uint8Array => keccak256(encoded);

/**
 * A DA index blob: where the bundles of blocks `through - DA_INDEX_SPAN + 1 … through` are, and
 * where the previous index is (null when there is none: the first span, or a chain whose earlier
 * bundles predate indexes and are reached through their links). Nothing in it is signed: the
 * reference to it carries its hash, inside a bundle whose hash the sequencer signed.
 */
export interface DaIndex {
  through: bigint;
  /** The span's bundles, oldest first (`DA_INDEX_SPAN` of them). */
  refs: DaRef[];
  prev: DaIndexRef | null;
}

export const DA_INDEX_VERSION = 1;

/** RLP [version, through, [[commitment, bundleHash]…], prev] with prev = [] or [through, commitment, hash]. */
export function encodeDaIndex(ix: DaIndex): Uint8Array {
  if (BigInt(ix.refs.length) !== DA_INDEX_SPAN || ix.through % DA_INDEX_SPAN !== 0n)
    throw new RangeError(`a DA index covers ${DA_INDEX_SPAN} blocks ending at a multiple of it`);
  return RLP.encode([
    un(DA_INDEX_VERSION),
    u(ix.through),
    ix.refs.map((r) => [r.commitment, r.bundleHash]),
    ix.prev === null ? [] : [u(ix.prev.through), ix.prev.commitment, ix.prev.bundleHash],
  ]);
}

export function decodeDaIndex(data: Uint8Array): DaIndex {
  let d: RlpItem;
  try {
    d = RLP.decode(data) as RlpItem;
  } catch (err) {
    throw new DecodeError(`DA index: bad RLP: ${(err as Error).message}`);
  }
  const f = list(d, "DA index", 4);
  if (int(f[0], "DA index version") !== DA_INDEX_VERSION) throw new DecodeError("DA index: unknown version");
  const through = big(f[1], "through");
  if (through === 0n || through % DA_INDEX_SPAN !== 0n)
    throw new DecodeError(`DA index: through ${through} is not a multiple of ${DA_INDEX_SPAN}`);
  const refs = list(f[2], "refs").map((r, i) => {
    const pair = list(r, `refs[${i}]`, 2);
    const commitment = bytes(pair[0], `refs[${i}].commitment`);
    if (commitment.length === 0) throw new DecodeError(`DA index: refs[${i}]: empty commitment`);
    return { commitment, bundleHash: bytes(pair[1], `refs[${i}].hash`, 32) };
  });
  if (BigInt(refs.length) !== DA_INDEX_SPAN) throw new DecodeError(`DA index: ${refs.length} references`);
  const p = list(f[3], "prev");
  let prev: DaIndexRef | null = null;
  if (p.length !== 0) {
    if (p.length !== 3) throw new DecodeError("DA index: bad previous index");
    prev = {
      through: big(p[0], "prev.through"),
      commitment: bytes(p[1], "prev.commitment"),
      bundleHash: bytes(p[2], "prev.hash", 32),
    };
    if (prev.through !== through - DA_INDEX_SPAN || prev.commitment.length === 0)
      throw new DecodeError(`DA index: previous index through ${prev.through} before ${through}`);
  }
  return { through, refs, prev };
}

/**
 * The sequencer's signed word that block `number` (hash `blockHash`) was published to DA at
 * `commitment` and the bundle hashes to `bundleHash`. Gossiped on the `da` topic after each
 * publish and served by `da-head`; anyone may relay it, since the signature proves its origin.
 */
export interface DaPointer extends DaRef {
  number: bigint;
  blockHash: Uint8Array;
  signature: Uint8Array;
}

export const DA_POINTER_VERSION = 1;
const MAX_COMMITMENT_BYTES = 64 * 1024;

function pointerFields(p: Omit<DaPointer, "signature">): RlpItem[] {
  return [un(DA_POINTER_VERSION), u(p.number), p.blockHash, p.commitment, p.bundleHash];
}

export function signDaPointer(
  p: Omit<DaPointer, "signature">,
  chainId: number,
  privateKey: Uint8Array,
): DaPointer {
  const hash = keccak256(RLP.encode(pointerFields(p)));
  return { ...p, signature: signPayload(SigningDomain.daPointer, chainId, hash, privateKey) };
}

export function encodeDaPointer(p: DaPointer): Uint8Array {
  return RLP.encode([...pointerFields(p), p.signature]);
}

/**
 * Decodes a pointer, with the hash its signature covers; the caller checks the signer
 * (`checkDaPointer`).
 */
export function decodeDaPointer(data: Uint8Array): { pointer: DaPointer; hash: Uint8Array } {
  if (data.length > MAX_COMMITMENT_BYTES + 256) throw new DecodeError("DA pointer: too large");
  let d: RlpItem;
  try {
    d = RLP.decode(data) as RlpItem;
  } catch (err) {
    throw new DecodeError(`DA pointer: bad RLP: ${(err as Error).message}`);
  }
  const f = list(d, "DA pointer", 6);
  if (int(f[0], "version") !== DA_POINTER_VERSION) throw new DecodeError("DA pointer: unknown version");
  const pointer: DaPointer = {
    number: big(f[1], "number"),
    blockHash: bytes(f[2], "blockHash", 32),
    commitment: bytes(f[3], "commitment"),
    bundleHash: bytes(f[4], "bundleHash", 32),
    signature: bytes(f[5], "signature", 65),
  };
  if (pointer.commitment.length === 0) throw new DecodeError("DA pointer: empty commitment");
  const hash = keccak256(RLP.encode(f.slice(0, 5)));
  return { pointer, hash };
}
