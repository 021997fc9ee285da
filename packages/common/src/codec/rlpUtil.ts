import { bigIntToUnpaddedBytes, bytesToBigInt, intToUnpaddedBytes } from "@ethereumjs/util";
import { ErrorCode, StaccatoError } from "../errors.ts";

export type RlpItem = Uint8Array | RlpItem[];

/** Bytes that do not decode as what they claim to be. */
export class DecodeError extends StaccatoError {
  constructor(message: string) {
    super(ErrorCode.Decode, message, undefined);
  }
}

export const u = (v: bigint): Uint8Array => bigIntToUnpaddedBytes(v);
export const un = (v: number): Uint8Array => intToUnpaddedBytes(v);

export function bytes(x: RlpItem | undefined, what: string, len?: number): Uint8Array {
  if (!(x instanceof Uint8Array)) throw new DecodeError(`${what}: expected bytes`);
  if (len !== undefined && x.length !== len)
    throw new DecodeError(`${what}: expected ${len} bytes, got ${x.length}`);
  return x;
}

export function list(x: RlpItem | undefined, what: string, len?: number): RlpItem[] {
  if (!Array.isArray(x)) throw new DecodeError(`${what}: expected a list`);
  if (len !== undefined && x.length !== len)
    throw new DecodeError(`${what}: expected ${len} items, got ${x.length}`);
  return x;
}

export function big(x: RlpItem | undefined, what: string): bigint {
  const b = bytes(x, what);
  if (b.length > 32) throw new DecodeError(`${what}: integer too large`);
  if (b.length > 0 && b[0] === 0) throw new DecodeError(`${what}: integer has leading zeros`);
  return bytesToBigInt(b);
}

export function int(x: RlpItem | undefined, what: string): number {
  const v = big(x, what);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError(`${what}: integer too large`);
  return Number(v);
}

/**
 * `RLP.encode` in two passes over the item (lengths, then bytes into one buffer): the same bytes
 * without the intermediate copies `@ethereumjs/rlp` makes at every nesting level, which dominate
 * encoding receipts and mini-blocks.
 */
export function rlpEncode(item: RlpItem): Uint8Array {
  const lengths: number[] = [];
  const out = new Uint8Array(measure(item, lengths));
  const at = { pos: 0, list: 0 };
  write(item, out, at, lengths);
  return out;
}

function headerLength(len: number): number {
  if (len < 56) return 1;
  let n = 1;
  for (let v = len; v >= 256; v = Math.floor(v / 256)) n++;
  return 1 + n;
}

/** Encoded length of `item`; every list's payload length is appended to `lengths` in pre-order. */
function measure(item: RlpItem, lengths: number[]): number {
  if (item instanceof Uint8Array) {
    if (item.length === 1 && item[0]! < 0x80) return 1;
    return headerLength(item.length) + item.length;
  }
  const slot = lengths.length;
  lengths.push(0);
  let payload = 0;
  for (const child of item) payload += measure(child, lengths);
  lengths[slot] = payload;
  return headerLength(payload) + payload;
}

function writeHeader(out: Uint8Array, at: { pos: number }, len: number, offset: number): void {
  if (len < 56) {
    out[at.pos++] = offset + len;
    return;
  }
  const n = headerLength(len) - 1;
  out[at.pos++] = offset + 55 + n;
  for (let i = n - 1; i >= 0; i--) {
    out[at.pos + i] = len % 256;
    len = Math.floor(len / 256);
  }
  at.pos += n;
}

function write(item: RlpItem, out: Uint8Array, at: { pos: number; list: number }, lengths: number[]): void {
  if (item instanceof Uint8Array) {
    if (item.length === 1 && item[0]! < 0x80) {
      out[at.pos++] = item[0]!;
      return;
    }
    writeHeader(out, at, item.length, 0x80);
    out.set(item, at.pos);
    at.pos += item.length;
    return;
  }
  writeHeader(out, at, lengths[at.list++]!, 0xc0);
  for (const child of item) write(child, out, at, lengths);
}

/**
 * The encoding of the list `listBytes` encodes with one more item, `item` (already encoded),
 * appended: the list's items are copied, not encoded again.
 */
export function rlpAppend(listBytes: Uint8Array, item: Uint8Array): Uint8Array {
  const b0 = listBytes[0];
  if (b0 === undefined || b0 < 0xc0) throw new DecodeError("rlp: not a list");
  const start = b0 <= 0xf7 ? 1 : 1 + (b0 - 0xf7);
  const len = listBytes.length - start + item.length;
  const at = { pos: 0 };
  const out = new Uint8Array(headerLength(len) + len);
  writeHeader(out, at, len, 0xc0);
  out.set(listBytes.subarray(start), at.pos);
  out.set(item, out.length - item.length);
  return out;
}

/**
 * The encoding of a list whose items are given already encoded, back to back in `parts`, after
 * `lead` (bytes placed before the list, e.g. a transaction's type byte).
 */
export function rlpListOf(parts: readonly Uint8Array[], lead?: Uint8Array): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const pre = lead?.length ?? 0;
  const out = new Uint8Array(pre + headerLength(len) + len);
  if (lead !== undefined) out.set(lead, 0);
  const at = { pos: pre };
  writeHeader(out, at, len, 0xc0);
  for (const p of parts) {
    out.set(p, at.pos);
    at.pos += p.length;
  }
  return out;
}

/** Deeper nesting than any payload of ours is refused instead of recursing on. */
const MAX_RLP_DEPTH = 32;

/**
 * `RLP.decode` without the copies: strings come back as views into `data` (keep `data` unchanged
 * while they are in use). Canonical encodings only, like `@ethereumjs/rlp`; trailing bytes,
 * truncation, non-canonical lengths and nesting deeper than 32 are a `DecodeError`.
 */
export function rlpDecode(data: Uint8Array): RlpItem {
  const { item, end } = decodeAt(data, 0, data.length, 0);
  if (end !== data.length) throw new DecodeError("rlp: trailing bytes");
  return item;
}

function decodeAt(d: Uint8Array, pos: number, limit: number, depth: number): { item: RlpItem; end: number } {
  if (pos >= limit) throw new DecodeError("rlp: truncated");
  const p = d[pos]!;
  if (p < 0x80) return { item: d.subarray(pos, pos + 1), end: pos + 1 };
  let start: number;
  let len: number;
  if (p <= 0xb7 || (p >= 0xc0 && p <= 0xf7)) {
    start = pos + 1;
    len = p - (p <= 0xb7 ? 0x80 : 0xc0);
  } else {
    const ll = p - (p <= 0xbf ? 0xb7 : 0xf7);
    if (pos + 1 + ll > limit) throw new DecodeError("rlp: truncated length");
    if (d[pos + 1] === 0) throw new DecodeError("rlp: length with leading zeros");
    len = 0;
    for (let i = 0; i < ll; i++) len = len * 256 + d[pos + 1 + i]!;
    if (len < 56) throw new DecodeError("rlp: long form for a short length");
    start = pos + 1 + ll;
  }
  const end = start + len;
  if (end > limit) throw new DecodeError("rlp: truncated");
  if (p < 0xc0) {
    if (len === 1 && d[start]! < 0x80) throw new DecodeError("rlp: single byte below 0x80 with a prefix");
    return { item: d.subarray(start, end), end };
  }
  if (depth >= MAX_RLP_DEPTH) throw new DecodeError("rlp: nested too deeply");
  const items: RlpItem[] = [];
  for (let at = start; at < end; ) {
    const child = decodeAt(d, at, end, depth + 1);
    items.push(child.item);
    at = child.end;
  }
  return { item: items, end };
}
