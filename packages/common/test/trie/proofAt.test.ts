import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import {
  type AccountDiff,
  DIFF_FLAG_CREATED,
  DIFF_FLAG_DELETED,
  KECCAK256_NULL,
  type StateRewind,
  StateTrie,
  TrieMovedError,
  keccak256,
} from "../../src/index.ts";

/**
 * StateTrie.proofAt against the plain way: random blocks of account and storage changes
 * (updates, slot deletes, account deletes, storage wipes and re-creations), then the proof at
 * every older block, rewound from the newest trie, must equal the proof of a trie built from
 * scratch with that block's state.
 */

interface Acct {
  nonce: bigint;
  balance: bigint;
  code: Uint8Array;
  slots: Map<string, Uint8Array>;
}
type Model = Map<string, Acct>;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const addrOf = (i: number) => `0x${i.toString(16).padStart(40, "0")}`;
const slotOf = (i: number) => `0x${i.toString(16).padStart(64, "0")}`;
const clone = (m: Model): Model => new Map([...m].map(([a, v]) => [a, { ...v, slots: new Map(v.slots) }]));

function fullDiff(m: Model): AccountDiff[] {
  return [...m].map(([a, v]) => ({
    address: hexToBytes(a as `0x${string}`),
    flags: DIFF_FLAG_CREATED,
    nonce: v.nonce,
    balance: v.balance,
    code: v.code,
    storage: [...v.slots].map(([k, x]) => [hexToBytes(k as `0x${string}`), x] as [Uint8Array, Uint8Array]),
  }));
}

async function trieOf(m: Model): Promise<StateTrie> {
  const t = new StateTrie();
  t.add(fullDiff(m));
  await t.commit();
  return t;
}

