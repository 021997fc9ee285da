import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InlineStateTrie, KECCAK256_RLP, WorkerStateTrie, orderedTrieRoot } from "../../src/index.ts";
import { bytesOf, floatRng } from "../helpers/random.ts";

describe("state trie handle / ordered roots (a block's transactionsRoot and receiptsRoot)", () => {
  it("the trie worker gives orderedTrieRoot of each list, in order, and so does the inline trie", async () => {
    const r = floatRng(11);
    // Empty lists and empty values too; past 128 entries the RLP(index) keys change length.
    const lists = [0, 1, 2, 127, 128, 129, 300, 3000].map((n) =>
      Array.from({ length: n }, () => bytesOf(r, r() < 0.1 ? 0 : r() < 0.3 ? 1 + Math.floor(r() * 4) : 120)),
    );
    const want = lists.map(orderedTrieRoot);
    assert.deepEqual(want[0], KECCAK256_RLP);
    const worker = new WorkerStateTrie();
    try {
      assert.deepEqual(await worker.orderedRoots(lists), want);
      // The caller's arrays are untouched (the packed copy is what travels).
      assert.deepEqual(lists.map(orderedTrieRoot), want);
      assert.deepEqual(await worker.orderedRoots([]), []);
    } finally {
      await worker.close();
    }
    assert.deepEqual(await new InlineStateTrie().orderedRoots(lists), want);
  });
});
