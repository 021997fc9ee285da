import { type Block, type BlockHeader, createBlock, createBlockHeader } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bigIntToBytes } from "@ethereumjs/util";
import { rlpEncode } from "../codec/rlpUtil.ts";
import type { ChainConfig } from "../config/chainConfig.ts";
import { KECCAK256_RLP, keccak256 } from "../crypto/keccak.ts";
import type { Receipt } from "../types/chain.ts";

/** EIP-1559: the next block's base fee from its parent's gas used, with the chain's parameters. */
export function nextBaseFee(
  parent: { baseFee: bigint; gasUsed: bigint; gasLimit: bigint },
  p: ChainConfig["baseFee"],
): bigint {
  const target = parent.gasLimit / BigInt(p.elasticityMultiplier);
  const denom = BigInt(p.maxChangeDenominator);
  let next = parent.baseFee;
  if (parent.gasUsed > target) {
    const delta = (parent.baseFee * (parent.gasUsed - target)) / target / denom;
    next = parent.baseFee + (delta > 1n ? delta : 1n);
  } else if (parent.gasUsed < target) {
    next = parent.baseFee - (parent.baseFee * (target - parent.gasUsed)) / target / denom;
  }
  return next < p.min ? p.min : next;
}

export { orderedTrieRoot } from "./orderedTrie.ts";

const STATUS_OK = Uint8Array.of(1);
const STATUS_FAILED = new Uint8Array(0);

/**
 * The consensus encoding of a receipt (EIP-2718 typed), as hashed into receiptsRoot: the bytes
 * of `@ethereumjs/vm`'s `encodeReceipt`, encoded in one pass (a full node encodes every receipt it
 * verifies).
 */
export function encodeConsensusReceipt(r: Receipt, txType: number, bloom: Uint8Array): Uint8Array {
  const body = [
    r.status === 0 ? STATUS_FAILED : STATUS_OK,
    bigIntToBytes(r.cumulativeGasUsed),
    bloom,
    r.logs.map((l) => [l.address, l.topics, l.data]),
  ];
  const encoded = rlpEncode(body);
  if (txType === 0) return encoded;
  const typed = new Uint8Array(1 + encoded.length);
  typed[0] = txType;
  typed.set(encoded, 1);
  return typed;
}

/**
 * A receipt's 2048-bit logs bloom (yellow paper M3:2048), as ethereumjs's `Bloom` computes it but
 * with the WebAssembly keccak: ethereumjs's default is pure JS, ~9x slower, and a full node
 * computes a bloom for every receipt with logs it applies.
 */
export function receiptBloom(r: Receipt): Uint8Array {
  const bloom = new Uint8Array(256);
  for (const l of r.logs) {
    addToBloom(bloom, l.address);
    for (const t of l.topics) addToBloom(bloom, t);
  }
  return bloom;
}

/**
 * Bloom bits (three 11-bit indices packed in one number) of byte arrays that are logged again and
 * again: the fast EVM's shared log topics and addresses (`keepBloomBits`). Found by identity, so a
 * contract's recurring topics are hashed once, not in every receipt. Arrays seen only once (logs
 * decoded from disk or the wire) are not added: short-lived WeakMap keys cost the GC more than
 * their keccak.
 */
const bloomBits = new WeakMap<Uint8Array, number>();

function bitsOf(item: Uint8Array): number {
  const h = keccak256(item);
  let bits = 0;
  for (let i = 0; i < 6; i += 2) bits = bits * 2048 + (((h[i]! << 8) | h[i + 1]!) & 2047);
  return bits;
}

/** Remembers the bloom bits of an array that will be logged many times and never changes. */
export function keepBloomBits(item: Uint8Array): void {
  bloomBits.set(item, bitsOf(item));
}

function addToBloom(bloom: Uint8Array, item: Uint8Array): void {
  let bits = bloomBits.get(item) ?? bitsOf(item);
  for (let k = 0; k < 3; k++) {
    const bit = bits % 2048;
    bloom[255 - (bit >> 3)]! |= 1 << (bit & 7);
    bits = Math.floor(bits / 2048);
  }
}

export function orBlooms(into: Uint8Array, b: Uint8Array): void {
  for (let i = 0; i < 256; i++) into[i]! |= b[i]!;
}

export interface HeaderFields {
  parentHash: Uint8Array;
  coinbase: Uint8Array;
  stateRoot: Uint8Array;
  transactionsRoot: Uint8Array;
  receiptsRoot: Uint8Array;
  logsBloom: Uint8Array;
  number: bigint;
  gasLimit: bigint;
  gasUsed: bigint;
  timestamp: bigint;
  prevRandao: Uint8Array;
  baseFee: bigint;
}

/** An ordinary Prague Ethereum header: its hash is the block hash wallets see. */
export function buildHeader(f: HeaderFields, common: Common): BlockHeader {
  return createBlockHeader(
    {
      parentHash: f.parentHash,
      coinbase: f.coinbase,
      stateRoot: f.stateRoot,
      transactionsTrie: f.transactionsRoot,
      receiptTrie: f.receiptsRoot,
      logsBloom: f.logsBloom,
      difficulty: 0n,
      number: f.number,
      gasLimit: f.gasLimit,
      gasUsed: f.gasUsed,
      timestamp: f.timestamp,
      mixHash: f.prevRandao,
      nonce: new Uint8Array(8),
      baseFeePerGas: f.baseFee,
      withdrawalsRoot: KECCAK256_RLP,
      blobGasUsed: 0n,
      excessBlobGas: 0n,
      parentBeaconBlockRoot: new Uint8Array(32),
    },
    { common, skipConsensusFormatValidation: true },
  );
}

/** The environment a block's transactions execute in. */
export interface BlockEnv {
  number: bigint;
  /** Seconds. */
  timestamp: bigint;
  baseFee: bigint;
  gasLimit: bigint;
  coinbase: Uint8Array;
  prevRandao: Uint8Array;
}

/** An ethereumjs block carrying the header fields execution reads (no roots yet). */
export function executionBlock(env: BlockEnv, common: Common): Block {
  return createBlock(
    {
      header: {
        number: env.number,
        timestamp: env.timestamp,
        gasLimit: env.gasLimit,
        baseFeePerGas: env.baseFee,
        coinbase: env.coinbase,
        mixHash: env.prevRandao,
        parentBeaconBlockRoot: new Uint8Array(32),
      },
    },
    { common, skipConsensusFormatValidation: true },
  );
}
