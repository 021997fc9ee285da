import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Account, Address, bytesToHex } from "@ethereumjs/util";
import {
  DIFF_FLAG_CREATED,
  DIFF_FLAG_DELETED,
  InlineStateTrie,
  MemoryState,
  type StateDiff,
  mergeDiffs,
} from "../../src/index.ts";

const A = new Address(Uint8Array.from({ length: 20 }, (_, i) => i + 1));
const B = new Address(Uint8Array.from({ length: 20 }, (_, i) => 100 + i));
const slot = (n: number) => {
  const k = new Uint8Array(32);
  k[31] = n;
  return k;
};
const hex = (n: number) => bytesToHex(slot(n));

async function seeded(): Promise<MemoryState> {
  const s = new MemoryState();
  await s.putAccount(A, new Account(1n, 1000n));
  await s.putStorage(A, slot(1), Uint8Array.of(7));
  await s.putStorage(A, slot(2), Uint8Array.of(8));
  s.takeDiff();
  return s;
}

describe("memory state / journal", () => {
  it("reverts account, storage and code writes made inside a checkpoint", async () => {
    const s = await seeded();
    await s.checkpoint();
    await s.modifyAccountFields(A, { balance: 5n, nonce: 9n });
    await s.putStorage(A, slot(1), Uint8Array.of(0));
    await s.putStorage(A, slot(3), Uint8Array.of(3));
    await s.putCode(B, Uint8Array.of(0x60, 0x00));
    await s.revert();
    assert.equal(s.account(A.toString())?.balance, 1000n);
    assert.equal(s.account(A.toString())?.nonce, 1n);
    assert.deepEqual(s.slot(A.toString(), hex(1)), Uint8Array.of(7));
    assert.equal(s.slot(A.toString(), hex(3)), undefined);
    assert.equal(s.account(B.toString()), undefined);
    assert.equal(s.code(B.toString()), undefined);
    assert.deepEqual(s.takeDiff().diff, []);
  });

  it("nested checkpoints: an inner revert keeps the outer frame's writes", async () => {
    const s = await seeded();
    await s.checkpoint();
    await s.putStorage(A, slot(1), Uint8Array.of(9));
    await s.checkpoint();
    await s.clearStorage(A);
    assert.equal(s.slot(A.toString(), hex(2)), undefined);
    await s.revert();
    await s.commit();
    assert.deepEqual(s.slot(A.toString(), hex(1)), Uint8Array.of(9));
    assert.deepEqual(s.slot(A.toString(), hex(2)), Uint8Array.of(8));
    const { diff } = s.takeDiff();
    assert.equal(diff.length, 1);
    assert.equal(diff[0]!.flags, 0);
    assert.deepEqual(diff[0]!.storage, [[slot(1), Uint8Array.of(9)]]);
  });

  it("original storage is the value before the transaction", async () => {
    const s = await seeded();
    await s.checkpoint();
    await s.putStorage(A, slot(1), Uint8Array.of(42));
    assert.deepEqual(await s.originalStorageCache.get(A, slot(1)), Uint8Array.of(7));
    await s.commit();
    s.originalStorageCache.clear();
    assert.deepEqual(await s.originalStorageCache.get(A, slot(1)), Uint8Array.of(42));
  });
});

