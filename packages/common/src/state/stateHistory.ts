import type { AccountRec, MemoryState, PreImage, StateReader } from "./memoryState.ts";

/** The values every key one block touched had before it (its first mini-block to touch a key). */
export interface BlockPre {
  number: bigint;
  accounts: Map<string, AccountRec | undefined>;
  code: Map<string, Uint8Array | undefined>;
  slots: Map<string, Map<string, Uint8Array | undefined>>;
  /** Accounts whose whole storage was replaced in the block: their full storage before it. */
  storage: Map<string, ReadonlyMap<string, Uint8Array> | undefined>;
}

/** The keys some blocks changed (0x hex): what an older block's state differs from a newer one's in. */
export interface ChangedKeys {
  accounts: Set<string>;
  slots: Map<string, Set<string>>;
  /** Accounts whose storage was wiped (self-destructed or re-created): all their slots are listed. */
  wiped: Set<string>;
}

export function emptyChangedKeys(): ChangedKeys {
  return { accounts: new Set(), slots: new Map(), wiped: new Set() };
}

export function addChangedSlot(c: ChangedKeys, addr: string, key: string): void {
  let set = c.slots.get(addr);
  if (set === undefined) {
    set = new Set();
    c.slots.set(addr, set);
  }
  set.add(key);
}

/** Default number of sealed blocks whose state a node keeps in memory (geth keeps 128). */
export const DEFAULT_STATE_WINDOW = 128;

/**
 * The state of recent sealed blocks, read through the pending state as of its newest sealed
 * mini-block (`MemoryState.committed`): for every block since
 * the oldest one served it keeps the value each touched key had before that block. The state at
 * the end of block `n` is the pending state with, for each key, the pre-value recorded by the
 * first block after `n` that touched it. So a historical read is at most one map lookup per block
 * in the window, and memory is bounded by the window's changes, not by the chain's length.
 *
 * `window` sealed blocks are served: the latest and the `window - 1` before it (never before
 * `base`, the block the pending state was loaded at: genesis, a snapshot, a full node's store).
 */
export class StateHistory {
  /** Pre-values of every block after `oldest`, oldest first (the open block's last). */
  private blocks: BlockPre[] = [];
  private latestNumber: bigint;
  private oldestNumber: bigint;
  /** With an archive: the newest block it holds (null: no archive, the window alone decides). */
  private archivedThrough: bigint | null;
  /** The state at the newest sealed block. */
  readonly latest: StateReader;

  constructor(
    private readonly pending: MemoryState,
    /** The sealed block whose state `pending` holds now (nothing after it is applied yet). */
    base: bigint,
    readonly window = DEFAULT_STATE_WINDOW,
    /** An archive holds the blocks through `base`; `archived` tells when it holds more. */
    archive = false,
  ) {
    if (window < 1) throw new Error("a state window holds at least the latest block");
    this.latestNumber = base;
    this.oldestNumber = base;
    this.archivedThrough = archive ? base : null;
    this.latest = {
      account: (a) => this.account(this.latestNumber, a),
      code: (a) => this.code(this.latestNumber, a),
      slot: (a, k) => this.slot(this.latestNumber, a, k),
      slots: (a) => this.slots(this.latestNumber, a),
      hasStorage: (a) => this.hasStorage(this.latestNumber, a),
    };
  }

  /** The oldest sealed block whose state is served. */
  get oldest(): bigint {
    return this.oldestNumber;
  }

  /** With an archive: the newest block it holds (its state is in the window). */
  get archivedBlock(): bigint | null {
    return this.archivedThrough;
  }

  /** The state at the end of sealed block `number`, or undefined when it is not kept. */
  at(number: bigint): StateReader | undefined {
    if (number < this.oldestNumber || number > this.latestNumber) return undefined;
    if (number === this.latestNumber) return this.latest;
    return {
      account: (a) => this.account(number, a),
      code: (a) => this.code(number, a),
      slot: (a, k) => this.slot(number, a, k),
      slots: (a) => this.slots(number, a),
      hasStorage: (a) => this.hasStorage(number, a),
    };
  }

