import type { StateManagerInterface } from "@ethereumjs/common";
import { Account, type Address, equalsBytes, unpadBytes } from "@ethereumjs/util";
import { KECCAK256_NULL, KECCAK256_RLP, keccak256 } from "../crypto/keccak.ts";
import { bytesOfHex, hexOf } from "../util/hex.ts";
import type { AccountDiff, StateDiff } from "./stateDiff.ts";
import { DIFF_FLAG_CREATED, DIFF_FLAG_DELETED } from "./stateDiff.ts";

/** An account as execution sees it. Immutable: every change stores a new record. */
export interface AccountRec {
  readonly nonce: bigint;
  readonly balance: bigint;
  readonly codeHash: Uint8Array;
}

/**
 * Synchronous reads of one state version, keyed by lower-case 0x hex. `slot` values are unpadded
 * (empty or undefined = zero).
 */
export interface StateReader {
  account(addr: string): AccountRec | undefined;
  code(addr: string): Uint8Array | undefined;
  slot(addr: string, key: string): Uint8Array | undefined;
  /** All non-zero slots of one account (snapshots, proofs). */
  slots(addr: string): ReadonlyMap<string, Uint8Array> | undefined;
  hasStorage(addr: string): boolean;
}

/**
 * Every key execution read, for the block witness (DESIGN §3): the prover re-executes from the
 * witness alone, so each account, slot and code read must be provable against the pre-state.
 */
export interface ReadSet {
  accounts: Set<string>;
  /** address → slot keys (0x hex, 32 bytes). */
  slots: Map<string, Set<string>>;
  /** codeHash (0x hex) → code, captured at read time (before the block could change it). */
  codes: Map<string, Uint8Array>;
  /** Addresses whose code was read (what the write-ahead log keeps instead of the code). */
  codeAddrs: Set<string>;
}

export const newReadSet = (): ReadSet => ({
  accounts: new Set(),
  slots: new Map(),
  codes: new Map(),
  codeAddrs: new Set(),
});

/** Pre-values of everything one epoch (a mini-block) touched, for `latest` views. */
export interface PreImage {
  accounts: Map<string, AccountRec | undefined>;
  code: Map<string, Uint8Array | undefined>;
  slots: Map<string, Map<string, Uint8Array | undefined>>;
  /** Accounts whose whole storage was replaced: their full pre-storage. */
  storage: Map<string, ReadonlyMap<string, Uint8Array> | undefined>;
}

type JournalEntry =
  | { t: 0; addr: string; prev: AccountRec | undefined }
  | { t: 1; addr: string; key: string; prev: Uint8Array | undefined }
  | { t: 2; addr: string; prev: Uint8Array | undefined }
  | { t: 3; addr: string; prev: Map<string, Uint8Array> | undefined; prevWiped: boolean };

/** What one epoch (a mini-block) touched, with the values before it. */
interface Touched {
  pre: AccountRec | undefined;
  codeTouched: boolean;
  preCode: Uint8Array | undefined;
  /** Set at the first storage wipe of the epoch: the storage map as it was before. */
  wipedFrom: Map<string, Uint8Array> | undefined | false;
  /** Slot → pre-value; null until the epoch writes a slot of this account (most touch none). */
  slots: Map<string, Uint8Array | undefined> | null;
  /** Slots first touched after a wipe: their recorded pre-value is not the epoch's. */
  afterWipe: Set<string> | null;
}

const EMPTY = new Uint8Array(0);
/** Reported as `storageRoot` for accounts with storage: execution only compares it with the empty root. */
const NON_EMPTY_STORAGE = keccak256(new TextEncoder().encode("staccato:non-empty-storage"));

/**
 * The whole state in RAM, journaled for the EVM (checkpoint/commit/revert per call frame), and
 * tracking the pre-value of every key touched since the last `takeDiff()`, so each mini-block's
 * state diff falls out of execution for free. No trie here: roots are computed elsewhere, once
 * per block, from the diffs.
 *
 * With a `base` reader it is a copy-on-write layer over another state version (`eth_call`, gas
 * estimation): local `null`/empty entries shadow the base, and a wiped account's storage no longer
 * falls through to it.
 */
