import type { Common } from "@ethereumjs/common";
import { senderOf } from "../crypto/txSender.ts";
import { keccak256 } from "../crypto/keccak.ts";
import type { Receipt, SignedMiniBlock } from "../types/chain.ts";
import { hexOf } from "../util/hex.ts";
import { receiptBloom } from "./blockHeader.ts";
import { type TxEntry, ZERO_BLOOM } from "./chainStore.ts";

/**
 * A transaction read back from a mini-block (a follower applying it, or history read from disk);
 * its sender is recovered only if someone asks for it and was not stored. Gossiped mini-blocks
 * carry no senders (the signature proves them), so applying a mini-block stays free of
 * elliptic-curve work.
 */
class MiniBlockTx implements TxEntry {
  readonly hashHex: string;
  readonly type: number;
  readonly bloom: Uint8Array;

  constructor(
    readonly raw: Uint8Array,
    private readonly common: Common,
    readonly blockNumber: bigint,
    readonly index: number,
    readonly miniBlockNumber: bigint,
    readonly receipt: Receipt,
    readonly firstLogIndex: number,
    private from: Uint8Array | null,
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

/**
 * The chain-store entries of a mini-block's transactions, and the log index after them.
 * `senders`, when known (the sequencer's history), saves recovering them.
 */
export function miniBlockEntries(
  mb: SignedMiniBlock,
  blockNumber: bigint,
  common: Common,
  senders?: readonly Uint8Array[],
): { entries: TxEntry[]; logIndex: number } {
  let logIndex = mb.firstLogIndex;
  const entries = mb.txs.map((raw, i) => {
    const receipt = mb.receipts[i]!;
    const firstLogIndex = logIndex;
    logIndex += receipt.logs.length;
    return new MiniBlockTx(
      raw,
      common,
      blockNumber,
      mb.firstTxIndex + i,
      mb.number,
      receipt,
      firstLogIndex,
      senders?.[i] ?? null,
    );
  });
  return { entries, logIndex };
}
