import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bytesToBigInt, bytesToHex } from "@ethereumjs/util";
import { bigToBytes, bytesOfHex, bytesToBig, hexDigits, hexOf } from "../../src/util/hex.ts";

/** Arrays of every kind hexOf meets: on V8's heap, off it, views at an offset, Node's pooled Buffers. */
function samples(): Uint8Array[] {
  const out: Uint8Array[] = [new Uint8Array(0), Uint8Array.of(0), Uint8Array.of(0xab, 0x01)];
  for (const n of [1, 20, 32, 64, 65, 300]) {
    const a = new Uint8Array(n);
    for (let i = 0; i < n; i++) a[i] = (i * 37 + n) & 0xff;
    out.push(a);
    // A view into the middle of a larger store: the offset must be honoured.
    const big = new Uint8Array(n + 50).fill(0xee);
    big.set(a, 17);
    out.push(big.subarray(17, 17 + n));
    out.push(Buffer.from(a));
  }
  return out;
}

describe("hex helpers", () => {
  it("hexOf gives the same string as @ethereumjs/util's bytesToHex for every kind of array", () => {
    for (const b of samples()) {
      assert.equal(hexOf(b), bytesToHex(b), `length ${b.length}`);
      assert.equal(`0x${hexDigits(b)}`, bytesToHex(b), `length ${b.length}`);
    }
  });

  it("bytesToBig and bigToBytes agree with @ethereumjs/util and round-trip", () => {
    for (const b of samples()) {
      assert.equal(bytesToBig(b), b.length === 0 ? 0n : bytesToBigInt(b));
      const v = bytesToBig(b);
      assert.equal(bytesToBig(bigToBytes(v)), v);
    }
    assert.deepEqual(bigToBytes(0n), new Uint8Array(0));
    assert.deepEqual(bigToBytes(0x1abn), Uint8Array.of(0x01, 0xab));
  });

  it("bytesOfHex inverts hexOf with a copy of its own", () => {
    for (const b of samples()) {
      const back = bytesOfHex(hexOf(b));
      assert.deepEqual([...back], [...b]);
      assert.equal(back.byteOffset, 0);
      assert.equal(back.buffer.byteLength, b.length);
    }
  });
});
