import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import {
  readWord,
  toBig,
  toBigAt,
  toUnpadded,
  toWord,
  writeWordAt,
} from "../../src/execution/fastEvm/words.ts";

/** The plain definitions the fast conversions must agree with. */
const hexBig = (b: Uint8Array): bigint =>
  b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString("hex")}`);
const hexWord = (v: bigint): Buffer => Buffer.from(v.toString(16).padStart(64, "0"), "hex");

/** Values of every byte length 0..32, with zero runs and 0xff runs where the fast paths split. */
function samples(): bigint[] {
  const out: bigint[] = [
    0n,
    1n,
    255n,
    256n,
    (1n << 48n) - 1n,
    1n << 48n,
    (1n << 160n) - 1n,
    (1n << 256n) - 1n,
  ];
  for (let len = 1; len <= 32; len++)
    for (let k = 0; k < 20; k++) {
      const b = randomBytes(len);
      if (k % 4 === 1) b[0] = 0xff;
      if (k % 4 === 2 && len > 8) b.fill(0, 1, len - 4);
      out.push(hexBig(b));
    }
  return out;
}

describe("fast EVM / word conversions", () => {
  it("reads and writes words in memory at any offset", () => {
    const mem = Buffer.alloc(200);
    const view = new DataView(mem.buffer, mem.byteOffset, mem.length);
    for (const v of samples()) {
      const off = Number(v % 97n);
      mem.fill(0xaa);
      writeWordAt(view, off, v);
      assert.deepEqual(mem.subarray(off, off + 32), hexWord(v));
      assert.equal(mem[off - 1] ?? 0xaa, 0xaa, "wrote before the word");
      assert.equal(mem[off + 32], 0xaa, "wrote past the word");
      assert.equal(readWord(view, off), v);
    }
  });

  it("converts big-endian bytes of any length, words and minimal bytes", () => {
    for (const v of samples()) {
      assert.deepEqual(Buffer.from(toWord(v)), hexWord(v));
      const min = toUnpadded(v);
      assert.equal(hexBig(min), v);
      assert.ok(min.length === 0 || min[0] !== 0, "minimal bytes have no leading zero");
      assert.equal(toBig(min), v);
      assert.equal(toBig(toWord(v)), v);
    }
    const long = randomBytes(40);
    assert.equal(toBig(long), hexBig(long));
  });

  it("reads len bytes from an offset, zeros past the end (PUSH at the end of code, CALLDATALOAD)", () => {
    const data = randomBytes(50);
    for (let off = 0; off <= 55; off++)
      for (const len of [1, 3, 7, 20, 31, 32]) {
        const padded = Buffer.alloc(len);
        if (off < data.length) data.copy(padded, 0, off, Math.min(data.length, off + len));
        assert.equal(toBigAt(data, off, len), hexBig(padded), `off ${off} len ${len}`);
      }
  });
});
