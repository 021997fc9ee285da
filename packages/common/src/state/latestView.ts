import type { AccountRec, MemoryState, PreImage, StateReader } from "./memoryState.ts";

interface BlockPre {
  number: bigint;
  accounts: Map<string, AccountRec | undefined>;
  code: Map<string, Uint8Array | undefined>;
  slots: Map<string, Map<string, Uint8Array | undefined>>;
  storage: Map<string, ReadonlyMap<string, Uint8Array> | undefined>;
}

/**
 * The state as of the newest sealed block (`latest`), read through the live pending state: for
 * every block not yet sealed it keeps the value each touched key had before that block (the first
 * mini-block to touch a key records it). Reads check those, oldest block first, then fall through
 * to the pending state.
 */
export class LatestView implements StateReader {
  private blocks: BlockPre[] = [];

  constructor(private readonly pending: MemoryState) {}

  /** Records the pre-values of one mini-block of block `number`. */
  add(number: bigint, pre: PreImage): void {
    let b = this.blocks[this.blocks.length - 1];
    if (b === undefined || b.number !== number) {
      b = { number, accounts: new Map(), code: new Map(), slots: new Map(), storage: new Map() };
      this.blocks.push(b);
    }
    for (const [k, v] of pre.accounts) if (!b.accounts.has(k)) b.accounts.set(k, v);
    for (const [k, v] of pre.code) if (!b.code.has(k)) b.code.set(k, v);
    for (const [addr, slots] of pre.slots) {
      if (b.storage.has(addr)) continue; // wiped earlier in this block: the wipe's map covers it
      let m = b.slots.get(addr);
      if (m === undefined) {
        m = new Map();
        b.slots.set(addr, m);
      }
      for (const [k, v] of slots) if (!m.has(k)) m.set(k, v);
    }
    for (const [addr, storage] of pre.storage) if (!b.storage.has(addr)) b.storage.set(addr, storage);
  }

  /** Every account that exists in the pending state or in the latest one. */
  *addresses(pending: MemoryState): IterableIterator<string> {
    const seen = new Set<string>();
    for (const a of pending.addresses()) {
      seen.add(a);
      yield a;
    }
    for (const b of this.blocks)
      for (const a of b.accounts.keys())
        if (!seen.has(a)) {
          seen.add(a);
          yield a;
        }
  }

  /** Block `number` is sealed: its pre-values are no longer needed. */
  sealed(number: bigint): void {
    this.blocks = this.blocks.filter((b) => b.number > number);
  }

  account(addr: string): AccountRec | undefined {
    for (const b of this.blocks) if (b.accounts.has(addr)) return b.accounts.get(addr);
    return this.pending.account(addr);
  }

  code(addr: string): Uint8Array | undefined {
    for (const b of this.blocks) if (b.code.has(addr)) return b.code.get(addr);
    return this.pending.code(addr);
  }

  slot(addr: string, key: string): Uint8Array | undefined {
    for (const b of this.blocks) {
      const m = b.slots.get(addr);
      if (m?.has(key)) return m.get(key);
      if (b.storage.has(addr)) return b.storage.get(addr)?.get(key);
    }
    return this.pending.slot(addr, key);
  }

  slots(addr: string): ReadonlyMap<string, Uint8Array> | undefined {
    const merged = new Map(this.pending.slots(addr) ?? []);
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      const b = this.blocks[i]!;
      const wiped = b.storage.get(addr);
      if (b.storage.has(addr)) {
        merged.clear();
        for (const [k, v] of wiped ?? []) merged.set(k, v);
      }
      for (const [k, v] of b.slots.get(addr) ?? []) {
        if (v === undefined || v.length === 0) merged.delete(k);
        else merged.set(k, v);
      }
    }
    return merged.size > 0 ? merged : undefined;
  }

  hasStorage(addr: string): boolean {
    return (this.slots(addr)?.size ?? 0) > 0;
  }
}
