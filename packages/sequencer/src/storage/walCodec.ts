import { RLP } from "@ethereumjs/rlp";
import {
  DecodeError,
  type RlpItem,
  type SignedMiniBlock,
  big,
  bytes,
  decodeSignedMiniBlock,
  list,
  u,
} from "@staccato/common";

export interface BlockEnvRecord {
  number: bigint;
  timestamp: bigint;
  baseFee: bigint;
  gasLimit: bigint;
  coinbase: Uint8Array;
  prevRandao: Uint8Array;
}

export function encodeBlockOpen(b: BlockEnvRecord): Uint8Array {
  return RLP.encode([u(b.number), u(b.timestamp), u(b.baseFee), u(b.gasLimit), b.coinbase, b.prevRandao]);
}

export function decodeBlockOpen(data: Uint8Array): BlockEnvRecord {
  const f = list(RLP.decode(data) as RlpItem, "block-open", 6);
  return {
    number: big(f[0], "number"),
    timestamp: big(f[1], "timestamp"),
    baseFee: big(f[2], "baseFee"),
    gasLimit: big(f[3], "gasLimit"),
    coinbase: bytes(f[4], "coinbase", 20),
    prevRandao: bytes(f[5], "prevRandao", 32),
  };
}

/** A mini-block as logged: the signed mini-block plus its senders, so a restart recovers none. */
export function encodeLoggedMiniBlock(encodedMiniBlock: Uint8Array, senders: Uint8Array[]): Uint8Array {
  return RLP.encode([encodedMiniBlock, senders]);
}

export function decodeLoggedMiniBlock(data: Uint8Array): {
  mb: SignedMiniBlock;
  encoded: Uint8Array;
  senders: Uint8Array[];
} {
  const [mbBytes, senders] = list(RLP.decode(data) as RlpItem, "logged mini-block", 2);
  const encoded = bytes(mbBytes, "mini-block");
  const mb = decodeSignedMiniBlock(encoded);
  const s = list(senders, "senders").map((x, i) => bytes(x, `senders[${i}]`, 20));
  if (s.length !== mb.txs.length) throw new DecodeError("logged mini-block: senders do not match txs");
  return { mb, encoded, senders: s };
}
