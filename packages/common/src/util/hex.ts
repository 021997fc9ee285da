/**
 * `0x`-prefixed lowercase hex of `bytes`, the same string as `@ethereumjs/util`'s `bytesToHex`.
 *
 * For the hot paths that turn hashes, addresses and slots into map keys: Node's native hex
 * encoder makes one flat string, where `bytesToHex` (noble's) builds it a character pair at a
 * time, and the resulting rope must then be flattened again before it can be hashed as a key.
 * ~3x faster for a 32-byte hash, including the map insert (FACTS-style measure in the commit).
 */
export function hexOf(bytes: Uint8Array): string {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`;
}
