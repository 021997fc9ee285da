import { toBigAt } from "./words.ts";

/**
 * What the interpreter precomputes per piece of code: the jump destinations (1 where a JUMPDEST
 * opcode, not PUSH data, sits) and the value of every PUSH by program counter, so running a PUSH
 * allocates nothing (PUSH1 values are shared across all code). Computed once
 * per code array: `MemoryState` hands out the same `Uint8Array` for a contract's code every time,
 * so a WeakMap keyed by it is a per-code-hash cache that needs no hashing and goes away with the
 * code.
 */
export interface CodeInfo {
  dests: Uint8Array;
  pushes: (bigint | undefined)[];
  /** Frames that ran this code; once `FastVm.compileAfter` did, its blocks are compiled as reached. */
  runs: number;
}

const cache = new WeakMap<Uint8Array, CodeInfo>();
const BYTE_VALUES: readonly bigint[] = Array.from({ length: 256 }, (_, i) => BigInt(i));

export function codeInfo(code: Uint8Array): CodeInfo {
  let d = cache.get(code);
  if (d === undefined) {
    d = analyse(code);
    cache.set(code, d);
  }
  return d;
}

/** For code that is not stored (init code): analysed every time. */
export function analyse(code: Uint8Array): CodeInfo {
  const n = code.length;
  const dests = new Uint8Array(n);
  const pushes = new Array<bigint | undefined>(n);
  for (let i = 0; i < n; i++) {
    const op = code[i]!;
    if (op === 0x5b) dests[i] = 1;
    else if (op >= 0x60 && op <= 0x7f) {
      const len = op - 0x5f;
      pushes[i] = len === 1 ? BYTE_VALUES[i + 1 < n ? code[i + 1]! : 0] : toBigAt(code, i + 1, len);
      i += len;
    }
  }
  return { dests, pushes, runs: 0 };
}
