import { equalsBytes } from "@ethereumjs/util";
import { keccak256 } from "../crypto/keccak.ts";
import {
  type AccountDiff,
  DIFF_FLAG_CREATED,
  DIFF_FLAG_DELETED,
  type StateDiff,
} from "../state/stateDiff.ts";
import type { Receipt } from "../types/chain.ts";
import { bigToBytes, bytesToBig } from "../util/hex.ts";
import { DecodeError } from "./rlpUtil.ts";

/**
 * The compact wire encoding of a mini-block's state diff (DESIGN §3), version 1.
 *
 * It is encoded in the context of the mini-block that carries it: an *address book* built from
 * the mini-block's own transactions and receipts (each transaction's `to`, then each of its logs'
 * address and address-shaped topics, first occurrence only). Those bytes are on the wire anyway,
 * so an account or a mapping slot derived from an address in the book costs an index, not 20 or
 * 32 bytes. The encoding is then laid out column by column (all address references, then all
 * flags, nonces, balances, code, slot keys, slot values) so that the Brotli pass of the envelope
 * finds the repetition between like fields.
 *
 *   u8      version (1)
 *   varint  account count
 *   per account   varint address reference: 0 = a literal address (next 20 bytes of the literal
 *                 column, then appended to the book), k > 0 = book entry k - 1
 *   per account   u8 flags: created 1, deleted 2, nonce 4, balance 8, code 16, storage 32
 *   per nonce     varint
 *   per balance   u8 length (0..32), big-endian bytes without leading zeros
 *   per code      varint length, bytes
 *   per account with storage: varint slot count
 *   per slot      varint key tag: 0 = 32 literal bytes; 1 = u8 length (0..31) then the key's
 *                 big-endian bytes without leading zeros (small slot numbers); t >= 2 = a mapping
 *                 slot keccak256(pad32(book[i]) ‖ pad32(t - 2)), then varint i
 *   per slot      u8 length (0..32), value bytes (empty = zero)
 *   literal addresses, 20 bytes each
 *
 * Decoding is bounded by the input: every count is checked against the bytes left before
 * anything is allocated, and any malformed, truncated or trailing input is a `DecodeError`.
 */

export const STATE_DIFF_VERSION = 1;

const F_CREATED = 1;
const F_DELETED = 2;
const F_NONCE = 4;
const F_BALANCE = 8;
const F_CODE = 16;
const F_STORAGE = 32;
const KNOWN_FLAGS = F_CREATED | F_DELETED | F_NONCE | F_BALANCE | F_CODE | F_STORAGE;

const TAG_LITERAL = 0;
const TAG_SHORT = 1;
const TAG_MAPPING = 2;
/** Mapping slot numbers the encoder tries (Solidity lays out a contract's mappings from slot 0). */
const SEARCH_MAPPING_SLOTS = 16;
/** The decoder accepts any mapping slot number below this. */
const MAX_MAPPING_SLOT = 1 << 30;
const ZERO12 = new Uint8Array(12);

// ---------- address book ----------

/** The `to` of a raw transaction (legacy or typed), or null (creation, unknown type, garbage). */
function txTo(raw: Uint8Array): Uint8Array | null {
  if (raw.length === 0) return null;
  const type = raw[0]!;
  if (type >= 0xc0) return rlpListItem(raw, 0, 3);
  if (type === 1) return rlpListItem(raw, 1, 4);
  if (type === 2 || type === 3 || type === 4) return rlpListItem(raw, 1, 5);
  return null;
}

/**
 * Item `index` of the RLP list at `at`, if it is a 20-byte string; null for anything else (a
 * shorter or malformed list included). Walks the headers without decoding the rest.
 */
function rlpListItem(b: Uint8Array, at: number, index: number): Uint8Array | null {
  const list = rlpHeader(b, at);
  if (list === null || !list.list) return null;
  let pos = list.start;
  const end = list.start + list.length;
  for (let i = 0; pos < end; i++) {
    const item = rlpHeader(b, pos);
    if (item === null || item.start + item.length > end) return null;
    if (i === index) return !item.list && item.length === 20 ? b.subarray(item.start, item.start + 20) : null;
    pos = item.start + item.length;
  }
  return null;
}

function rlpHeader(b: Uint8Array, at: number): { list: boolean; start: number; length: number } | null {
  if (at >= b.length) return null;
  const p = b[at]!;
  let list = false;
  let start: number;
  let length: number;
  if (p < 0x80) return { list: false, start: at, length: 1 };
  if (p <= 0xb7) {
    start = at + 1;
    length = p - 0x80;
  } else if (p <= 0xbf || p >= 0xf8) {
    list = p >= 0xf8;
    const n = p - (list ? 0xf7 : 0xb7);
    if (n > 4 || at + 1 + n > b.length) return null;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + b[at + 1 + i]!;
    start = at + 1 + n;
  } else {
    list = true;
    start = at + 1;
    length = p - 0xc0;
  }
  return start + length <= b.length ? { list, start, length } : null;
}

