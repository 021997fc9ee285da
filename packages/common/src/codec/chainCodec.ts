import { RLP } from "@ethereumjs/rlp";
import { keccak256 } from "../crypto/keccak.ts";
import {
  type AccountDiff,
  DIFF_FLAG_CREATED,
  DIFF_FLAG_DELETED,
  type StateDiff,
} from "../state/stateDiff.ts";
import type { BlockSeal, Log, MiniBlock, Receipt, SignedMiniBlock } from "../types/chain.ts";
import {
  type RlpItem,
  DecodeError,
  big,
  bytes,
  int,
  list,
  rlpAppend,
  rlpDecode,
  rlpEncode,
  u,
  un,
} from "./rlpUtil.ts";
import { decodeStateDiff, encodeStateDiff } from "./stateDiffCodec.ts";

export { STATE_DIFF_VERSION, decodeStateDiff, encodeStateDiff } from "./stateDiffCodec.ts";

// Field-presence bits stored beside the created/deleted flags of an account diff.
const HAS_NONCE = 4;
const HAS_BALANCE = 8;
const HAS_CODE = 16;
const KNOWN_FLAGS = DIFF_FLAG_CREATED | DIFF_FLAG_DELETED | HAS_NONCE | HAS_BALANCE | HAS_CODE;
const EMPTY = new Uint8Array(0);

/**
 * The plain RLP form of a diff (every account with its changed fields, full slot keys): used for
 * state snapshots. Mini-blocks carry the compact encoding of `stateDiffCodec.ts` instead.
 */
export function stateDiffToRlp(diff: StateDiff): RlpItem[] {
  return diff.map((d) => {
    let flags = d.flags;
    if (d.nonce !== undefined) flags |= HAS_NONCE;
    if (d.balance !== undefined) flags |= HAS_BALANCE;
    if (d.code !== undefined) flags |= HAS_CODE;
    return [
      d.address,
      un(flags),
      d.nonce !== undefined ? u(d.nonce) : EMPTY,
      d.balance !== undefined ? u(d.balance) : EMPTY,
      d.code ?? EMPTY,
      d.storage.map(([k, v]) => [k, v]),
    ];
  });
}

export function stateDiffFromRlp(item: RlpItem | undefined): StateDiff {
  return list(item, "diff").map((raw, i) => {
    const what = `diff[${i}]`;
    const [address, flagsRaw, nonce, balance, code, storage] = list(raw, what, 6);
    const flags = int(flagsRaw, `${what}.flags`);
    if ((flags & ~KNOWN_FLAGS) !== 0) throw new DecodeError(`${what}: unknown flags ${flags}`);
    const d: AccountDiff = {
      address: bytes(address, `${what}.address`, 20),
      flags: flags & (DIFF_FLAG_CREATED | DIFF_FLAG_DELETED),
      storage: list(storage, `${what}.storage`).map((kv, j) => {
        const [k, v] = list(kv, `${what}.storage[${j}]`, 2);
        const value = bytes(v, `${what}.storage[${j}].value`);
        if (value.length > 32) throw new DecodeError(`${what}.storage[${j}]: value longer than 32 bytes`);
        return [bytes(k, `${what}.storage[${j}].key`, 32), value];
      }),
    };
    if ((flags & HAS_NONCE) !== 0) d.nonce = big(nonce, `${what}.nonce`);
    if ((flags & HAS_BALANCE) !== 0) d.balance = big(balance, `${what}.balance`);
    if ((flags & HAS_CODE) !== 0) d.code = bytes(code, `${what}.code`);
    return d;
  });
}

function logToRlp(l: Log): RlpItem {
  return [l.address, l.topics, l.data];
}

function logFromRlp(item: RlpItem, what: string): Log {
  const [address, topics, data] = list(item, what, 3);
  return {
    address: bytes(address, `${what}.address`, 20),
    topics: list(topics, `${what}.topics`).map((t, i) => bytes(t, `${what}.topics[${i}]`, 32)),
    data: bytes(data, `${what}.data`),
  };
}

