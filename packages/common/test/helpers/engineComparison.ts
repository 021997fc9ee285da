/**
 * Comparing two executors that ran the same transaction (a fast path against `runTx`): outcome,
 * state diff and witness reads in forms `assert.deepEqual` can compare and print.
 */
import assert from "node:assert/strict";
import { bytesToHex } from "@ethereumjs/util";
import type { Executor, TxOutcome } from "../../src/execution/executor.ts";
import type { MemoryState } from "../../src/state/memoryState.ts";

/** A transaction's outcome, its bloom as hex. */
export const outcome = (o: TxOutcome): unknown =>
  o.ok ? { ok: true, receipt: o.receipt, bloom: bytesToHex(o.bloom) } : { ok: false };

/** Takes the state's diff, in address order, bytes as hex. */
export function canonicalDiff(state: MemoryState): unknown {
  return state
    .takeDiff()
    .diff.map((d) => ({
      ...d,
      address: bytesToHex(d.address),
      code: d.code === undefined ? undefined : bytesToHex(d.code),
      storage: d.storage.map(([k, v]) => [bytesToHex(k), bytesToHex(v)]),
    }))
    .sort((a, b) => a.address.localeCompare(b.address));
}

/** Takes the executor's witness reads, each set sorted. */
export function canonicalReads(executor: Executor): unknown {
  const r = executor.takeReads();
  return {
    accounts: [...r.accounts].sort(),
    slots: [...r.slots].map(([a, k]) => [a, [...k].sort()]).sort(),
    codes: [...r.codes.keys()].sort(),
    codeAddrs: [...r.codeAddrs].sort(),
    blockHashes: [...r.blockHashes].sort(),
  };
}

export interface ExecutionSide {
  state: MemoryState;
  executor: Executor;
}

/**
 * Asserts two executors' results of the same transaction agree: outcome, then diff, then reads
 * (taking both sides' diff and reads). `where` names the case in a failure.
 */
export function assertSameExecution(
  where: string,
  a: TxOutcome,
  sideA: ExecutionSide,
  b: TxOutcome,
  sideB: ExecutionSide,
): void {
  assert.deepEqual(outcome(a), outcome(b), `${where}: outcome`);
  assert.deepEqual(canonicalDiff(sideA.state), canonicalDiff(sideB.state), `${where}: diff`);
  assert.deepEqual(canonicalReads(sideA.executor), canonicalReads(sideB.executor), `${where}: reads`);
}
