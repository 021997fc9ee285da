import type { Common } from "@ethereumjs/common";
import {
  type Receipt,
  type SignedMiniBlock,
  type TxEntry,
  ZERO_BLOOM,
  hexOf,
  keccak256,
  receiptBloom,
  senderOf,
} from "@staccato/common";

/**
 * An applied transaction; its sender is recovered only if someone asks for it. Gossiped
 * mini-blocks carry no senders (the signature proves them), so applying a mini-block stays free
 * of elliptic-curve work.
 */
class ReplicaTx implements TxEntry {
  readonly hashHex: string;
  readonly type: number;
  readonly bloom: Uint8Array;
  private from: Uint8Array | null = null;

  constructor(
    readonly raw: Uint8Array,
    private readonly common: Common,
    readonly blockNumber: bigint,
    readonly index: number,
    readonly miniBlockNumber: bigint,
    readonly receipt: Receipt,
    readonly firstLogIndex: number,
  ) {
    this.hashHex = hexOf(keccak256(raw));
    this.type = raw[0]! <= 0x7f ? raw[0]! : 0;
    this.bloom = receipt.logs.length === 0 ? ZERO_BLOOM : receiptBloom(receipt);
  }

  get sender(): Uint8Array {
    this.from ??= senderOf(this.raw, this.common);
    return this.from;
  }
}

/** The chain-store entries of a mini-block's transactions, and the log index after them. */
export function replicaEntries(
  mb: SignedMiniBlock,
  blockNumber: bigint,
  common: Common,
): { entries: TxEntry[]; logIndex: number } {
  let logIndex = mb.firstLogIndex;
  const entries = mb.txs.map((raw, i) => {
    const receipt = mb.receipts[i]!;
    const firstLogIndex = logIndex;
    logIndex += receipt.logs.length;
    return new ReplicaTx(raw, common, blockNumber, mb.firstTxIndex + i, mb.number, receipt, firstLogIndex);
  });
  return { entries, logIndex };
}
