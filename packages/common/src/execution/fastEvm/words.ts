/**
 * 256-bit words as the fast EVM keeps them: non-negative bigints below 2^256 on the stack,
 * big-endian bytes in memory and state, lower-case 0x hex as `MemoryState` keys.
 */

export const MAX256 = (1n << 256n) - 1n;
export const MASK160 = (1n << 160n) - 1n;
export const SIGN_BIT = 1n << 255n;
const TWO64 = 1n << 64n;
const TWO128 = 1n << 128n;
export const EMPTY = new Uint8Array(0);
/** Conversion scratch space (single-threaded, never held across calls). */
const SCRATCH_WORD = new Uint8Array(32);
const SCRATCH_VIEW = new DataView(SCRATCH_WORD.buffer);

/** Below this, `small` hands out a shared BigInt rather than a new one. */
const SMALL_N = 4096;
const SMALL: readonly bigint[] = Array.from({ length: SMALL_N }, (_, i) => BigInt(i));

/**
 * A non-negative integer number as a word. The small values code uses most (memory offsets, the
 * free-memory pointer, lengths, flags, counters) come from a shared table: no allocation.
 */
export function small(x: number): bigint {
  return x < SMALL_N ? SMALL[x]! : BigInt(x);
}

/** A `MemoryState` address key from a stack word (its low 160 bits). */
export function addrKey(v: bigint): string {
  return `0x${(v & MASK160).toString(16).padStart(40, "0")}`;
}

/** A `MemoryState` slot key from a stack word. */
export function slotKey(v: bigint): string {
  return `0x${v.toString(16).padStart(64, "0")}`;
}

/**
 * The 32 big-endian bytes at `off` of a view as a word. Reads 64 bits at a time, and skips the
 * zero high part of smaller values (amounts, addresses, small numbers): ~4-10x cheaper than a trip
 * through hex. Each BigInt step allocates, so the smaller tiers matter: a value below 2^64 costs
 * one BigInt, below 2^128 four, a full word ten.
 */
export function readWord(v: DataView, off: number): bigint {
  if ((v.getUint32(off) | v.getUint32(off + 4) | v.getUint32(off + 8)) === 0) {
    if (v.getUint32(off + 12) === 0) {
      if ((v.getUint32(off + 16) | v.getUint32(off + 20)) === 0) {
        if (v.getUint16(off + 24) === 0)
          return small(v.getUint16(off + 26) * 0x100000000 + v.getUint32(off + 28));
        return v.getBigUint64(off + 24);
      }
      return (v.getBigUint64(off + 16) << 64n) | v.getBigUint64(off + 24);
    }
    return (
      (BigInt(v.getUint32(off + 12)) << 128n) | (v.getBigUint64(off + 16) << 64n) | v.getBigUint64(off + 24)
    );
  }
  return (
    (v.getBigUint64(off) << 192n) |
    (v.getBigUint64(off + 8) << 128n) |
    (v.getBigUint64(off + 16) << 64n) |
    v.getBigUint64(off + 24)
  );
}

/** Zeros `len` bytes (a multiple of 4) of a view from `off`: the high part of a small word. */
function zeros(view: DataView, off: number, len: number): void {
  for (let i = 0; i < len; i += 4) view.setUint32(off + i, 0);
}

/** Writes a word as 32 big-endian bytes at `off` of a view. */
export function writeWordAt(view: DataView, off: number, v: bigint): void {
  if (v < 0x1000000000000n) {
    const x = Number(v);
    zeros(view, off, 24);
    view.setUint16(off + 24, 0);
    view.setUint16(off + 26, Math.floor(x / 0x100000000));
    view.setUint32(off + 28, x >>> 0);
    return;
  }
  // setBigUint64 keeps the low 64 bits of what it is given: no BigInt.asUintN (each one a new
  // BigInt) is needed, and smaller values write zeros instead of shifting.
  view.setBigUint64(off + 24, v);
  if (v < TWO64) {
    zeros(view, off, 24);
    return;
  }
  const high = v >> 64n;
  view.setBigUint64(off + 16, high);
  if (v < TWO128) {
    zeros(view, off, 16);
    return;
  }
  view.setBigUint64(off + 8, high >> 64n);
  view.setBigUint64(off, v >> 192n);
}

/** Big-endian bytes (any length, empty = 0) as a word. */
export function toBig(b: Uint8Array): bigint {
  const n = b.length;
  if (n === 0) return 0n;
  if (n <= 6) {
    let x = 0;
    for (let i = 0; i < n; i++) x = x * 256 + b[i]!;
    return small(x);
  }
  if (n <= 32) {
    SCRATCH_WORD.fill(0, 0, 32 - n);
    SCRATCH_WORD.set(b, 32 - n);
    return readWord(SCRATCH_VIEW, 0);
  }
  // Longer than a word (not a stack value): Node's native hex encoder, then one parse.
  return BigInt(`0x${Buffer.from(b.buffer, b.byteOffset, n).toString("hex")}`);
}

/** `len` bytes of `b` from `off` (zero past the end) as a word; len <= 32. */
export function toBigAt(b: Uint8Array, off: number, len: number): bigint {
  const avail = Math.max(0, Math.min(len, b.length - off));
  const pad = 32 - len;
  SCRATCH_WORD.fill(0, 0, pad);
  for (let i = 0; i < avail; i++) SCRATCH_WORD[pad + i] = b[off + i]!;
  SCRATCH_WORD.fill(0, pad + avail, 32);
  return readWord(SCRATCH_VIEW, 0);
}

/** A word as minimal big-endian bytes (0 → empty), as `MemoryState` stores slot values. */
export function toUnpadded(v: bigint): Uint8Array {
  if (v === 0n) return EMPTY;
  if (v < 0x1000000000000n) {
    let x = Number(v);
    const len =
      x < 0x100 ? 1 : x < 0x10000 ? 2 : x < 0x1000000 ? 3 : x < 0x100000000 ? 4 : x < 0x10000000000 ? 5 : 6;
    const out = new Uint8Array(len);
    for (let i = len - 1; i >= 0; i--) {
      out[i] = x & 0xff;
      x = Math.floor(x / 256);
    }
    return out;
  }
  writeWordAt(SCRATCH_VIEW, 0, v);
  let i = 0;
  while (SCRATCH_WORD[i] === 0) i++;
  return SCRATCH_WORD.slice(i, 32);
}

/** A word as 32 big-endian bytes. */
export function toWord(v: bigint): Uint8Array {
  writeWordAt(SCRATCH_VIEW, 0, v);
  return SCRATCH_WORD.slice(0, 32);
}

export const toSigned = (v: bigint): bigint => (v & SIGN_BIT ? v - (1n << 256n) : v);
export const toUnsigned = (v: bigint): bigint => (v < 0n ? v + (1n << 256n) : v);

/** SIGNEXTEND: `x` sign-extended from its byte `k` (counted from the low end). */
export function signExtend(k: bigint, x: bigint): bigint {
  if (k >= 31n) return x;
  const bit = k * 8n + 7n;
  const mask = (1n << (bit + 1n)) - 1n;
  return (x >> bit) & 1n ? (x | (MAX256 ^ mask)) & MAX256 : x & mask;
}

/** SAR: `v` shifted right by `sh` bits, as a signed word. */
export function sar(sh: bigint, v: bigint): bigint {
  if (sh >= 256n) return v & SIGN_BIT ? MAX256 : 0n;
  return toUnsigned(toSigned(v) >> sh);
}
