import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bytesToHex } from "@ethereumjs/util";
import { MemTrie, MissingTrieNodeError } from "../../src/trie/memTrie.ts";
import { StateTrie, type WitnessReads } from "../../src/trie/stateTrie.ts";
import { DIFF_FLAG_CREATED, DIFF_FLAG_DELETED, type StateDiff } from "../../src/state/stateDiff.ts";
import { rng } from "../helpers/random.ts";

const word = (i: number) => {
  const b = new Uint8Array(32);
  b[31] = i & 0xff;
  b[30] = (i >> 8) & 0xff;
  return b;
};

/** A state of `n` accounts, half of them contracts with a few slots each. */
function genesis(r: ReturnType<typeof rng>, n: number): { diff: StateDiff; addrs: Uint8Array[] } {
  const addrs: Uint8Array[] = [];
  const diff: StateDiff = [];
  for (let i = 0; i < n; i++) {
    const address = r.bytes(20);
    addrs.push(address);
    const storage: [Uint8Array, Uint8Array][] = [];
    if (i % 2 === 0) for (let k = 0; k < 1 + r.int(6); k++) storage.push([word(k), r.bytes(1 + r.int(32))]);
    diff.push({
      address,
      flags: DIFF_FLAG_CREATED,
      nonce: BigInt(r.int(5)),
      balance: BigInt(r.int(1e9)),
      storage,
    });
  }
  return { diff, addrs };
}

/** A block: reads of some keys, writes (slot deletes included), new accounts and one deletion. */
function block(r: ReturnType<typeof rng>, addrs: Uint8Array[]): { diff: StateDiff; reads: WitnessReads } {
  const reads: WitnessReads = { accounts: [], slots: [] };
  const diff: StateDiff = [];
  const used = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const a = addrs[r.int(addrs.length)]!;
    const hex = bytesToHex(a);
    if (used.has(hex)) continue;
    used.add(hex);
    reads.accounts.push(hex);
    const slotKeys = [word(r.int(8)), word(r.int(8))];
    reads.slots.push([hex, slotKeys.map((k) => bytesToHex(k))]);
    if (r.int(3) === 0) continue; // read only
    diff.push({
      address: a,
      flags: 0,
      balance: BigInt(r.int(1e9)),
      // An empty value zeroes (deletes) the slot: that collapses branches.
      storage: slotKeys.map(
        (k) => [k, r.int(2) === 0 ? new Uint8Array(0) : r.bytes(4)] as [Uint8Array, Uint8Array],
      ),
    });
  }
  const fresh = r.bytes(20);
  reads.accounts.push(bytesToHex(fresh));
  diff.push({
    address: fresh,
    flags: DIFF_FLAG_CREATED,
    nonce: 1n,
    balance: 5n,
    storage: [[word(1), Uint8Array.of(7)]],
  });
  const gone = addrs[r.int(addrs.length)]!;
  if (!used.has(bytesToHex(gone))) {
    reads.accounts.push(bytesToHex(gone));
    diff.push({ address: gone, flags: DIFF_FLAG_DELETED, storage: [] });
  }
  return { diff, reads };
}

describe("StateTrie witness", () => {
  it("a trie built from the recorded nodes alone reaches the same root, block after block", async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      const full = new StateTrie();
      const g = genesis(r, 200);
      full.add(g.diff);
      let root = await full.commit();
      for (let b = 0; b < 5; b++) {
        const { diff, reads } = block(r, g.addrs);
        full.add(diff);
        const post = await full.commit(reads);
        const nodes = full.takeWitness();
        const partial = StateTrie.fromWitness(root, MemTrie.nodeMap(nodes));
        partial.add(diff);
        assert.equal(bytesToHex(await partial.commit()), bytesToHex(post), `seed ${seed} block ${b}`);
        root = post;
      }
    }
  });

  it("with any one node left out, replaying the block throws MissingTrieNodeError", async () => {
    const r = rng(99);
    const full = new StateTrie();
    const g = genesis(r, 100);
    full.add(g.diff);
    const root = await full.commit();
    const { diff, reads } = block(r, g.addrs);
    full.add(diff);
    await full.commit(reads);
    const nodes = full.takeWitness();
    assert.ok(nodes.length > 5);
    for (let skip = 0; skip < nodes.length; skip++) {
      const partial = StateTrie.fromWitness(root, MemTrie.nodeMap(nodes.filter((_, i) => i !== skip)));
      partial.add(diff);
      // Reads first, as the prover's execution does, then the writes.
      await assert.rejects(
        async () => {
          await partial.commit(reads);
        },
        MissingTrieNodeError,
        `node ${skip} of ${nodes.length} left out`,
      );
    }
  });
});
