import { RLP } from "@ethereumjs/rlp";
import { bytesToHex } from "@ethereumjs/util";
import {
  type BlockEnv,
  type BlockReads,
  DecodeError,
  newBlockReads,
  type RlpItem,
  type SignedMiniBlock,
  big,
  bytes,
  bytesOfHex,
  decodeSignedMiniBlock,
  list,
  u,
} from "@staccato/common";

export function encodeBlockOpen(b: BlockEnv): Uint8Array {
  return RLP.encode([u(b.number), u(b.timestamp), u(b.baseFee), u(b.gasLimit), b.coinbase, b.prevRandao]);
}

export function decodeBlockOpen(data: Uint8Array): BlockEnv {
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

/**
 * A mini-block as logged: the signed mini-block, its senders (so a restart recovers none) and the
 * state keys its transactions read (so a block resealed after a restart still gets its witness).
 */
export function encodeLoggedMiniBlock(
  encodedMiniBlock: Uint8Array,
  senders: Uint8Array[],
  reads: BlockReads,
): Uint8Array {
  return RLP.encode([
    encodedMiniBlock,
    senders,
    [
      [...reads.accounts].map(bytesOfHex),
      [...reads.slots].map(([a, keys]) => [bytesOfHex(a), [...keys].map(bytesOfHex)]),
      [...reads.codeAddrs].map(bytesOfHex),
      [...reads.blockHashes].map((n) => u(n)),
    ],
  ]);
}

function decodeReads(item: RlpItem | undefined): BlockReads {
  const r = newBlockReads();
  const [accounts, slots, codeAddrs, hashes] = list(item, "reads", 4);
  for (const a of list(accounts, "reads.accounts")) r.accounts.add(bytesToHex(bytes(a, "account", 20)));
  for (const e of list(slots, "reads.slots")) {
    const [a, keys] = list(e, "reads.slots[]", 2);
    r.slots.set(
      bytesToHex(bytes(a, "slot owner", 20)),
      new Set(list(keys, "keys").map((k) => bytesToHex(bytes(k, "slot", 32)))),
    );
  }
  for (const a of list(codeAddrs, "reads.codeAddrs"))
    r.codeAddrs.add(bytesToHex(bytes(a, "code address", 20)));
  for (const n of list(hashes, "reads.blockHashes")) r.blockHashes.add(big(n, "block number"));
  return r;
}

export function decodeLoggedMiniBlock(data: Uint8Array): {
  mb: SignedMiniBlock;
  encoded: Uint8Array;
  senders: Uint8Array[];
  /** Null in records written before reads were logged. */
  reads: BlockReads | null;
} {
  const fields = list(RLP.decode(data) as RlpItem, "logged mini-block");
  if (fields.length !== 2 && fields.length !== 3)
    throw new DecodeError("logged mini-block: expected 2 or 3 items");
  const [mbBytes, senders, reads] = fields;
  const encoded = bytes(mbBytes, "mini-block");
  const mb = decodeSignedMiniBlock(encoded);
  const s = list(senders, "senders").map((x, i) => bytes(x, `senders[${i}]`, 20));
  if (s.length !== mb.txs.length) throw new DecodeError("logged mini-block: senders do not match txs");
  return { mb, encoded, senders: s, reads: reads === undefined ? null : decodeReads(reads) };
}