/**
 * Code hashes as hex, by identity: every call into a contract records its code for the witness,
 * and the account's code hash is the same array from one call to the next.
 */
const codeHashHexes = new WeakMap<Uint8Array, string>();
function codeHashHex(codeHash: Uint8Array): string {
  let h = codeHashHexes.get(codeHash);
  if (h === undefined) {
    h = hexOf(codeHash);
    codeHashHexes.set(codeHash, h);
  }
  return h;
}

export class MemoryState implements StateManagerInterface, StateReader {
  private readonly accounts = new Map<string, AccountRec | null>();
  private readonly codes = new Map<string, Uint8Array | null>();
  private readonly storage = new Map<string, Map<string, Uint8Array>>();
  private readonly wiped = new Set<string>();
  private journal: JournalEntry[] = [];
  private readonly checkpoints: number[] = [];
  private touched = new Map<string, Touched>();
  private readonly txOriginal = new Map<string, Uint8Array>();
  /** While set, every account, slot and code read is recorded in it (the block's witness keys). */
  reads: ReadSet | null = null;

  constructor(private readonly base: StateReader | null = null) {}

  // ---------- StateReader ----------

  account(addr: string): AccountRec | undefined {
    this.reads?.accounts.add(addr);
    const a = this.accounts.get(addr);
    if (a !== undefined) return a ?? undefined;
    return this.base?.account(addr);
  }

  code(addr: string): Uint8Array | undefined {
    const c = this.codes.get(addr);
    const code = c !== undefined ? (c ?? undefined) : this.base?.code(addr);
    if (this.reads !== null && code !== undefined) {
      this.reads.codeAddrs.add(addr);
      const codeHash = this.account(addr)?.codeHash;
      if (codeHash !== undefined) {
        const h = codeHashHex(codeHash);
        if (!this.reads.codes.has(h)) this.reads.codes.set(h, code);
      }
    }
    return code;
  }

  slot(addr: string, key: string): Uint8Array | undefined {
    if (this.reads !== null) {
      let s = this.reads.slots.get(addr);
      if (s === undefined) {
        s = new Set();
        this.reads.slots.set(addr, s);
      }
      s.add(key);
    }
    const v = this.storage.get(addr)?.get(key);
    if (v !== undefined) return v.length > 0 ? v : undefined;
    if (this.base === null || this.wiped.has(addr)) return undefined;
    return this.base.slot(addr, key);
  }

  slots(addr: string): ReadonlyMap<string, Uint8Array> | undefined {
    const local = this.storage.get(addr);
    if (this.base === null) return local;
    const merged = new Map(this.wiped.has(addr) ? [] : (this.base.slots(addr) ?? []));
    for (const [k, v] of local ?? []) merged.set(k, v);
    for (const [k, v] of merged) if (v.length === 0) merged.delete(k);
    return merged.size > 0 ? merged : undefined;
  }

  hasStorage(addr: string): boolean {
    const local = this.storage.get(addr);
    if (this.base === null) return local !== undefined;
    for (const v of local?.values() ?? []) if (v.length > 0) return true;
    return !this.wiped.has(addr) && this.base.hasStorage(addr);
  }

  /** Every account address held locally (not the base's). */
  addresses(): IterableIterator<string> {
    return this.accounts.keys();
  }

  // ---------- the state as of the last takeDiff ----------

