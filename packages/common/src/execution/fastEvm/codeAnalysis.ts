/**
 * Jump destinations of a piece of code: a byte per code byte, 1 where a JUMPDEST opcode (not PUSH
 * data) sits. Computed once per code array: `MemoryState` hands out the same `Uint8Array` for a
 * contract's code every time, so a WeakMap keyed by it is a per-code-hash cache that needs no
 * hashing and goes away with the code.
 */
const cache = new WeakMap<Uint8Array, Uint8Array>();

export function jumpDests(code: Uint8Array): Uint8Array {
  let d = cache.get(code);
  if (d === undefined) {
    d = analyse(code);
    cache.set(code, d);
  }
  return d;
}

/** For code that is not stored (init code): analysed every time. */
export function analyse(code: Uint8Array): Uint8Array {
  const n = code.length;
  const d = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const op = code[i]!;
    if (op === 0x5b) d[i] = 1;
    else if (op >= 0x60 && op <= 0x7f) i += op - 0x5f;
  }
  return d;
}
