import { toBigAt } from "./words.ts";

/**
 * What the interpreter precomputes per piece of code: the jump destinations (1 where a JUMPDEST
 * opcode, not PUSH data, sits) and the values of PUSH3..PUSH32 by program counter. Computed once
 * per code array: `MemoryState` hands out the same `Uint8Array` for a contract's code every time,
 * so a WeakMap keyed by it is a per-code-hash cache that needs no hashing and goes away with the
 * code.
 */
export interface CodeInfo {
  dests: Uint8Array;
  pushes: (bigint | undefined)[];
}

const cache = new WeakMap<Uint8Array, CodeInfo>();

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
      if (len >= 3) pushes[i] = toBigAt(code, i + 1, len);
      i += len;
    }
  }
  return { dests, pushes };
}
