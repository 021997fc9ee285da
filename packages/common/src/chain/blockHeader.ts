import { type Block, type BlockHeader, createBlock, createBlockHeader } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { RLP } from "@ethereumjs/rlp";
import { intToBytes } from "@ethereumjs/util";
import { Bloom, encodeReceipt } from "@ethereumjs/vm";
import type { ChainConfig } from "../config/chainConfig.ts";
import { KECCAK256_RLP } from "../crypto/keccak.ts";
import { MemTrie } from "../trie/memTrie.ts";
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

/** Root of a trie keyed by RLP(index): transactionsRoot and receiptsRoot. */
export function orderedTrieRoot(values: readonly Uint8Array[]): Uint8Array {
  if (values.length === 0) return KECCAK256_RLP;
  const trie = new MemTrie({ secure: false });
  for (let i = 0; i < values.length; i++)
    trie.put(RLP.encode(i === 0 ? new Uint8Array(0) : intToBytes(i)), values[i]!);
  return trie.root();
}

/** The consensus encoding of a receipt (EIP-2718 typed), as hashed into receiptsRoot. */
export function encodeConsensusReceipt(r: Receipt, txType: number, bloom: Uint8Array): Uint8Array {
  return encodeReceipt(
    {
      status: r.status,
      cumulativeBlockGasUsed: r.cumulativeGasUsed,
      bitvector: bloom,
      logs: r.logs.map((l) => [l.address, l.topics, l.data]),
    },
    txType as 0,
  );
}

export function receiptBloom(r: Receipt): Uint8Array {
  const bloom = new Bloom();
  for (const l of r.logs) {
    bloom.add(l.address);
    for (const t of l.topics) bloom.add(t);
  }
  return bloom.bitvector;
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