function isAddressWord(t: Uint8Array): boolean {
  if (t.length !== 32) return false;
  for (let i = 0; i < 12; i++) if (t[i] !== 0) return false;
  for (let i = 12; i < 32; i++) if (t[i] !== 0) return true;
  return false;
}

/**
 * The addresses a diff can refer to by index, in book order. Looked up by a 32-bit prefix and then
 * compared, so building a book allocates no strings.
 */
class AddressBook {
  readonly list: Uint8Array[] = [];
  private readonly index = new Map<number, number | number[]>();

  constructor(txs: readonly Uint8Array[], receipts: readonly Receipt[]) {
    for (let i = 0; i < txs.length; i++) {
      const to = txTo(txs[i]!);
      if (to !== null) this.add(to);
      for (const log of receipts[i]?.logs ?? []) {
        this.add(log.address);
        for (let k = 1; k < log.topics.length; k++) {
          const t = log.topics[k]!;
          if (isAddressWord(t)) this.add(t.subarray(12));
        }
      }
    }
  }

  add(address: Uint8Array): void {
    const h = prefix(address);
    const at = this.index.get(h);
    if (at === undefined) {
      this.index.set(h, this.list.length);
    } else if (typeof at === "number") {
      if (equal20(this.list[at]!, address)) return;
      this.index.set(h, [at, this.list.length]);
    } else {
      for (const i of at) if (equal20(this.list[i]!, address)) return;
      at.push(this.list.length);
    }
    this.list.push(address);
  }

  find(address: Uint8Array): number | undefined {
    const at = this.index.get(prefix(address));
    if (at === undefined) return undefined;
    if (typeof at === "number") return equal20(this.list[at]!, address) ? at : undefined;
    for (const i of at) if (equal20(this.list[i]!, address)) return i;
    return undefined;
  }
}

const prefix = (b: Uint8Array): number => ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;

