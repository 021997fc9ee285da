import { promisify } from "node:util";
import zlib from "node:zlib";
import { RLP } from "@ethereumjs/rlp";
import { keccak256 } from "../crypto/keccak.ts";
import { SigningDomain, recoverPayloadSigner, signPayload } from "../crypto/signing.ts";
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

/**
 * What the sequencer publishes to DA for one block (DESIGN §7): the signed seal, the block's
 * signed mini-blocks (transactions, receipts, state diffs) and its compressed witness, plus the
 * reference to the previous block's bundle, so one known reference leads to all earlier ones.
 */
export interface DaBundle {
  number: bigint;
  /** Block `number - 1`'s bundle; null for block 1. */
  prev: DaRef | null;
  sealBytes: Uint8Array;
  seal: BlockSeal;
  /** Each mini-block's signed encoding, in order. */
  miniBlocks: Uint8Array[];
  witnessCompressed: Uint8Array;
}

export const DA_BUNDLE_VERSION = 1;
/** Largest bundle read from DA, and the largest its mini-blocks may inflate to. */
export const MAX_DA_BUNDLE_BYTES = 512 * 1024 * 1024;
export const MAX_DA_MINI_BLOCKS_BYTES = 1024 * 1024 * 1024;

const brotli = promisify(zlib.brotliCompress);
const EMPTY = new Uint8Array(0);

/**
 * RLP [version, number, prevCommitment, prevBundleHash, seal, brotli(RLP [mini-blocks]), witness].
 * The mini-blocks are compressed off the main thread; the witness is already compressed.
 */
export async function encodeDaBundle(b: Omit<DaBundle, "seal">): Promise<Uint8Array> {
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
  const f = list(d, "DA bundle", 7);
  if (int(f[0], "DA bundle version") !== DA_BUNDLE_VERSION)
    throw new DecodeError("DA bundle: unknown version");
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
  return {
    number,
    prev: prevHash.length === 0 ? null : { commitment: prevCommitment, bundleHash: prevHash },
    sealBytes,
    seal: decodeBlockSeal(sealBytes),
    miniBlocks: list(mbs, "miniBlocks").map((m, i) => bytes(m, `miniBlocks[${i}]`)),
    witnessCompressed: bytes(f[6], "witness"),
  };
}

export const daBundleHash = (encoded: Uint8Array): Uint8Array => keccak256(encoded);

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

/** Decodes a pointer and recovers its signer (a 0x address, lower case); the caller compares it. */
export function decodeDaPointer(
  data: Uint8Array,
  chainId: number,
): { pointer: DaPointer; signer: Uint8Array } {
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
  return { pointer, signer: recoverPayloadSigner(SigningDomain.daPointer, chainId, hash, pointer.signature) };
}
