import { parentPort } from "node:worker_threads";
import { orderedTrieRoot } from "../chain/orderedTrie.ts";
import { unpackDiff } from "../state/diffTransfer.ts";
import { unpackBytes } from "../util/packedBytes.ts";
import { StateTrie, TrieMovedError } from "./stateTrie.ts";
import type { TrieRequest, TrieResponse } from "./trieClient.ts";

// The state trie on its own thread: the sequencer's execution thread only posts diffs and asks
// for a root at each block seal, so merkleization uses the second core (FACTS: the state root,
// not execution, dominates a block).
const trie = new StateTrie();
let queue: Promise<void> = Promise.resolve();

async function handle(msg: TrieRequest): Promise<void> {
  switch (msg.kind) {
    case "add":
      for (const p of msg.packed) trie.add(unpackDiff(p));
      return;
    case "commit": {
      const started = performance.now();
      const root = await trie.commit(msg.reads);
      const ms = performance.now() - started;
      const value = msg.reads === undefined ? { root, ms } : { root, ms, witness: trie.takeWitness() };
      reply({ id: msg.id, ok: true, value });
      return;
    }
    case "proof":
      reply({ id: msg.id, ok: true, value: await trie.proof(msg.address, msg.slots) });
      return;
    case "proofAt":
      try {
        reply({ id: msg.id, ok: true, value: trie.proofAt(msg.address, msg.slots, msg.rewind) });
      } catch (err) {
        if (!(err instanceof TrieMovedError)) throw err;
        reply({ id: msg.id, ok: false, error: err.message, moved: err.details.root });
      }
      return;
    case "orderedRoots":
      reply({ id: msg.id, ok: true, value: msg.lists.map((l) => orderedTrieRoot(unpackBytes(l))) });
      return;
  }
}

function reply(r: TrieResponse): void {
  parentPort!.postMessage(r);
}

parentPort!.on("message", (msg: TrieRequest) => {
  queue = queue
    .then(() => handle(msg))
    .catch((err: unknown) => {
      if (msg.kind !== "add") reply({ id: msg.id, ok: false, error: String((err as Error)?.stack ?? err) });
    });
});
