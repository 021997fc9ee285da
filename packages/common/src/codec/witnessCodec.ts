import { promisify } from "node:util";
import zlib from "node:zlib";
import { RLP } from "@ethereumjs/rlp";
import { keccak256 } from "../crypto/keccak.ts";
import type { BlockSeal } from "../types/chain.ts";
import { decodeBlockSeal } from "./chainCodec.ts";
import { DecodeError, type RlpItem, big, bytes, int, list, u, un } from "./rlpUtil.ts";

/**
 * A block's witness (DESIGN §3): everything a stateless prover needs besides the block itself.
 * - `nodes`: every pre-state trie node (account trie and storage tries) that execution and the
 *   post-state root computation read, as RLP; keyed by their hash, so the parent's state root
 *   authenticates them.
 * - `codes`: the code of every contract that ran (keyed by code hash).
 * - `headers`: RLP block headers, oldest first, ending with the parent: the parent gives the
 *   pre-state root, older ones answer BLOCKHASH. Each hashes into the next one's `parentHash`.
 */
export interface BlockWitness {
  nodes: Uint8Array[];
  codes: Uint8Array[];
  headers: Uint8Array[];
}

export const WITNESS_VERSION = 1;
export const BUNDLE_VERSION = 1;

/** Decode limits: a witness from the network is bounded before anything is allocated for it. */
export const MAX_WITNESS_BYTES = 256 * 1024 * 1024;
export const MAX_BUNDLE_BYTES = 512 * 1024 * 1024;
const MAX_ITEMS = 4_000_000;

/** RLP [version, nodes, codes, headers]. Its keccak is the attestation's `witnessHash`. */
export function encodeWitness(w: BlockWitness): Uint8Array {
  return RLP.encode([un(WITNESS_VERSION), w.nodes, w.codes, w.headers]);
}

export function decodeWitness(data: Uint8Array): BlockWitness {
  if (data.length > MAX_WITNESS_BYTES)
    throw new DecodeError(`witness: larger than ${MAX_WITNESS_BYTES} bytes`);
  let d: RlpItem;
  try {
    d = RLP.decode(data) as RlpItem;
  } catch (err) {
    throw new DecodeError(`witness: bad RLP: ${(err as Error).message}`);
  }
  const [v, nodes, codes, headers] = list(d, "witness", 4);
  if (int(v, "witness version") !== WITNESS_VERSION) throw new DecodeError("witness: unknown version");
  const items = (x: RlpItem | undefined, what: string) => {
    const l = list(x, what);
    if (l.length > MAX_ITEMS) throw new DecodeError(`${what}: too many items`);
    return l.map((n, i) => bytes(n, `${what}[${i}]`));
  };
  return { nodes: items(nodes, "nodes"), codes: items(codes, "codes"), headers: items(headers, "headers") };
}

export const witnessHash = (encoded: Uint8Array): Uint8Array => keccak256(encoded);

const brotli = promisify(zlib.brotliCompress);

/** Compresses an encoded witness off the main thread (libuv's pool). */
export async function compressWitness(encoded: Uint8Array): Promise<Uint8Array> {
  const out = await brotli(encoded, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 4,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: encoded.length,
    },
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Inflates a compressed witness, refusing to produce more than `MAX_WITNESS_BYTES`. */
export function decompressWitness(compressed: Uint8Array, max = MAX_WITNESS_BYTES): Uint8Array {
  try {
    const out = zlib.brotliDecompressSync(compressed, { maxOutputLength: max });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (err) {
    if ((err as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE")
      throw new DecodeError(`witness: inflates past ${max} bytes`);
    throw new DecodeError(`witness: not valid brotli: ${(err as Error).message}`);
  }
}

/**
 * What `witness-by-number` serves and a prover verifies: the signed block seal, the block's raw
 * transactions in order, and its compressed witness. RLP [version, seal, txs, witness].
 */
export interface BlockBundle {
  /** The block seal as signed and gossiped (header, mini-block hashes, signature). */
  sealBytes: Uint8Array;
  seal: BlockSeal;
  txs: Uint8Array[];
  witnessCompressed: Uint8Array;
}

export function encodeBundle(
  sealBytes: Uint8Array,
  txs: Uint8Array[],
  witnessCompressed: Uint8Array,
): Uint8Array {
  return RLP.encode([un(BUNDLE_VERSION), sealBytes, txs, witnessCompressed]);
}

export function decodeBundle(data: Uint8Array): BlockBundle {
  if (data.length > MAX_BUNDLE_BYTES) throw new DecodeError(`bundle: larger than ${MAX_BUNDLE_BYTES} bytes`);
  let d: RlpItem;
  try {
    d = RLP.decode(data) as RlpItem;
  } catch (err) {
    throw new DecodeError(`bundle: bad RLP: ${(err as Error).message}`);
  }
  const [v, seal, txs, witness] = list(d, "bundle", 4);
  if (int(v, "bundle version") !== BUNDLE_VERSION) throw new DecodeError("bundle: unknown version");
  const sealBytes = bytes(seal, "seal");
  return {
    sealBytes,
    seal: decodeBlockSeal(sealBytes),
    txs: list(txs, "txs").map((t, i) => bytes(t, `txs[${i}]`)),
    witnessCompressed: bytes(witness, "witness"),
  };
}

/** witness-by-number request: RLP [number, blockHash or empty]. */
export function encodeWitnessRequest(number: bigint, hash?: Uint8Array): Uint8Array {
  return RLP.encode([u(number), hash ?? new Uint8Array(0)]);
}

export function decodeWitnessRequest(body: Uint8Array): { number: bigint; hash: Uint8Array | null } {
  let d: RlpItem;
  try {
    d = RLP.decode(body) as RlpItem;
  } catch (err) {
    throw new DecodeError(`witness request: bad RLP: ${(err as Error).message}`);
  }
  const [n, h] = list(d, "witness request", 2);
  const number = big(n, "number");
  const hb = bytes(h, "hash");
  if (hb.length !== 0 && hb.length !== 32) throw new DecodeError("hash: expected 32 bytes or empty");
  return { number, hash: hb.length === 0 ? null : hb };
}