  /**
   * The state as of the last `takeDiff` / `takePreImage` (the newest sealed mini-block), whatever
   * execution has written since: a key touched since reads as its recorded pre-value. RPC reads
   * go through it, so a read that runs while a transaction is suspended mid-execution (runTx
   * awaits) never sees its half-done writes. Reads here are not recorded in the witness set.
   */
  readonly committed: StateReader = {
    account: (addr) => {
      const t = this.touched.get(addr);
      return t !== undefined ? t.pre : this.rawAccount(addr);
    },
    code: (addr) => {
      const t = this.touched.get(addr);
      if (t?.codeTouched) return t.preCode;
      const c = this.codes.get(addr);
      return c !== undefined ? (c ?? undefined) : this.base?.code(addr);
    },
    slot: (addr, key) => {
      const t = this.touched.get(addr);
      if (t !== undefined) {
        if (t.slots?.has(key) && t.afterWipe?.has(key) !== true) return nonZero(t.slots.get(key));
        if (t.wipedFrom !== false) return nonZero(t.wipedFrom?.get(key));
      }
      const v = this.storage.get(addr)?.get(key);
      if (v !== undefined) return v.length > 0 ? v : undefined;
      if (this.base === null || this.wiped.has(addr)) return undefined;
      return this.base.slot(addr, key);
    },
    slots: (addr) => {
      const t = this.touched.get(addr);
      if (t === undefined) return this.slots(addr);
      const merged = new Map(t.wipedFrom !== false ? (t.wipedFrom ?? []) : (this.slots(addr) ?? []));
      for (const [k, v] of t.slots ?? []) {
        if (t.afterWipe?.has(k) === true) continue;
        if (v === undefined || v.length === 0) merged.delete(k);
        else merged.set(k, v);
      }
      return merged.size > 0 ? merged : undefined;
    },
    hasStorage: (addr) => (this.committed.slots(addr)?.size ?? 0) > 0,
  };

  private rawAccount(addr: string): AccountRec | undefined {
    const a = this.accounts.get(addr);
    if (a !== undefined) return a ?? undefined;
    return this.base?.account(addr);
  }

  // ---------- StateManagerInterface ----------

  async getAccount(address: Address): Promise<Account | undefined> {
    const addr = hexOf(address.bytes);
    const rec = this.account(addr);
    if (rec === undefined) return undefined;
    const storageRoot = this.hasStorage(addr) ? NON_EMPTY_STORAGE : KECCAK256_RLP;
    return new Account(rec.nonce, rec.balance, storageRoot, rec.codeHash);
  }

  async putAccount(address: Address, account?: Account): Promise<void> {
    if (account === undefined) return this.deleteAccount(address);
    this.setAccount(hexOf(address.bytes), {
      nonce: account.nonce,
      balance: account.balance,
      codeHash: account.codeHash,
    });
  }

  async deleteAccount(address: Address): Promise<void> {
    this.removeAccount(hexOf(address.bytes));
  }

  async modifyAccountFields(
    address: Address,
    fields: Partial<{ nonce: bigint; balance: bigint; codeHash: Uint8Array }>,
  ): Promise<void> {
    const addr = hexOf(address.bytes);
    const cur = this.account(addr) ?? EMPTY_ACCOUNT;
    this.setAccount(addr, {
      nonce: fields.nonce ?? cur.nonce,
      balance: fields.balance ?? cur.balance,
      codeHash: fields.codeHash ?? cur.codeHash,
    });
  }

  async putCode(address: Address, value: Uint8Array): Promise<void> {
    this.writeCode(hexOf(address.bytes), value);
  }

  async getCode(address: Address): Promise<Uint8Array> {
    return this.code(hexOf(address.bytes)) ?? EMPTY;
  }

  async getCodeSize(address: Address): Promise<number> {
    return (this.code(hexOf(address.bytes)) ?? EMPTY).length;
  }

  async getStorage(address: Address, key: Uint8Array): Promise<Uint8Array> {
    return this.slot(hexOf(address.bytes), hexOf(key)) ?? EMPTY;
  }

  async putStorage(address: Address, key: Uint8Array, value: Uint8Array): Promise<void> {
    this.setSlot(hexOf(address.bytes), hexOf(key), unpadBytes(value));
  }

  async clearStorage(address: Address): Promise<void> {
    this.wipeStorage(hexOf(address.bytes));
  }

  async checkpoint(): Promise<void> {
    this.checkpointSync();
  }

  async commit(): Promise<void> {
    this.commitSync();
  }

  async revert(): Promise<void> {
    this.revertSync();
  }

  /** Slot values as they were when the current transaction started (EIP-2200 gas). */
  readonly originalStorageCache = {
    get: async (address: Address, key: Uint8Array): Promise<Uint8Array> =>
      this.originalSlot(hexOf(address.bytes), hexOf(key)),
    clear: (): void => {
      this.txOriginal.clear();
    },
  };

