import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keccak_256 } from "@noble/hashes/sha3";
import { KECCAK256_NULL, KECCAK256_RLP, keccak256 } from "../../src/crypto/keccak.ts";
import { hexOf } from "../../src/util/hex.ts";

describe("keccak256", () => {
  it("matches the known empty-input and empty-trie hashes", () => {
    assert.equal(hexOf(KECCAK256_NULL), "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    assert.equal(hexOf(KECCAK256_RLP), "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421");
  });

  it("matches noble's keccak for every length around the staged limit, on and off V8's heap", () => {
    const store = new Uint8Array(400);
    for (let i = 0; i < store.length; i++) store[i] = (i * 131 + 7) & 0xff;
    for (let n = 0; n <= 300; n++) {
      const want = keccak_256(store.subarray(0, n));
      // A fresh array (on V8's heap up to 64 bytes), a view at an offset, and a pooled Buffer.
      const fresh = Uint8Array.from(store.subarray(0, n));
      const view = new Uint8Array(n + 9);
      view.set(fresh, 9);
      for (const input of [fresh, view.subarray(9), Buffer.from(fresh)])
        assert.deepEqual(keccak256(input), want, `length ${n}`);
    }
  });

  it("returns a fresh array each call (a later hash does not overwrite an earlier one)", () => {
    const a = keccak256(Uint8Array.of(1));
    const copy = Uint8Array.from(a);
    keccak256(Uint8Array.of(2));
    assert.deepEqual(a, copy);
  });
});
