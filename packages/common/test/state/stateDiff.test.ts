import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Address, bytesToHex } from "@ethereumjs/util";
import {
  DIFF_FLAG_CREATED,
  DIFF_FLAG_DELETED,
  InlineStateTrie,
  MemoryState,
  type StateDiff,
  WorkerStateTrie,
  hexOf,
  mergeDiffs,
  packDiff,
  unpackDiff,
} from "../../src/index.ts";

const addresses = [1, 2, 3].map((n) => new Address(Uint8Array.from({ length: 20 }, (_, i) => n * 16 + i)));
const slotKey = (n: number) => {
  const k = new Uint8Array(32);
  k[31] = n;
  return k;
};

/** Deterministic pseudo-random numbers, so a failure can be reproduced from its seed. */
function rng(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x % n;
  };
}

/** Writes through the state's EVM interface, then takes the diff, like a sequencer's mini-block. */
async function randomMiniBlock(s: MemoryState, next: (n: number) => number): Promise<StateDiff> {
  for (let op = 0; op < 6; op++) {
    const a = addresses[next(addresses.length)]!;
    switch (next(6)) {
      case 0:
        // As the EVM does: the fields change, the code hash stays.
        await s.modifyAccountFields(a, { nonce: BigInt(next(5)), balance: BigInt(next(1000)) });
        break;
      case 1:
        await s.deleteAccount(a);
        break;
      case 2:
        await s.clearStorage(a);
        break;
      case 3:
        await s.putCode(a, Uint8Array.of(0x60, next(256)));
        break;
      default:
        // Often the same few slots, often zeroed: the cases a merge gets wrong.
        await s.putStorage(
          a,
          slotKey(next(4)),
          next(3) === 0 ? new Uint8Array(0) : Uint8Array.of(next(255) + 1),
        );
    }
  }
  return s.takeDiff().diff;
}

function snapshot(s: MemoryState): string {
  const out: unknown[] = [];
  for (const addr of [...s.addresses()].sort()) {
    const slots = [...(s.slots(addr) ?? new Map()).entries()].sort();
    out.push([addr, s.account(addr), s.code(addr), slots]);
  }
  return JSON.stringify(out, (_, v) =>
    typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? bytesToHex(v) : v,
  );
}

describe("state diffs / mergeDiffs", () => {
  it("applying the merged diff equals applying each diff in order (random mini-blocks)", async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const next = rng(seed);
      const seq = new MemoryState();
      const diffs: StateDiff[] = [];
      for (let i = 0; i < 2 + next(6); i++) diffs.push(await randomMiniBlock(seq, next));
      const stepwise = new MemoryState();
      for (const d of diffs) stepwise.applyDiff(d);
      const merged = mergeDiffs(diffs);
      const once = new MemoryState();
      once.applyDiff(merged);
      assert.equal(snapshot(once), snapshot(stepwise), `seed ${seed}`);
      assert.equal(snapshot(once), snapshot(seq), `seed ${seed}`);
      for (const d of merged) {
        assert.equal(
          new Set(d.storage.map(([k]) => hexOf(k))).size,
          d.storage.length,
          `seed ${seed}: a slot twice`,
        );
        if ((d.flags & DIFF_FLAG_CREATED) !== 0)
          assert.ok(
            d.storage.every(([, v]) => v.length > 0),
            `seed ${seed}: a created account lists a zero slot`,
          );
      }
    }
  });

  it("leaves the diffs it merges as they were", () => {
    const a = addresses[0]!.bytes;
    const first: StateDiff = [
      { address: a, flags: 0, balance: 1n, storage: [[slotKey(1), Uint8Array.of(1)]] },
    ];
    const second: StateDiff = [
      { address: a, flags: 0, nonce: 2n, storage: [[slotKey(1), Uint8Array.of(2)]] },
    ];
    const before = JSON.stringify([first, second], (_, v) => (typeof v === "bigint" ? v.toString() : v));
    const merged = mergeDiffs([first, second]);
    assert.equal(merged[0]!.nonce, 2n);
    assert.equal(merged[0]!.balance, 1n);
    assert.deepEqual(merged[0]!.storage, [[slotKey(1), Uint8Array.of(2)]]);
    assert.equal(
      JSON.stringify([first, second], (_, v) => (typeof v === "bigint" ? v.toString() : v)),
      before,
    );
  });

  it("hexOf gives the same string as bytesToHex, for views into larger buffers too", () => {
    const buf = Uint8Array.from({ length: 64 }, (_, i) => i * 7);
    for (const b of [buf, buf.subarray(3, 35), new Uint8Array(0)]) assert.equal(hexOf(b), bytesToHex(b));
  });
});

describe("state diffs / packDiff (the hand-over to the trie worker)", () => {
  it("unpacks to the diff it packed (random mini-blocks, extreme values, views into larger buffers)", async () => {
    for (let seed = 1; seed <= 100; seed++) {
      const next = rng(seed);
      const s = new MemoryState();
      const diff = await randomMiniBlock(s, next);
      assert.deepEqual(unpackDiff(packDiff(diff)), diff, `seed ${seed}`);
    }
    const big = new Uint8Array(100).fill(0xab);
    const edge: StateDiff = [
      {
        address: big.subarray(7, 27),
        flags: DIFF_FLAG_CREATED,
        nonce: 0n,
        balance: 2n ** 256n - 1n,
        code: big.subarray(50, 99),
        storage: [
          [big.subarray(1, 33), big.subarray(40, 72)],
          [slotKey(0), new Uint8Array(0)],
        ],
      },
      { address: addresses[1]!.bytes, flags: DIFF_FLAG_DELETED, storage: [] },
      { address: addresses[2]!.bytes, flags: 0, nonce: 2n ** 64n + 1n, code: new Uint8Array(0), storage: [] },
    ];
    const back = unpackDiff(packDiff(edge));
    assert.deepEqual(back, edge);
    // Its own buffers, not views of the packed one (the trie keeps them).
    assert.ok(back.every((d) => d.address.byteLength === d.address.buffer.byteLength));
  });

  it("refuses a buffer with bytes left over, and a truncated one", () => {
    const packed = packDiff([{ address: addresses[0]!.bytes, flags: 0, balance: 5n, storage: [] }]);
    assert.throws(() => unpackDiff(Uint8Array.of(...packed, 0)), /left over/);
    assert.throws(() => unpackDiff(packed.subarray(0, packed.length - 5)));
  });

  it("the trie on its worker thread reaches the same roots as the one on the calling thread", async () => {
    const worker = new WorkerStateTrie();
    const inline = new InlineStateTrie();
    try {
      const next = rng(7);
      const s = new MemoryState();
      // Around the worker's batch of 16 diffs per message, and a block with none.
      const perBlock = [3, 16, 17, 0, 40];
      for (let block = 0; block < perBlock.length; block++) {
        for (let i = 0; i < perBlock[block]!; i++) {
          const diff = await randomMiniBlock(s, next);
          worker.add(diff);
          inline.add(diff);
        }
        const [a, b] = await Promise.all([worker.commit(), inline.commit()]);
        assert.equal(hexOf(a.root), hexOf(b.root), `block ${block}`);
      }
    } finally {
      await Promise.all([worker.close(), inline.close()]);
    }
  });
});