  // ---------- the same operations, synchronous (the fast EVM's host interface) ----------

  checkpointSync(): void {
    this.checkpoints.push(this.journal.length);
  }

  commitSync(): void {
    this.checkpoints.pop();
    if (this.checkpoints.length === 0) this.journal = [];
  }

  revertSync(): void {
    const mark = this.checkpoints.pop() ?? 0;
    for (let i = this.journal.length - 1; i >= mark; i--) this.undo(this.journal[i]!);
    this.journal.length = mark;
  }

  /**
   * A slot's value when the current transaction started (unpadded; empty = zero). `joined` is
   * `addr + key`, for a caller that has it already (one string, hashed once, serves every lookup).
   */
  originalSlot(addr: string, key: string, joined = addr + key): Uint8Array {
    return this.txOriginal.get(joined) ?? this.slot(addr, key) ?? EMPTY;
  }

  /** Forgets the transaction's original slot values (`originalStorageCache.clear()`). */
  clearOriginals(): void {
    this.txOriginal.clear();
  }

  /** `putCode`: stores code (empty = none) and the account's code hash. */
  writeCode(addr: string, code: Uint8Array): void {
    this.setCode(addr, code.length === 0 ? undefined : code);
    const cur = this.account(addr) ?? EMPTY_ACCOUNT;
    const codeHash = code.length === 0 ? KECCAK256_NULL : keccak256(code);
    this.setAccount(addr, { nonce: cur.nonce, balance: cur.balance, codeHash });
  }

  /** `putStorage` with an unpadded value (empty = zero); `joined` as for `originalSlot`. */
  writeSlot(addr: string, key: string, value: Uint8Array, joined?: string): void {
    this.setSlot(addr, key, value, joined);
  }

  /** `clearStorage`. */
  wipeStorageOf(addr: string): void {
    this.wipeStorage(addr);
  }

  /** `deleteAccount`: the account, its code and its storage. */
  removeAccount(addr: string): void {
    this.setAccount(addr, undefined);
    this.setCode(addr, undefined);
    this.wipeStorage(addr);
  }

  async getStateRoot(): Promise<Uint8Array> {
    throw new Error("MemoryState has no trie: state roots are computed by the state trie at block seal");
  }
  async setStateRoot(): Promise<void> {
    throw new Error("MemoryState cannot switch state roots");
  }
  async hasStateRoot(): Promise<boolean> {
    return false;
  }
  clearCaches(): void {}
  shallowCopy(): StateManagerInterface {
    return new MemoryState(this);
  }

  // ---------- writes: journaled inside a checkpoint, tracked for the diff ----------

  /** Stores an account record as execution would (tracked for the diff; journaled in a checkpoint). */
  writeAccount(addr: string, rec: AccountRec): void {
    this.setAccount(addr, rec);
  }

  private setAccount(addr: string, rec: AccountRec | undefined): void {
    this.touch(addr);
    const prev = this.account(addr);
    if (this.checkpoints.length > 0) this.journal.push({ t: 0, addr, prev });
    this.putAccountRaw(addr, rec);
  }

  private setCode(addr: string, code: Uint8Array | undefined): void {
    const prev = this.code(addr);
    const t = this.touch(addr);
    if (!t.codeTouched) {
      t.codeTouched = true;
      t.preCode = prev;
    }
    if (this.checkpoints.length > 0) this.journal.push({ t: 2, addr, prev });
    this.putCodeRaw(addr, code);
  }

  private setSlot(addr: string, key: string, value: Uint8Array, joined?: string): void {
    const prev = this.slot(addr, key);
    const t = this.touch(addr);
    t.slots ??= new Map();
    if (!t.slots.has(key)) {
      t.slots.set(key, prev);
      if (t.wipedFrom !== false) {
        t.afterWipe ??= new Set();
        t.afterWipe.add(key);
      }
    }
    if (this.checkpoints.length > 0) {
      // Only writes inside a transaction (a checkpoint) have an "original" value (EIP-2200).
      const ok = joined ?? addr + key;
      if (!this.txOriginal.has(ok)) this.txOriginal.set(ok, prev ?? EMPTY);
      this.journal.push({ t: 1, addr, key, prev });
    }
    this.putSlotRaw(addr, key, value);
  }