describe("state trie / proofAt", () => {
  it("rewinds to every older block and proves exactly what a trie of that state proves", async () => {
    const rand = rng(7);
    const pick = (n: number) => Math.floor(rand() * n);
    let model: Model = new Map();
    for (let i = 0; i < 40; i++) {
      const slots = new Map<string, Uint8Array>();
      if (i % 3 === 0) for (let s = 0; s < 6; s++) slots.set(slotOf(s), Uint8Array.of(i + 1, s + 1));
      model.set(addrOf(i), { nonce: BigInt(i), balance: BigInt(1000 + i), code: new Uint8Array(), slots });
    }
    const live = await trieOf(model);
    const snapshots: Model[] = [clone(model)];
    const roots: Uint8Array[] = [live.root()];
    /** Per block: the accounts and slots it changed, and the accounts it wiped (all their slots listed). */
    const changes: { accounts: Set<string>; slots: Map<string, Set<string>>; wiped: Set<string> }[] = [];

    for (let block = 1; block <= 30; block++) {
      const c = {
        accounts: new Set<string>(),
        slots: new Map<string, Set<string>>(),
        wiped: new Set<string>(),
      };
      const slotSet = (a: string) => c.slots.get(a) ?? c.slots.set(a, new Set()).get(a)!;
      const diff: AccountDiff[] = [];
      for (let op = 0; op < 8; op++) {
        const a = addrOf(pick(50)); // some addresses are new
        const cur = model.get(a);
        const kind = pick(10);
        c.accounts.add(a);
        if (cur !== undefined && kind === 0) {
          for (const k of cur.slots.keys()) slotSet(a).add(k);
          c.wiped.add(a);
          model.delete(a);
          diff.push({ address: hexToBytes(a as `0x${string}`), flags: DIFF_FLAG_DELETED, storage: [] });
        } else if (kind === 1) {
          // (Re-)created: storage starts over with new slots.
          for (const k of cur?.slots.keys() ?? []) slotSet(a).add(k);
          c.wiped.add(a);
          const slots = new Map<string, Uint8Array>();
          for (let s = 0; s < 3; s++) slots.set(slotOf(pick(10)), Uint8Array.of(block, s + 7));
          for (const k of slots.keys()) slotSet(a).add(k);
          const code = Uint8Array.of(0x60, block);
          model.set(a, { nonce: 1n, balance: BigInt(block), code, slots });
          diff.push({
            address: hexToBytes(a as `0x${string}`),
            flags: DIFF_FLAG_CREATED,
            nonce: 1n,
            balance: BigInt(block),
            code,
            storage: [...slots].map(
              ([k, x]) => [hexToBytes(k as `0x${string}`), x] as [Uint8Array, Uint8Array],
            ),
          });
        } else {
          const next = cur ?? { nonce: 0n, balance: 0n, code: new Uint8Array(), slots: new Map() };
          next.nonce += 1n;
          next.balance += BigInt(pick(1000));
          const storage: [Uint8Array, Uint8Array][] = [];
          for (let s = 0; s < pick(4); s++) {
            const k = slotOf(pick(10));
            const v = pick(3) === 0 ? new Uint8Array() : Uint8Array.of(block, s);
            if (v.length === 0) next.slots.delete(k);
            else next.slots.set(k, v);
            slotSet(a).add(k);
            storage.push([hexToBytes(k as `0x${string}`), v]);
          }
          model.set(a, next);
          diff.push({
            address: hexToBytes(a as `0x${string}`),
            flags: cur === undefined ? DIFF_FLAG_CREATED : 0,
            nonce: next.nonce,
            balance: next.balance,
            storage,
          });
        }
      }
      live.add(diff);
      await live.commit();
      roots.push(live.root());
      snapshots.push(clone(model));
      changes.push(c);
      model = clone(model);
    }

    const latest = roots[roots.length - 1]!;
    for (let k = 0; k < roots.length - 1; k++) {
      const then = snapshots[k]!;
      const keys = {
        accounts: new Set<string>(),
        slots: new Map<string, Set<string>>(),
        wiped: new Set<string>(),
      };
      for (const c of changes.slice(k)) {
        for (const a of c.accounts) keys.accounts.add(a);
        for (const a of c.wiped) keys.wiped.add(a);
        for (const [a, set] of c.slots) {
          const into = keys.slots.get(a) ?? keys.slots.set(a, new Set()).get(a)!;
          for (const s of set) into.add(s);
        }
      }
      const rewind: StateRewind = { from: latest, to: roots[k]!, accounts: [], storage: [] };
      for (const a of new Set([...keys.accounts, ...keys.slots.keys()])) {
        const acct = then.get(a);
        rewind.accounts.push([
          a,
          acct === undefined
            ? null
            : {
                nonce: acct.nonce,
                balance: acct.balance,
                codeHash: acct.code.length === 0 ? KECCAK256_NULL : keccak256(acct.code),
              },
        ]);
      }
      for (const [a, set] of keys.slots) {
        rewind.storage.push([
          a,
          keys.wiped.has(a),
          [...set].map((s) => [s, then.get(a)?.slots.get(s) ?? new Uint8Array()] as [string, Uint8Array]),
        ]);
      }
      const reference = await trieOf(then);
      for (const a of [addrOf(0), addrOf(3), addrOf(pick(50)), addrOf(pick(50)), addrOf(45)]) {
        const slots = [slotOf(0), slotOf(1), slotOf(pick(10))].map((s) => hexToBytes(s as `0x${string}`));
        const got = live.proofAt(hexToBytes(a as `0x${string}`), slots, rewind);
        const want = await reference.proof(hexToBytes(a as `0x${string}`), slots);
        assert.equal(bytesToHex(got.root), bytesToHex(roots[k]!), `root at block ${k}`);
        assert.deepEqual(
          { ...got, accountProof: got.accountProof.map(bytesToHex) },
          { ...want, accountProof: want.accountProof.map(bytesToHex) },
          `proof of ${a} at block ${k}`,
        );
      }
      // The live trie is untouched by rewinds.
      assert.equal(bytesToHex(live.root()), bytesToHex(latest));
    }

    // A rewind from a root the trie is not at is refused, and a wrong target root is an error.
    const stale: StateRewind = { from: roots[0]!, to: roots[0]!, accounts: [], storage: [] };
    assert.throws(() => live.proofAt(hexToBytes(addrOf(1) as `0x${string}`), [], stale), TrieMovedError);
    const wrong: StateRewind = { from: latest, to: roots[0]!, accounts: [], storage: [] };
    assert.throws(
      () => live.proofAt(hexToBytes(addrOf(1) as `0x${string}`), [], wrong),
      /not its state root/,
    );
  });
});