export function receiptToRlp(r: Receipt): RlpItem {
  return [
    un(r.status),
    u(r.cumulativeGasUsed),
    u(r.gasUsed),
    u(r.effectiveGasPrice),
    r.contractAddress ?? EMPTY,
    r.logs.map(logToRlp),
  ];
}

export function receiptFromRlp(item: RlpItem, what: string): Receipt {
  const [status, cumulative, gasUsed, price, contract, logs] = list(item, what, 6);
  const s = int(status, `${what}.status`);
  if (s !== 0 && s !== 1) throw new DecodeError(`${what}.status: expected 0 or 1`);
  const c = bytes(contract, `${what}.contractAddress`);
  if (c.length !== 0 && c.length !== 20) throw new DecodeError(`${what}.contractAddress: bad length`);
  return {
    status: s,
    cumulativeGasUsed: big(cumulative, `${what}.cumulativeGasUsed`),
    gasUsed: big(gasUsed, `${what}.gasUsed`),
    effectiveGasPrice: big(price, `${what}.effectiveGasPrice`),
    contractAddress: c.length === 0 ? null : c,
    logs: list(logs, `${what}.logs`).map((l, i) => logFromRlp(l, `${what}.logs[${i}]`)),
  };
}

/**
 * A mini-block's encoded diff, remembered per diff object (with the transactions and receipts it
 * was encoded against): hashing, signing and logging a mini-block encode it once, and a decoded
 * mini-block re-encodes to the bytes it came in.
 */
const encodedDiffs = new WeakMap<
  StateDiff,
  { txs: readonly Uint8Array[]; receipts: readonly Receipt[]; bytes: Uint8Array }
>();

/** The compact encoding of `m.diff` (DESIGN §3) as it goes on the wire inside the mini-block. */
export function miniBlockDiffBytes(m: Pick<MiniBlock, "diff" | "txs" | "receipts">): Uint8Array {
  const cached = encodedDiffs.get(m.diff);
  if (cached !== undefined && cached.txs === m.txs && cached.receipts === m.receipts) return cached.bytes;
  const bytes = encodeStateDiff(m.diff, m.txs, m.receipts);
  encodedDiffs.set(m.diff, { txs: m.txs, receipts: m.receipts, bytes });
  return bytes;
}

function miniBlockBody(m: MiniBlock): RlpItem[] {
  return [
    u(m.number),
    u(m.blockNumber),
    un(m.index),
    m.parentHash,
    u(m.timestampUs),
    un(m.firstTxIndex),
    un(m.firstLogIndex),
    m.txs,
    m.receipts.map(receiptToRlp),
    miniBlockDiffBytes(m),
    ...(m.blockTimestamp === undefined ? [] : [u(m.blockTimestamp)]),
  ];
}

/** The hash a mini-block is known and signed by: keccak256 of its RLP body. */
export function miniBlockHash(m: MiniBlock): Uint8Array {
  return keccak256(rlpEncode(miniBlockBody(m)));
}

/**
 * A new mini-block's hash, signature and signed encoding, its body encoded once: the hash is of
 * the body, and the signed encoding is the body's list with the signature appended. `sign` signs
 * the hash. The same bytes as `encodeSignedMiniBlock`, for about half the work.
 */
export function sealMiniBlockBytes(
  m: MiniBlock,
  sign: (hash: Uint8Array) => Uint8Array,
): { hash: Uint8Array; signature: Uint8Array; encoded: Uint8Array } {
  const body = rlpEncode(miniBlockBody(m));
  const hash = keccak256(body);
  const signature = sign(hash);
  return { hash, signature, encoded: rlpAppend(body, rlpEncode(signature)) };
}

export function encodeSignedMiniBlock(m: SignedMiniBlock): Uint8Array {
  return rlpEncode([...miniBlockBody(m), m.signature]);
}

/**
 * Decodes a signed mini-block and hashes its body; the signature is NOT checked here. Its
 * transactions, receipts and signature are views into `data`.
 */
