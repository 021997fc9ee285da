/**
 * MemTrie vs @ethereumjs/mpt: build a 100k-key secure trie, then 10k random updates + one root().
 * Prints figures (wall clock, and process CPU time, which a loaded machine disturbs less; it also
 * counts V8's GC helper threads), asserts nothing about time.
 * Run: node --import tsx bench/micro/memTrie.ts   (env N, U to resize)
 */
import { MerklePatriciaTrie } from "@ethereumjs/mpt";
import { bytesToHex } from "@ethereumjs/util";
import { keccak256, MemTrie } from "@staccato/common";

const N = Number(process.env.N ?? 100_000);
const U = Number(process.env.U ?? 10_000);
const ROUNDS = 6;
/** @ethereumjs/mpt takes ~2-4 s a round: fewer of them. */
const REF_ROUNDS = 2;

let seed = 0x9e3779b9;
function rand(): number {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
}
function randBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rand() & 0xff;
  return b;
}

// Addresses and ~70-byte account-like values (RLP of nonce, balance, storageRoot, codeHash).
const keys = Array.from({ length: N }, () => randBytes(20));
const value = () => randBytes(70);
const initial = keys.map(value);
const RECORD_ROUNDS = 3;
const batches = Array.from({ length: ROUNDS + RECORD_ROUNDS }, () =>
  Array.from({ length: U }, (_, i) => ({
    // 90% updates of existing accounts, 10% new accounts
    key: i % 10 === 9 ? randBytes(20) : keys[rand() % N],
    value: value(),
  })),
);

const print = (line: string) => process.stdout.write(`${line}\n`);
const us = (ms: number, n: number) => ((ms * 1000) / n).toFixed(2);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const line = (name: string, what: string, ms: number, n: number, cpu?: number) =>
  print(
    `${name.padEnd(16)} ${what.padEnd(26)} ${ms.toFixed(1).padStart(9)} ms  ${us(ms, n).padStart(7)} µs/update` +
      (cpu === undefined ? "" : `  (cpu ${us(cpu, n)} µs/update)`),
  );

{
  const t = new MemTrie();
  let t0 = performance.now();
  for (let i = 0; i < N; i++) t.put(keys[i], initial[i]);
  t.root();
  line("MemTrie", `build ${N} + root`, performance.now() - t0, N);
  for (const [r, batch] of batches.slice(0, ROUNDS).entries()) {
    const c0 = cpuMs();
    t0 = performance.now();
    for (const { key, value } of batch) t.put(key, value);
    const t1 = performance.now();
    const c1 = cpuMs();
    t.root();
    const t2 = performance.now();
    const c2 = cpuMs();
    line("MemTrie", `round ${r}: ${U} puts`, t1 - t0, U, c1 - c0);
    line("MemTrie", `round ${r}: root()`, t2 - t1, U, c2 - c1);
    line("MemTrie", `round ${r}: puts + root()`, t2 - t0, U, c2 - c0);
  }
  // More batches, recording a witness of each.
  for (const [r, batch] of batches.slice(ROUNDS).entries()) {
    const c0 = cpuMs();
    t0 = performance.now();
    t.startRecording();
    for (const { key, value } of batch) t.put(key, value);
    t.root();
    const w = t.stopRecording();
    line("MemTrie", `recording ${r}: puts + root()`, performance.now() - t0, U, cpuMs() - c0);
    const bytes = w.reduce((a, n) => a + n.length, 0);
    print(
      `witness: ${w.length} nodes, ${(bytes / 1024).toFixed(0)} KiB (${(bytes / U).toFixed(0)} B/update)`,
    );
  }
  print(`heap used: ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);
}

{
  const t = new MerklePatriciaTrie({ useKeyHashing: true, useKeyHashingFunction: keccak256 });
  let t0 = performance.now();
  for (let i = 0; i < N; i++) await t.put(keys[i], initial[i]);
  line("ethereumjs/mpt", `build ${N} + root`, performance.now() - t0, N);
  for (const [r, batch] of batches.slice(0, REF_ROUNDS).entries()) {
    const c0 = cpuMs();
    t0 = performance.now();
    for (const { key, value } of batch) await t.put(key, value);
    t.root();
    line("ethereumjs/mpt", `round ${r}: puts + root()`, performance.now() - t0, U, cpuMs() - c0);
  }
  const m = new MemTrie();
  for (let i = 0; i < N; i++) m.put(keys[i], initial[i]);
  for (const batch of batches.slice(0, REF_ROUNDS)) for (const { key, value } of batch) m.put(key, value);
  print(`same root: ${bytesToHex(m.root()) === bytesToHex(t.root())}`);
}
