import type { Log } from "../../types/chain.ts";

/** RIPEMD-160's precompile stays touched when a call to it reverts (a consensus quirk kept since 2016). */
const RIPEMD160 = "0x0000000000000000000000000000000000000003";

const WARM_ADDR = 0;
const WARM_SLOT = 1;
const TRANSIENT = 2;
const TOUCHED = 3;
const SELFDESTRUCT = 4;
const CREATED = 5;

/**
 * A transaction's substate beside the accounts: warm addresses and slots (EIP-2929), transient
 * storage (EIP-1153), logs, the touched accounts EIP-161 cleans up, self-destructs (EIP-6780), the
 * contracts created by the transaction, and the refund counter. All of it is journaled: a call frame
 * that fails rolls back exactly what it added, as `@ethereumjs/evm`'s journal does.
 */
export class Substate {
  readonly warmAddrs = new Set<string>();
  readonly warmSlots = new Set<string>();
  readonly transient = new Map<string, bigint>();
  logs: Log[] = [];
  /** Insertion-ordered, as EIP-161 cleanup walks it. */
  readonly touched = new Set<string>();
  readonly selfdestructs = new Set<string>();
  readonly created = new Set<string>();
  refund = 0;

  /** Warm in every transaction (the precompiles): never journaled, never cleared. */
  readonly alwaysWarm = new Set<string>();

  private readonly jKind: number[] = [];
  private readonly jKey: string[] = [];
  private readonly jPrev: (bigint | undefined)[] = [];
  /** Per open checkpoint: journal length, logs length, refund. */
  private readonly marks: number[] = [];

  reset(): void {
    this.warmAddrs.clear();
    this.warmSlots.clear();
    this.transient.clear();
    this.logs = [];
    this.touched.clear();
    this.selfdestructs.clear();
    this.created.clear();
    this.refund = 0;
    this.jKind.length = 0;
    this.jKey.length = 0;
    this.jPrev.length = 0;
    this.marks.length = 0;
  }

  checkpoint(): void {
    this.marks.push(this.jKind.length, this.logs.length, this.refund);
  }

  commit(): void {
    this.marks.length -= 3;
  }

  revert(): void {
    const n = this.marks.length;
    const mark = this.marks[n - 3]!;
    this.logs.length = this.marks[n - 2]!;
    this.refund = this.marks[n - 1]!;
    this.marks.length = n - 3;
    for (let i = this.jKind.length - 1; i >= mark; i--) {
      const key = this.jKey[i]!;
      switch (this.jKind[i]) {
        case WARM_ADDR:
          this.warmAddrs.delete(key);
          break;
        case WARM_SLOT:
          this.warmSlots.delete(key);
          break;
        case TRANSIENT: {
          const prev = this.jPrev[i];
          if (prev === undefined) this.transient.delete(key);
          else this.transient.set(key, prev);
          break;
        }
        case TOUCHED:
          if (key !== RIPEMD160) this.touched.delete(key);
          break;
        case SELFDESTRUCT:
          this.selfdestructs.delete(key);
          break;
        case CREATED:
          this.created.delete(key);
          break;
      }
    }
    this.jKind.length = mark;
    this.jKey.length = mark;
    this.jPrev.length = mark;
  }

  private record(kind: number, key: string, prev?: bigint): void {
    this.jKind.push(kind);
    this.jKey.push(key);
    this.jPrev.push(prev);
  }

  /** Warms an address; true if it was cold. */
  warmAddr(addr: string): boolean {
    if (this.warmAddrs.has(addr) || this.alwaysWarm.has(addr)) return false;
    this.warmAddrs.add(addr);
    this.record(WARM_ADDR, addr);
    return true;
  }

  /** Warms a slot (key = address key + slot key); true if it was cold. */
  warmSlot(key: string): boolean {
    if (this.warmSlots.has(key)) return false;
    this.warmSlots.add(key);
    this.record(WARM_SLOT, key);
    return true;
  }

  tload(key: string): bigint {
    return this.transient.get(key) ?? 0n;
  }

  tstore(key: string, v: bigint): void {
    this.record(TRANSIENT, key, this.transient.get(key));
    this.transient.set(key, v);
  }

  touch(addr: string): void {
    if (this.touched.has(addr)) return;
    this.touched.add(addr);
    this.record(TOUCHED, addr);
  }

  selfdestruct(addr: string): void {
    if (this.selfdestructs.has(addr)) return;
    this.selfdestructs.add(addr);
    this.record(SELFDESTRUCT, addr);
  }

  markCreated(addr: string): void {
    if (this.created.has(addr)) return;
    this.created.add(addr);
    this.record(CREATED, addr);
  }
}
