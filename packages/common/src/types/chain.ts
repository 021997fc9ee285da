import type { StateDiff } from "../state/stateDiff.ts";

export interface Log {
  address: Uint8Array;
  topics: Uint8Array[];
  data: Uint8Array;
}

/** A receipt as it is kept and shipped: positions are final from the moment its mini-block seals. */
export interface Receipt {
  status: 0 | 1;
  /** Cumulative gas used in the block up to and including this transaction. */
  cumulativeGasUsed: bigint;
  gasUsed: bigint;
  effectiveGasPrice: bigint;
  contractAddress: Uint8Array | null;
  logs: Log[];
}

/**
 * The real-time unit (DESIGN §1): the transactions executed in one `--mini-block-ms` tick, their
 * receipts and the state diff they produced. No state root.
 */
export interface MiniBlock {
  /** Global mini-block number, from 1. */
  number: bigint;
  blockNumber: bigint;
  /** Position within its block, from 0. */
  index: number;
  parentHash: Uint8Array;
  timestampUs: bigint;
  /**
   * The timestamp (seconds) of the block it belongs to, fixed when the block opened: a follower
   * knows the block's environment (TIMESTAMP, `blockTimestamp`) before the seal. Absent in
   * mini-blocks encoded before it was added.
   */
  blockTimestamp?: bigint;
  /** Index of the first transaction within its block, and of the first log. */
  firstTxIndex: number;
  firstLogIndex: number;
  txs: Uint8Array[];
  receipts: Receipt[];
  diff: StateDiff;
}

export interface SignedMiniBlock extends MiniBlock {
  hash: Uint8Array;
  signature: Uint8Array;
}

/** The parts of a sealed block beyond its header. */
export interface BlockSeal {
  /** RLP of the Ethereum block header. */
  header: Uint8Array;
  hash: Uint8Array;
  miniBlockHashes: Uint8Array[];
  signature: Uint8Array;
}

/** Where one transaction lives. */
export interface TxLocation {
  blockNumber: bigint;
  index: number;
  miniBlockNumber: bigint;
}