function equal20(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 20; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** keccak256(pad32(address) ‖ pad32(n)): where Solidity keeps `mapping(address => …)` at slot n. */
function mappingSlot(address: Uint8Array, n: number): Uint8Array {
  const pre = new Uint8Array(64);
  pre.set(address, 12);
  let v = n;
  for (let i = 63; v > 0; i--) {
    pre[i] = v & 0xff;
    v = Math.floor(v / 256);
  }
  return keccak256(pre);
}

/**
 * Mapping slots of recently seen addresses, shared by every encode: the same senders and tokens
 * recur mini-block after mini-block, so their slots are hashed once. Bounded; only how well a
 * diff compresses depends on it, never what it decodes to.
 */
interface KnownSlot {
  key: Uint8Array;
  address: Uint8Array;
  n: number;
}
const slotCache = new Map<number, KnownSlot | KnownSlot[]>();
const learned = new Map<number, Uint8Array | Uint8Array[]>();
let learnedCount = 0;
const SLOT_CACHE_ADDRESSES = 50_000;

function learnAddress(address: Uint8Array): void {
  const h = prefix(address);
  const seen = learned.get(h);
  if (seen !== undefined) {
    if (seen instanceof Uint8Array) {
      if (equal20(seen, address)) return;
      learned.set(h, [seen, address]);
    } else {
      if (seen.some((a) => equal20(a, address))) return;
      seen.push(address);
    }
  } else {
    if (learnedCount >= SLOT_CACHE_ADDRESSES) {
      learned.clear();
      slotCache.clear();
      learnedCount = 0;
    }
    learned.set(h, address);
  }
  learnedCount++;
  for (let n = 0; n < SEARCH_MAPPING_SLOTS; n++) {
    const key = mappingSlot(address, n);
    const entry: KnownSlot = { key, address, n };
    const kh = prefix(key);
    const at = slotCache.get(kh);
    if (at === undefined) slotCache.set(kh, entry);
    else if (Array.isArray(at)) at.push(entry);
    else slotCache.set(kh, [at, entry]);
  }
}

function knownSlot(key: Uint8Array): KnownSlot | undefined {
  const at = slotCache.get(prefix(key));
  if (at === undefined) return undefined;
  if (!Array.isArray(at)) return equalsBytes(at.key, key) ? at : undefined;
  return at.find((e) => equalsBytes(e.key, key));
}

// ---------- writer / reader ----------

class Writer {
  private buf = new Uint8Array(256);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  varint(n: number): void {
    this.room(8);
    while (n >= 0x80) {
      this.buf[this.length++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.length++] = n;
  }

  bigVarint(n: bigint): void {
    this.room(40);
    while (n >= 0x80n) {
      this.buf[this.length++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
    }
    this.buf[this.length++] = Number(n);
  }

  /** u8 length, then the bytes. */
  short(b: Uint8Array): void {
    this.byte(b.length);
    this.bytes(b);
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

class Reader {
  pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  get left(): number {
    return this.buf.length - this.pos;
  }

  byte(what: string): number {
    if (this.pos >= this.buf.length) throw new DecodeError(`state diff: truncated at ${what}`);
    return this.buf[this.pos++]!;
  }

  bytes(n: number, what: string): Uint8Array {
    if (n > this.left) throw new DecodeError(`state diff: truncated at ${what}`);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** An unsigned LEB128 integer below `max`, minimally encoded. */
  varint(what: string, max: number): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      const b = this.byte(what);
      n += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw new DecodeError(`state diff: ${what}: non-minimal varint`);
        break;
      }
      scale *= 0x80;
      if (i >= 7) throw new DecodeError(`state diff: ${what}: varint too long`);
    }
    if (n >= max) throw new DecodeError(`state diff: ${what}: ${n} out of range`);
    return n;
  }

  bigVarint(what: string, maxBits: number): bigint {
    let n = 0n;
    let shift = 0n;
    for (let i = 0; ; i++) {
      const b = this.byte(what);
      n |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw new DecodeError(`state diff: ${what}: non-minimal varint`);
        break;
      }
      shift += 7n;
      if (shift >= BigInt(maxBits) + 7n) throw new DecodeError(`state diff: ${what}: varint too long`);
    }
    if (n >> BigInt(maxBits) !== 0n) throw new DecodeError(`state diff: ${what}: out of range`);
    return n;
  }

  /** u8 length (at most `max`), then that many bytes. */
  short(what: string, max: number): Uint8Array {
    const len = this.byte(what);
    if (len > max) throw new DecodeError(`state diff: ${what}: length ${len} over ${max}`);
    return this.bytes(len, what);
  }
}

function stripZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

// ---------- encode ----------

/**
 * Encodes a mini-block's diff against the address book of its transactions and receipts (which
 * travel with it). `decodeStateDiff` with the same transactions and receipts gives it back exactly.
 */
export function encodeStateDiff(
  diff: StateDiff,
  txs: readonly Uint8Array[],
  receipts: readonly Receipt[],
): Uint8Array {
  const book = new AddressBook(txs, receipts);
  const head = new Writer();
  const refs = new Writer();
  const flags = new Writer();
  const nonces = new Writer();
  const balances = new Writer();
  const codes = new Writer();
  const counts = new Writer();
  const keys = new Writer();
  const values = new Writer();
  const literals = new Writer();

  head.byte(STATE_DIFF_VERSION);
  head.varint(diff.length);
  for (const d of diff) {
    if (d.address.length !== 20) throw new RangeError(`state diff: address of ${d.address.length} bytes`);
    const at = book.find(d.address);
    if (at === undefined) {
      refs.varint(0);
      literals.bytes(d.address);
      book.add(d.address);
    } else {
      refs.varint(at + 1);
    }
  }
  let needSlots = false;
  for (const d of diff) if (d.storage.length > 0) needSlots = true;
  if (needSlots) for (const a of book.list) learnAddress(a);

  for (const d of diff) {
    let f = d.flags & (F_CREATED | F_DELETED);
    if (d.nonce !== undefined) f |= F_NONCE;
    if (d.balance !== undefined) f |= F_BALANCE;
    if (d.code !== undefined) f |= F_CODE;
    if (d.storage.length > 0) f |= F_STORAGE;
    flags.byte(f);
    if (d.nonce !== undefined) {
      if (d.nonce < 0n || d.nonce >= 2n ** 256n) throw new RangeError("state diff: nonce out of range");
      nonces.bigVarint(d.nonce);
    }
    if (d.balance !== undefined) {
      if (d.balance < 0n || d.balance >= 2n ** 256n) throw new RangeError("state diff: balance out of range");
      balances.short(bigToBytes(d.balance));
    }
    if (d.code !== undefined) {
      codes.varint(d.code.length);
      codes.bytes(d.code);
    }
    if (d.storage.length === 0) continue;
    counts.varint(d.storage.length);
    for (const [key, value] of d.storage) {
      writeKey(keys, key, book);
      if (value.length > 32) throw new RangeError(`state diff: slot value of ${value.length} bytes`);
      values.short(value);
    }
  }
  const parts = [head, refs, flags, nonces, balances, codes, counts, keys, values, literals];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p.result(), off);
    off += p.length;
  }
  return out;
}

