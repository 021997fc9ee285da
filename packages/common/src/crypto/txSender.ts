import type { Common } from "@ethereumjs/common";
import { createTxFromRLP } from "@ethereumjs/tx";
import { TxDecoder } from "../chain/txFields.ts";
import { publicKeyToAddress } from "./secp256k1.ts";

const decoders = new WeakMap<Common, TxDecoder | null>();

/**
 * A raw signed transaction's sender, recovered from its signature (native ecrecover, the fast
 * keccak for the address). Straight from the raw bytes where `TxDecoder` takes the transaction
 * (a third of the cost of building it with `@ethereumjs/tx`), else through `@ethereumjs/tx`.
 * Throws when the transaction does not decode or its signature does not recover.
 */
export function senderOf(raw: Uint8Array, common: Common): Uint8Array {
  let decoder = decoders.get(common);
  if (decoder === undefined) {
    decoder = TxDecoder.create(common);
    decoders.set(common, decoder);
  }
  const fast = decoder?.decode(raw) ?? null;
  if (fast !== null) return fast.recoverSender();
  return publicKeyToAddress(createTxFromRLP(raw, { common, freeze: false }).getSenderPublicKey());
}
