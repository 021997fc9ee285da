import type { Common } from "@ethereumjs/common";
import { createTxFromRLP } from "@ethereumjs/tx";
import { publicKeyToAddress } from "@staccato/common";

/**
 * A transaction's sender, recovered from its signature. Gossiped mini-blocks carry no senders (the
 * signature proves them); the full node recovers one only when RPC asks, so applying a mini-block
 * stays free of elliptic-curve work.
 */
export function senderOf(raw: Uint8Array, common: Common): Uint8Array {
  return publicKeyToAddress(createTxFromRLP(raw, { common }).getSenderPublicKey());
}
