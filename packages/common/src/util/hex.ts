/**
 * `0x`-prefixed lowercase hex of `bytes`, the same string as `@ethereumjs/util`'s `bytesToHex`.
 *
 * For the hot paths that turn hashes, addresses and slots into map keys: Node's native hex
 * encoder makes one flat string, where `bytesToHex` (noble's) builds it a character pair at a
 * time, and the resulting rope must then be flattened again before it can be hashed as a key.
 * Measured for 32-byte hashes: 0.7 µs against 1.7-2.4 µs to make the string, and 0.5 µs against
 * 1.4 µs to insert it into a map.
 */
export function hexOf(bytes: Uint8Array): string {
  return `0x${hexDigits(bytes)}`;
}

/**
 * Lower-case hex of `bytes` without a prefix: Node's native hex encoder applied to any
 * `Uint8Array` in place. Reading `.buffer` of a small array V8 keeps on its heap (a fresh hash or
 * address, up to 64 bytes) moves its bytes to a new off-heap store first: a malloc, a
 * registration and later a sweep, ~0.8 µs against ~0.12 µs. `hexSlice` is the method
 * `Buffer#toString("hex")` itself calls; where a Node lacks it, a wrapper over `.buffer` does the
 * same.
 */
export const hexDigits: (bytes: Uint8Array) => string = (() => {
  const native = (Buffer.prototype as unknown as { hexSlice?: (start: number, end: number) => string })
    .hexSlice;
  return typeof native === "function"
    ? (b: Uint8Array) => native.call(b, 0, b.length)
    : (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
})();

/**
 * The bytes of `0x`-prefixed hex that is known to be well formed (map keys this code made with
 * `hexOf`): Node's native decoder, about half the cost of `@ethereumjs/util`'s `hexToBytes`,
 * which validates with a regular expression and parses a character pair at a time. A copy of
 * exact size, not a view of Node's shared buffer pool (which a kept view would pin).
 */
export function bytesOfHex(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.slice(2), "hex"));
}

/** The minimal big-endian bytes of a non-negative `v` (none for zero), through Node's hex codec. */
export function bigToBytes(v: bigint): Uint8Array {
  if (v === 0n) return new Uint8Array(0);
  const h = v.toString(16);
  return Uint8Array.from(Buffer.from(h.length % 2 === 1 ? `0${h}` : h, "hex"));
}

/** The unsigned big-endian number in `b` (zero when empty). */
export function bytesToBig(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${hexDigits(b)}`);
}
