/**
 * 256-bit words as the fast EVM keeps them: non-negative bigints below 2^256 on the stack,
 * big-endian bytes in memory and state, lower-case 0x hex as `MemoryState` keys.
 */

export const MAX256 = (1n << 256n) - 1n;
export const MASK160 = (1n << 160n) - 1n;
export const SIGN_BIT = 1n << 255n;
export const EMPTY = new Uint8Array(0);
/** Conversion scratch space (single-threaded, never held across calls). */
const SCRATCH = Buffer.alloc(64);

/** A `MemoryState` address key from a stack word (its low 160 bits). */
export function addrKey(v: bigint): string {
  return `0x${(v & MASK160).toString(16).padStart(40, "0")}`;
}

/** A `MemoryState` slot key from a stack word. */
export function slotKey(v: bigint): string {
  return `0x${v.toString(16).padStart(64, "0")}`;
}

/** Big-endian bytes (any length, empty = 0) as a word. */
export function toBig(b: Uint8Array): bigint {
  const n = b.length;
  if (n === 0) return 0n;
  if (n <= 6) {
    let x = 0;
    for (let i = 0; i < n; i++) x = x * 256 + b[i]!;
    return BigInt(x);
  }
  // Node's native hex encoder, then one parse: far cheaper than per-byte work.
  if (b instanceof Buffer) return BigInt(`0x${b.toString("hex")}`);
  if (n > SCRATCH.length) return BigInt(`0x${Buffer.from(b.buffer, b.byteOffset, n).toString("hex")}`);
  SCRATCH.set(b);
  return BigInt(`0x${SCRATCH.toString("hex", 0, n)}`);
}

/** 32 bytes of a Buffer from `off` as a word (the caller guarantees they exist). */
export function bufWord(b: Buffer, off: number): bigint {
  return BigInt(`0x${b.toString("hex", off, off + 32)}`);
}

/** `len` bytes of `b` from `off` (zero past the end) as a word; len <= 32. */
export function toBigAt(b: Uint8Array, off: number, len: number): bigint {
  if (off + len <= b.length) return toBig(b.subarray(off, off + len));
  const tmp = new Uint8Array(len);
  if (off < b.length) tmp.set(b.subarray(off));
  return toBig(tmp);
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
  let h = v.toString(16);
  if (h.length & 1) h = `0${h}`;
  return Uint8Array.from(Buffer.from(h, "hex"));
}

/** Writes a word as 32 big-endian bytes at `off`. */
export function writeWord(into: Uint8Array, off: number, v: bigint): void {
  if (v < 0x1000000000000n) {
    into.fill(0, off, off + 26);
    let x = Number(v);
    for (let i = off + 31; i >= off + 26; i--) {
      into[i] = x & 0xff;
      x = Math.floor(x / 256);
    }
    return;
  }
  const hex = v.toString(16).padStart(64, "0");
  if (into instanceof Buffer) into.write(hex, off, 32, "hex");
  else {
    SCRATCH.write(hex, 0, 32, "hex");
    into.set(SCRATCH.subarray(0, 32), off);
  }
}

/** A word as 32 big-endian bytes. */
export function toWord(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  writeWord(out, 0, v);
  return out;
}

/** Address key (0x + 40 hex) → 20 bytes. */
export function addrBytes(key: string): Uint8Array {
  return Uint8Array.from(Buffer.from(key.slice(2), "hex"));
}

export const toSigned = (v: bigint): bigint => (v & SIGN_BIT ? v - (1n << 256n) : v);
export const toUnsigned = (v: bigint): bigint => (v < 0n ? v + (1n << 256n) : v);