  /** Records the pre-values of one mini-block of block `number` (not yet sealed). */
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

  /**
   * Adds to `into` every key the blocks after `number` in the window changed (the open block's
   * mini-blocks included): with the values at `number`, what rewinds the newest state to it.
   */
  changedSince(number: bigint, into: ChangedKeys): void {
    for (const b of this.blocks) {
      if (b.number <= number) continue;
      for (const a of b.accounts.keys()) into.accounts.add(a);
      for (const a of b.code.keys()) into.accounts.add(a);
      for (const [a, slots] of b.slots) for (const k of slots.keys()) addChangedSlot(into, a, k);
      for (const [a, storage] of b.storage) {
        into.wiped.add(a);
        for (const k of storage?.keys() ?? []) addChangedSlot(into, a, k);
      }
    }
  }

  /** The pre-values of block `number`, while it is in the window (a full node archives them). */
  preImage(number: bigint): Readonly<BlockPre> | undefined {
    return this.blocks.find((b) => b.number === number);
  }

  /**
   * With an archive behind the window: every block through `number` is on disk, and the window
   * may move past what is not (it never forgets a block the archive does not hold yet).
   */
  archived(number: bigint): void {
    this.archivedThrough = number;
    this.sealed(this.latestNumber);
  }

  /** Block `number` is sealed: it becomes `latest`, and blocks past the window are forgotten. */
  sealed(number: bigint): void {
    if (number > this.latestNumber) this.latestNumber = number;
    let oldest = this.latestNumber - BigInt(this.window) + 1n;
    if (this.archivedThrough !== null && oldest > this.archivedThrough) oldest = this.archivedThrough;
    if (oldest > this.oldestNumber) this.oldestNumber = oldest;
    // The state at `oldest` needs the pre-values of every block after it.
    let drop = 0;
    while (drop < this.blocks.length && this.blocks[drop]!.number <= this.oldestNumber) drop++;
    if (drop > 0) this.blocks = this.blocks.slice(drop);
  }

  /** Every account that exists in the pending state or in the latest one. */
  *addresses(): IterableIterator<string> {
    const seen = new Set<string>();
    for (const a of this.pending.addresses()) {
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

  private account(n: bigint, addr: string): AccountRec | undefined {
    for (const b of this.blocks) if (b.number > n && b.accounts.has(addr)) return b.accounts.get(addr);
    return this.pending.committed.account(addr);
  }

  private code(n: bigint, addr: string): Uint8Array | undefined {
    for (const b of this.blocks) if (b.number > n && b.code.has(addr)) return b.code.get(addr);
    return this.pending.committed.code(addr);
  }

  private slot(n: bigint, addr: string, key: string): Uint8Array | undefined {
    for (const b of this.blocks) {
      if (b.number <= n) continue;
      const m = b.slots.get(addr);
      if (m?.has(key)) return m.get(key);
      if (b.storage.has(addr)) return b.storage.get(addr)?.get(key);
    }
    return this.pending.committed.slot(addr, key);
  }

  private slots(n: bigint, addr: string): ReadonlyMap<string, Uint8Array> | undefined {
    const merged = new Map(this.pending.committed.slots(addr) ?? []);
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      const b = this.blocks[i]!;
      if (b.number <= n) break;
      if (b.storage.has(addr)) {
        merged.clear();
        for (const [k, v] of b.storage.get(addr) ?? []) merged.set(k, v);
      }
      for (const [k, v] of b.slots.get(addr) ?? []) {
        if (v === undefined || v.length === 0) merged.delete(k);
        else merged.set(k, v);
      }
    }
    return merged.size > 0 ? merged : undefined;
  }

  private hasStorage(n: bigint, addr: string): boolean {
    return (this.slots(n, addr)?.size ?? 0) > 0;
  }
}