describe("memory state / diffs", () => {
  it("lists only changed fields, and a deletion", async () => {
    const s = await seeded();
    await s.putAccount(B, new Account(0n, 5n));
    s.takeDiff();
    await s.modifyAccountFields(A, { balance: 999n });
    await s.deleteAccount(B);
    const { diff, pre } = s.takeDiff();
    const a = diff.find((d) => bytesToHex(d.address) === A.toString())!;
    assert.equal(a.balance, 999n);
    assert.equal(a.nonce, undefined);
    assert.equal(a.code, undefined);
    const b = diff.find((d) => bytesToHex(d.address) === B.toString())!;
    assert.equal(b.flags, DIFF_FLAG_DELETED);
    assert.equal(pre.accounts.get(A.toString())?.balance, 1000n);
  });

  it("a wiped and rewritten storage is a creation listing every live slot", async () => {
    const s = await seeded();
    await s.clearStorage(A);
    await s.putStorage(A, slot(5), Uint8Array.of(5));
    const { diff } = s.takeDiff();
    assert.equal(diff[0]!.flags, DIFF_FLAG_CREATED);
    assert.deepEqual(diff[0]!.storage, [[slot(5), Uint8Array.of(5)]]);
    assert.equal(diff[0]!.balance, 1000n);
  });

  it("applying the diffs to another state gives the same state and root", async () => {
    const s = await seeded();
    const replica = new MemoryState();
    const diffs: StateDiff[] = [];
    const t1 = new InlineStateTrie();
    const t2 = new InlineStateTrie();
    // seed the replica with the same genesis
    const g: StateDiff = [
      {
        address: A.bytes,
        flags: DIFF_FLAG_CREATED,
        nonce: 1n,
        balance: 1000n,
        storage: [
          [slot(1), Uint8Array.of(7)],
          [slot(2), Uint8Array.of(8)],
        ],
      },
    ];
    replica.applyDiff(g);
    t1.add(g);
    t2.add(g);
    await s.modifyAccountFields(A, { nonce: 2n });
    await s.putStorage(A, slot(2), new Uint8Array(0));
    diffs.push(s.takeDiff().diff);
    await s.putCode(B, Uint8Array.of(0x60, 0x01));
    await s.putStorage(B, slot(9), Uint8Array.of(1, 2));
    diffs.push(s.takeDiff().diff);
    await s.deleteAccount(B);
    diffs.push(s.takeDiff().diff);
    for (const d of diffs) {
      replica.applyDiff(d);
      t1.add(d);
    }
    t2.add(mergeDiffs(diffs));
    for (const addr of [A.toString(), B.toString()]) {
      assert.deepEqual(replica.account(addr), s.account(addr));
      assert.deepEqual(replica.slots(addr), s.slots(addr));
      assert.deepEqual(replica.code(addr), s.code(addr));
    }
    assert.deepEqual((await t1.commit()).root, (await t2.commit()).root);
  });
});

describe("memory state / copy-on-write layer", () => {
  it("reads through to the base and never writes to it", async () => {
    const base = await seeded();
    const layer = new MemoryState(base);
    await layer.putStorage(A, slot(1), new Uint8Array(0));
    await layer.modifyAccountFields(A, { balance: 1n });
    await layer.deleteAccount(A);
    assert.equal(layer.account(A.toString()), undefined);
    assert.equal(layer.slot(A.toString(), hex(2)), undefined);
    assert.equal(base.account(A.toString())?.balance, 1000n);
    assert.deepEqual(base.slot(A.toString(), hex(1)), Uint8Array.of(7));
  });
});

describe("memory state / committed view", () => {
  it("reads the state as of the last takeDiff while a transaction is half done, then the new state", async () => {
    const s = await seeded();
    const a = A.toString();
    const b = B.toString();
    // A transaction suspended mid-way (runTx awaits): writes, a wipe and re-creation, new code.
    await s.checkpoint();
    await s.modifyAccountFields(A, { balance: 5n, nonce: 9n });
    await s.putStorage(A, slot(1), Uint8Array.of(1));
    await s.clearStorage(A);
    await s.putStorage(A, slot(3), Uint8Array.of(3));
    await s.putCode(B, Uint8Array.of(0x60, 0x00));
    const c = s.committed;
    assert.equal(c.account(a)?.balance, 1000n);
    assert.equal(c.account(a)?.nonce, 1n);
    assert.deepEqual(c.slot(a, hex(1)), Uint8Array.of(7));
    assert.deepEqual(c.slot(a, hex(2)), Uint8Array.of(8));
    assert.equal(c.slot(a, hex(3)), undefined);
    assert.equal(c.account(b), undefined);
    assert.equal(c.code(b), undefined);
    assert.deepEqual(
      [...(c.slots(a) ?? [])].map(([k, v]) => [k, [...v]]),
      [
        [hex(1), [7]],
        [hex(2), [8]],
      ],
    );
    // The live state has the half-done writes.
    assert.equal(s.account(a)?.balance, 5n);
    assert.equal(s.slot(a, hex(2)), undefined);
    await s.commit();
    s.takeDiff();
    assert.equal(c.account(a)?.balance, 5n);
    assert.equal(c.slot(a, hex(2)), undefined);
    assert.deepEqual(c.slot(a, hex(3)), Uint8Array.of(3));
    assert.deepEqual(c.code(b), Uint8Array.of(0x60, 0x00));
  });
});
