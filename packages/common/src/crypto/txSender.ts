import type { Common } from "@ethereumjs/common";
import { createTxFromRLP } from "@ethereumjs/tx";
import { publicKeyToAddress } from "./secp256k1.ts";

/**
 * A raw signed transaction's sender, recovered from its signature (native ecrecover, the fast
 * keccak for the address). Throws when the transaction does not decode or its signature does not
 * recover.
 */
export function senderOf(raw: Uint8Array, common: Common): Uint8Array {
  return publicKeyToAddress(createTxFromRLP(raw, { common, freeze: false }).getSenderPublicKey());
}