  private wipeStorage(addr: string): void {
    const prev = this.storage.get(addr);
    const t = this.touch(addr);
    if (t.wipedFrom === false) t.wipedFrom = prev;
    const prevWiped = this.wiped.has(addr);
    if (this.checkpoints.length > 0) this.journal.push({ t: 3, addr, prev, prevWiped });
    this.storage.delete(addr);
    if (this.base !== null) this.wiped.add(addr);
  }

  private putAccountRaw(addr: string, rec: AccountRec | undefined): void {
    if (rec !== undefined) this.accounts.set(addr, rec);
    else if (this.base === null) this.accounts.delete(addr);
    else this.accounts.set(addr, null);
  }

  private putCodeRaw(addr: string, code: Uint8Array | undefined): void {
    if (code !== undefined) this.codes.set(addr, code);
    else if (this.base === null) this.codes.delete(addr);
    else this.codes.set(addr, null);
  }

  private putSlotRaw(addr: string, key: string, value: Uint8Array): void {
    let m = this.storage.get(addr);
    if (value.length === 0 && this.base === null) {
      if (m === undefined) return;
      m.delete(key);
      if (m.size === 0) this.storage.delete(addr);
      return;
    }
    if (m === undefined) {
      m = new Map();
      this.storage.set(addr, m);
    }
    m.set(key, value);
  }

  private undo(e: JournalEntry): void {
    switch (e.t) {
      case 0:
        this.putAccountRaw(e.addr, e.prev);
        break;
      case 1:
        this.putSlotRaw(e.addr, e.key, e.prev ?? EMPTY);
        break;
      case 2:
        this.putCodeRaw(e.addr, e.prev);
        break;
      case 3:
        if (e.prev === undefined) this.storage.delete(e.addr);
        else this.storage.set(e.addr, e.prev);
        if (e.prevWiped) this.wiped.add(e.addr);
        else this.wiped.delete(e.addr);
        break;
    }
  }

  private touch(addr: string): Touched {
    return this.touched.get(addr) ?? this.touchAt(addr, this.account(addr));
  }

  /** `touch` for a caller that has just read the account (`current`): its first touch records it. */
  private touchAt(addr: string, current: AccountRec | undefined): Touched {
    let t = this.touched.get(addr);
    if (t === undefined) {
      t = {
        pre: current,
        codeTouched: false,
        preCode: undefined,
        wipedFrom: false,
        slots: null,
        afterWipe: null,
      };
      this.touched.set(addr, t);
    }
    return t;
  }

  // ---------- diffs ----------

  /**
   * The state diff of everything changed since the previous call (one mini-block), with the
   * pre-values of the keys it touched. Only fields that changed are included.
   */
  takeDiff(): { diff: StateDiff; pre: PreImage } {
    return this.take(true);
  }

  /**
   * The pre-values of what was touched since the previous call, without building the diff: for
   * a replica that applied a diff it already has (`applyDiff(diff, true)`) and needs only the
   * `latest` view's pre-image.
   */
  takePreImage(): PreImage {
    return this.take(false).pre;
  }

  private take(withDiff: boolean): { diff: StateDiff; pre: PreImage } {
    const diff: StateDiff = [];
    const pre: PreImage = { accounts: new Map(), code: new Map(), slots: new Map(), storage: new Map() };
    for (const [addr, t] of this.touched) {
      const cur = this.storage.get(addr);
      const wiped = t.wipedFrom !== false && t.wipedFrom !== undefined && cur !== t.wipedFrom;
      pre.accounts.set(addr, t.pre);
      if (t.codeTouched) pre.code.set(addr, t.preCode);
      if (wiped) pre.storage.set(addr, t.wipedFrom as Map<string, Uint8Array>);
      if (t.slots !== null) {
        let slots = t.slots;
        if (t.afterWipe !== null) {
          slots = new Map(t.slots);
          for (const k of t.afterWipe) slots.delete(k);
        }
        pre.slots.set(addr, slots);
      }
      if (!withDiff) continue;
      const d = accountDiff(addr, t, this.account(addr), wiped, cur, this.code(addr));
      if (d !== null) diff.push(d);
    }
    this.touched = new Map();
    return { diff, pre };
  }