export function decodeSignedMiniBlock(data: Uint8Array): SignedMiniBlock {
  let decoded: RlpItem;
  try {
    decoded = rlpDecode(data);
  } catch (err) {
    throw new DecodeError(`mini-block: bad RLP: ${(err as Error).message}`);
  }
  // 12 fields; 11 in mini-blocks encoded before `blockTimestamp` (the signature is always last).
  const f = list(decoded, "mini-block");
  if (f.length !== 11 && f.length !== 12)
    throw new DecodeError(`mini-block: expected 11 or 12 fields, got ${f.length}`);
  const txs = list(f[7], "txs").map((t, i) => bytes(t, `txs[${i}]`));
  const receipts = list(f[8], "receipts").map((r, i) => receiptFromRlp(r, `receipts[${i}]`));
  if (receipts.length !== txs.length) throw new DecodeError("mini-block: receipts do not match txs");
  const diffBytes = bytes(f[9], "diff");
  const diff = decodeStateDiff(diffBytes, txs, receipts);
  encodedDiffs.set(diff, { txs, receipts, bytes: diffBytes });
  const signature = bytes(f[f.length - 1], "signature", 65);
  const m: MiniBlock = {
    number: big(f[0], "number"),
    blockNumber: big(f[1], "blockNumber"),
    index: int(f[2], "index"),
    parentHash: bytes(f[3], "parentHash", 32),
    timestampUs: big(f[4], "timestampUs"),
    firstTxIndex: int(f[5], "firstTxIndex"),
    firstLogIndex: int(f[6], "firstLogIndex"),
    txs,
    receipts,
    diff,
  };
  if (f.length === 12) m.blockTimestamp = big(f[10], "blockTimestamp");
  return { ...m, hash: bodyHash(data), signature };
}

/**
 * keccak256 of the body of an encoded signed mini-block (every field but the trailing 65-byte
 * signature), taken from the received bytes instead of re-encoding what was decoded from them.
 * `rlpDecode` accepts only canonical encodings, so this equals `miniBlockHash` of the decoded
 * mini-block.
 */
function bodyHash(data: Uint8Array): Uint8Array {
  const p = data[0]!;
  const lenOfLen = p >= 0xf8 ? p - 0xf7 : 0;
  const payloadStart = 1 + lenOfLen;
  // The signature is the last item: 0xb8 0x41 and 65 bytes.
  const bodyEnd = data.length - 67;
  if (data[bodyEnd] !== 0xb8 || data[bodyEnd + 1] !== 0x41 || bodyEnd < payloadStart)
    throw new DecodeError("mini-block: signature is not the last field");
  const bodyLen = bodyEnd - payloadStart;
  const header = listHeader(bodyLen);
  const pre = new Uint8Array(header.length + bodyLen);
  pre.set(header);
  pre.set(data.subarray(payloadStart, bodyEnd), header.length);
  return keccak256(pre);
}

function listHeader(len: number): Uint8Array {
  if (len < 56) return Uint8Array.of(0xc0 + len);
  const be: number[] = [];
  for (let v = len; v > 0; v = Math.floor(v / 256)) be.unshift(v % 256);
  return Uint8Array.of(0xf7 + be.length, ...be);
}

export function encodeBlockSeal(b: BlockSeal): Uint8Array {
  return RLP.encode([b.header, b.miniBlockHashes, b.signature]);
}

export function decodeBlockSeal(data: Uint8Array): BlockSeal {
  let decoded: RlpItem;
  try {
    decoded = RLP.decode(data) as RlpItem;
  } catch (err) {
    throw new DecodeError(`block: bad RLP: ${(err as Error).message}`);
  }
  const [header, hashes, signature] = list(decoded, "block", 3);
  const h = bytes(header, "header");
  return {
    header: h,
    hash: keccak256(h),
    miniBlockHashes: list(hashes, "miniBlockHashes").map((x, i) => bytes(x, `miniBlockHashes[${i}]`, 32)),
    signature: bytes(signature, "signature", 65),
  };
}
