import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { keccak256 } from "../../src/crypto/keccak.ts";
import { KeyCache } from "../../src/execution/fastEvm/keyCache.ts";

/** The key formats `MemoryState` uses: lower-case 0x hex, 32 bytes for slots, 20 for addresses. */
const slotHex = (v: bigint): string => `0x${v.toString(16).padStart(64, "0")}`;
const addrHex = (v: bigint): string => `0x${(v & ((1n << 160n) - 1n)).toString(16).padStart(40, "0")}`;
const word = (): bigint => BigInt(`0x${randomBytes(32).toString("hex")}`);

describe("KeyCache", () => {
  const a = "0x00000000000000000000000000000000000000aa";
  const b = "0x00000000000000000000000000000000000000bb";

  it("gives the slot's key and its address+slot key, the same strings on every lookup", () => {
    const keys = new KeyCache();
    for (const v of [0n, 1n, 255n, (1n << 256n) - 1n, word(), word()]) {
      const k = keys.slot(keys.slotsOf(a), a, v);
      assert.equal(k.key, slotHex(v));
      assert.equal(k.joined, a + slotHex(v));
      assert.equal(keys.slot(keys.slotsOf(a), a, v), k, "kept, not made again");
      assert.equal(keys.slot(keys.slotsOf(b), b, v).joined, b + slotHex(v), "kept per account");
    }
  });

  it("gives address keys from the word's low 160 bits", () => {
    const keys = new KeyCache();
    for (const v of [0n, 0xaan, (1n << 160n) - 1n, 1n << 160n, (1n << 256n) - 1n, word()])
      assert.equal(keys.addr(v), addrHex(v));
  });

  it("stays correct when it starts over, also for a map a frame still holds", () => {
    const keys = new KeyCache();
    const held = keys.slotsOf(a);
    const vs = Array.from({ length: 60_000 }, (_, i) => BigInt(i) * 0x1_0000_0001n);
    for (const v of vs) assert.equal(keys.slot(held, a, v).key, slotHex(v));
    // Past the bound the accounts' maps were dropped: a fresh one is handed out.
    assert.notEqual(keys.slotsOf(a), held);
    assert.ok(keys.slotsOf(a).size < vs.length);
    for (const v of vs.slice(0, 100)) assert.equal(keys.slot(keys.slotsOf(a), a, v).joined, a + slotHex(v));
    const addrs = Array.from({ length: 12_000 }, () => word());
    for (const v of addrs) assert.equal(keys.addr(v), addrHex(v));
  });

  it("hashes 64 bytes of memory as keccak-256 does, whatever was kept, also past its bound", () => {
    const keys = new KeyCache();
    const mem = Buffer.alloc(64 * 1024);
    const hashAt = (off: number) =>
      BigInt(`0x${Buffer.from(keccak256(mem.subarray(off, off + 64))).toString("hex")}`);
    // 50 rounds of ~1,070 inputs: past the 50,000 kept, so the cache also starts over.
    for (let round = 0; round < 50; round++) {
      randomBytes(mem.length).copy(mem);
      // Bytes with the high bit set and zero runs: the kept input must tell them apart exactly.
      mem.fill(0xff, 64, 128);
      mem.fill(0, 128, 192);
      mem[150] = 0x80;
      for (let off = 0; off + 64 <= mem.length; off += 61) {
        assert.equal(keys.hash64(mem, off), hashAt(off), `round ${round}, offset ${off}`);
        assert.equal(keys.hash64(mem, off), hashAt(off), "kept");
      }
    }
  });

  it("hashes fresh inputs right while it stops keeping them, and keeps them again when they repeat", () => {
    const keys = new KeyCache();
    const mem = Buffer.alloc(64);
    const hashOf = () => BigInt(`0x${Buffer.from(keccak256(mem)).toString("hex")}`);
    // A loop hashing its own output: no input comes back, so the cache pauses after its sample.
    for (let i = 0; i < 20_000; i++) {
      randomBytes(64).copy(mem);
      assert.equal(keys.hash64(mem, 0), hashOf(), `fresh input ${i}`);
    }
    const keptFresh = keys.keptHashes;
    assert.ok(keptFresh < 2_000, `kept ${keptFresh} of 20,000 fresh hashes`);
    // The same few inputs again and again: right throughout, paused or not, and kept once the
    // pause is over (the next sample sees them hit).
    const inputs = Array.from({ length: 8 }, () => randomBytes(64));
    for (let i = 0; i < 20_000; i++) {
      inputs[i % 8]!.copy(mem);
      assert.equal(keys.hash64(mem, 0), hashOf(), `repeated input ${i}`);
    }
    assert.equal(keys.keptHashes, keptFresh + inputs.length, "the repeated inputs are kept again");
  });
});