  /**
   * Applies a diff produced by `takeDiff` (replay, full nodes). Not journaled. With `track`, the
   * touched keys are recorded as execution would, so `takeDiff()` yields their pre-values.
   */
  applyDiff(diff: StateDiff, track = false): void {
    if (track && this.checkpoints.length > 0)
      throw new Error("applyDiff is not journaled: apply outside a checkpoint");
    for (const d of diff) {
      const addr = hexOf(d.address);
      const prior = this.account(addr);
      if (track) this.touchAt(addr, prior);
      if ((d.flags & DIFF_FLAG_DELETED) !== 0) {
        if (track) {
          this.setCode(addr, undefined);
          this.wipeStorage(addr);
        } else {
          this.putCodeRaw(addr, undefined);
          this.storage.delete(addr);
        }
        this.putAccountRaw(addr, undefined);
        continue;
      }
      const created = (d.flags & DIFF_FLAG_CREATED) !== 0;
      if (created) {
        if (track) this.wipeStorage(addr);
        else this.storage.delete(addr);
      }
      const cur = created ? undefined : prior;
      let codeHash = cur?.codeHash ?? KECCAK256_NULL;
      if (created && d.code === undefined && cur === undefined && this.code(addr) !== undefined) {
        if (track) this.setCode(addr, undefined);
        else this.putCodeRaw(addr, undefined);
      }
      if (d.code !== undefined) {
        const code = d.code.length === 0 ? undefined : d.code;
        if (track) this.setCode(addr, code);
        else this.putCodeRaw(addr, code);
        codeHash = code === undefined ? KECCAK256_NULL : keccak256(code);
      }
      this.putAccountRaw(addr, {
        nonce: d.nonce ?? cur?.nonce ?? 0n,
        balance: d.balance ?? cur?.balance ?? 0n,
        codeHash,
      });
      for (const [key, value] of d.storage) {
        if (track) this.setSlot(addr, hexOf(key), unpadBytes(value));
        else this.putSlotRaw(addr, hexOf(key), unpadBytes(value));
      }
    }
  }
}

const EMPTY_ACCOUNT: AccountRec = { nonce: 0n, balance: 0n, codeHash: KECCAK256_NULL };

const nonZero = (v: Uint8Array | undefined): Uint8Array | undefined =>
  v === undefined || v.length === 0 ? undefined : v;

function accountDiff(
  addr: string,
  t: Touched,
  post: AccountRec | undefined,
  wiped: boolean,
  storage: ReadonlyMap<string, Uint8Array> | undefined,
  code: Uint8Array | undefined,
): AccountDiff | null {
  const address = bytesOfHex(addr);
  if (post === undefined) {
    return t.pre === undefined ? null : { address, flags: DIFF_FLAG_DELETED, storage: [] };
  }
  const created = t.pre === undefined || wiped;
  const base = created ? undefined : t.pre;
  const d: AccountDiff = { address, flags: created ? DIFF_FLAG_CREATED : 0, storage: [] };
  if (base === undefined || post.nonce !== base.nonce) d.nonce = post.nonce;
  if (base === undefined || post.balance !== base.balance) d.balance = post.balance;
  const preCodeHash = base?.codeHash ?? KECCAK256_NULL;
  if (!equalsBytes(post.codeHash, preCodeHash)) d.code = code ?? EMPTY;
  if (created) {
    for (const [k, v] of storage ?? []) if (v.length > 0) d.storage.push([bytesOfHex(k), v]);
  } else {
    for (const [k, prev] of t.slots ?? []) {
      const cur = storage?.get(k) ?? EMPTY;
      if (!equalsBytes(cur, prev ?? EMPTY)) d.storage.push([bytesOfHex(k), cur]);
    }
  }
  const changed =
    created ||
    d.nonce !== undefined ||
    d.balance !== undefined ||
    d.code !== undefined ||
    d.storage.length > 0;
  return changed ? d : null;
}