function writeKey(w: Writer, key: Uint8Array, book: AddressBook): void {
  if (key.length !== 32) throw new RangeError(`state diff: slot key of ${key.length} bytes`);
  const small = stripZeros(key);
  if (small.length <= 8) {
    w.varint(TAG_SHORT);
    w.short(small);
    return;
  }
  const m = knownSlot(key);
  if (m !== undefined) {
    const i = book.find(m.address);
    if (i !== undefined) {
      w.varint(TAG_MAPPING + m.n);
      w.varint(i);
      return;
    }
  }
  if (small.length < 32) {
    w.varint(TAG_SHORT);
    w.short(small);
    return;
  }
  w.varint(TAG_LITERAL);
  w.bytes(key);
}

// ---------- decode ----------

/** Decodes `encodeStateDiff` output; `txs` and `receipts` are the carrying mini-block's. */
export function decodeStateDiff(
  data: Uint8Array,
  txs: readonly Uint8Array[],
  receipts: readonly Receipt[],
): StateDiff {
  const r = new Reader(data);
  const version = r.byte("version");
  if (version !== STATE_DIFF_VERSION) throw new DecodeError(`state diff: unknown version ${version}`);
  // Each account costs at least two bytes (its reference and its flags).
  const count = r.varint("account count", Math.floor(r.left / 2) + 1);
  const book = new AddressBook(txs, receipts);
  const refs = new Array<number>(count);
  let literalCount = 0;
  for (let i = 0; i < count; i++) {
    refs[i] = r.varint("address reference", book.list.length + literalCount + 1);
    if (refs[i] === 0) literalCount++;
  }
  const flags = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const f = r.byte("flags");
    if ((f & ~KNOWN_FLAGS) !== 0) throw new DecodeError(`state diff: account ${i}: unknown flags ${f}`);
    flags[i] = f;
  }
  const out: AccountDiff[] = flags.map((f) => ({
    address: ZERO12,
    flags: f & (DIFF_FLAG_CREATED | DIFF_FLAG_DELETED),
    storage: [],
  }));
  for (let i = 0; i < count; i++) if ((flags[i]! & F_NONCE) !== 0) out[i]!.nonce = r.bigVarint("nonce", 256);
  for (let i = 0; i < count; i++) {
    if ((flags[i]! & F_BALANCE) === 0) continue;
    const b = r.short("balance", 32);
    if (b.length > 0 && b[0] === 0) throw new DecodeError("state diff: balance has leading zeros");
    out[i]!.balance = bytesToBig(b);
  }
  for (let i = 0; i < count; i++) {
    if ((flags[i]! & F_CODE) === 0) continue;
    out[i]!.code = r.bytes(r.varint("code length", r.left + 1), "code");
  }
  const slotCounts = new Array<number>(count).fill(0);
  let totalSlots = 0;
  for (let i = 0; i < count; i++) {
    if ((flags[i]! & F_STORAGE) === 0) continue;
    // Each slot costs at least two bytes (its key tag and its value length).
    const n = r.varint("slot count", Math.floor(r.left / 2) + 1);
    if (n === 0) throw new DecodeError("state diff: storage flag with no slots");
    slotCounts[i] = n;
    totalSlots += n;
    if (totalSlots * 2 > r.left) throw new DecodeError("state diff: truncated at slots");
  }
  // Literal addresses sit at the end; the book must be complete before mapping keys resolve.
  const literalsAt = data.length - literalCount * 20;
  if (literalsAt < r.pos) throw new DecodeError("state diff: truncated at literal addresses");
  let lit = literalsAt;
  for (let i = 0; i < count; i++) {
    if (refs[i] === 0) {
      const address = data.slice(lit, lit + 20);
      lit += 20;
      out[i]!.address = address;
      book.add(address);
    } else {
      const address = book.list[refs[i]! - 1];
      if (address === undefined) throw new DecodeError(`state diff: account ${i}: bad address reference`);
      out[i]!.address = address.slice();
    }
  }
  const keyList: Uint8Array[] = new Array(totalSlots);
  for (let s = 0; s < totalSlots; s++) keyList[s] = readKey(r, book);
  let s = 0;
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < slotCounts[i]!; k++) {
      const value = r.short("slot value", 32);
      out[i]!.storage.push([keyList[s++]!, value]);
    }
  }
  if (r.pos !== literalsAt) throw new DecodeError("state diff: trailing bytes");
  return out;
}

function readKey(r: Reader, book: AddressBook): Uint8Array {
  const tag = r.varint("slot key tag", TAG_MAPPING + MAX_MAPPING_SLOT);
  if (tag === TAG_LITERAL) return r.bytes(32, "slot key");
  if (tag === TAG_SHORT) {
    const b = r.short("slot key", 31);
    if (b.length > 0 && b[0] === 0) throw new DecodeError("state diff: short slot key not minimal");
    const key = new Uint8Array(32);
    key.set(b, 32 - b.length);
    return key;
  }
  const i = r.varint("mapping address", book.list.length);
  return mappingSlot(book.list[i]!, tag - TAG_MAPPING);
}
