import { RLP } from "@ethereumjs/rlp";
import { bigIntToUnpaddedBytes, bytesToBigInt, equalsBytes, hexToBytes } from "@ethereumjs/util";
import { KECCAK256_NULL, KECCAK256_RLP, keccak256 } from "../crypto/keccak.ts";
import { hexOf } from "../util/hex.ts";
import { MemTrie } from "./memTrie.ts";
import { DIFF_FLAG_CREATED, DIFF_FLAG_DELETED, type StateDiff, mergeDiffs } from "../state/stateDiff.ts";
import { ErrorCode, StaccatoError } from "../errors.ts";

interface TrieAccount {
  nonce: bigint;
  balance: bigint;
  codeHash: Uint8Array;
  storageRoot: Uint8Array;
}

export interface AccountProof {
  /** The state root the proof is against. */
  root: Uint8Array;
  address: Uint8Array;
  nonce: bigint;
  balance: bigint;
  codeHash: Uint8Array;
  storageHash: Uint8Array;
  accountProof: Uint8Array[];
  storageProof: { key: Uint8Array; value: Uint8Array; proof: Uint8Array[] }[];
}

const newTrie = () => new MemTrie({ secure: true });

/**
 * How an older block's state differs from the trie's last committed one: what `proofAt` rewinds.
 * Every key any block after the older one changed is listed with its value at that block.
 */
export interface StateRewind {
  /** The committed root the rewind starts from (the newest sealed block's state root). */
  from: Uint8Array;
  /** The older block's state root, which the rewound trie must reach. */
  to: Uint8Array;
  /** Each account changed since, as it was then (null: it did not exist). */
  accounts: [address: string, account: { nonce: bigint; balance: bigint; codeHash: Uint8Array } | null][];
  /**
   * Slots changed since, as they were then (empty: zero), per account. With `rebuild` (the
   * account's storage was wiped since), these are all the slots it had then: its storage trie is
   * built from them alone.
   */
  storage: [address: string, rebuild: boolean, slots: [slot: string, value: Uint8Array][]][];
}

/** `proofAt` found the trie at another root than the rewind starts from (a block sealed since). */
export class TrieMovedError extends StaccatoError<{ root: Uint8Array }> {
  constructor(root: Uint8Array) {
    super(ErrorCode.TrieMoved, "the state trie is not at the rewind's starting root", { root });
  }
}

export function encodeTrieAccount(a: TrieAccount): Uint8Array {
  return RLP.encode([
    bigIntToUnpaddedBytes(a.nonce),
    bigIntToUnpaddedBytes(a.balance),
    a.storageRoot,
    a.codeHash,
  ]);
}

/**
 * The keys a block's execution read (0x hex), sent with `commit` so the trie can record the
 * witness: addresses, and per address the storage slots.
 */
export interface WitnessReads {
  accounts: string[];
  slots: [address: string, slots: string[]][];
}

export function decodeTrieAccount(raw: Uint8Array): TrieAccount {
  const f = RLP.decode(raw) as Uint8Array[];
  if (!Array.isArray(f) || f.length !== 4) throw new Error("state trie: malformed account leaf");
  return {
    nonce: bytesToBigInt(f[0]!),
    balance: bytesToBigInt(f[1]!),
    storageRoot: f[2]!,
    codeHash: f[3]!,
  };
}

/**
 * The Merkle-Patricia state trie, fed by state diffs. Diffs accumulate between commits; `commit()`
 * writes every account and slot the block dirtied in one pass and returns the new state root,
 * so the root is paid for once per block, not per mini-block (DESIGN §1).
 *
 * Given the block's read keys, `commit` also records the witness (FACTS "Witness"): every
 * pre-state node that reading those keys and writing the block's changes touched, including the
 * siblings a deletion collapses. A trie built `fromWitness` over those nodes (the prover's) reads
 * and writes the same keys, and throws `MissingTrieNodeError` for anything outside them.
 */
export class StateTrie {
  private readonly accounts = new Map<string, TrieAccount>();
  private readonly accountTrie: MemTrie;
  private readonly storageTries = new Map<string, MemTrie>();
  private pendingParts: StateDiff[] = [];
  /** Partial mode: the witness nodes accounts and storage tries are resolved from. */
  private readonly db: Map<string, Uint8Array> | null;
  private recording: Set<MemTrie> | null = null;
  /** Addresses whose account path this witnessing commit has read already. */
  private readPaths = new Set<string>();
  private witness: Uint8Array[] | null = null;

  constructor(partial?: { root: Uint8Array; db: Map<string, Uint8Array> }) {
    this.db = partial?.db ?? null;
    this.accountTrie =
      partial === undefined ? newTrie() : MemTrie.fromNodeMap(partial.root, partial.db, { secure: true });
  }

  /** A trie over the witness of a block whose parent state root is `root`. */
  static fromWitness(root: Uint8Array, db: Map<string, Uint8Array>): StateTrie {
    return new StateTrie({ root, db });
  }

  /** Queues a diff for the next commit. */
  add(diff: StateDiff): void {
    this.pendingParts.push(diff);
  }

  /**
   * Applies every queued diff to the tries and returns the state root. With `reads`, records the
   * block's witness (`takeWitness`).
   */
  async commit(reads?: WitnessReads): Promise<Uint8Array> {
    const merged = mergeDiffs(this.pendingParts);
    this.pendingParts = [];
    if (reads !== undefined) this.startWitness(reads);
    for (const d of merged) {
      const addr = hexOf(d.address);
      if ((d.flags & DIFF_FLAG_DELETED) !== 0) {
        this.accounts.delete(addr);
        this.storageTries.delete(addr);
        this.accountTrie.del(d.address);
        continue;
      }
      const created = (d.flags & DIFF_FLAG_CREATED) !== 0;
      let acct = created ? undefined : this.account(addr, d.address);
      if (created) this.storageTries.delete(addr);
      acct = {
        nonce: d.nonce ?? acct?.nonce ?? 0n,
        balance: d.balance ?? acct?.balance ?? 0n,
        codeHash:
          d.code !== undefined
            ? d.code.length === 0
              ? KECCAK256_NULL
              : keccak256(d.code)
            : (acct?.codeHash ?? KECCAK256_NULL),
        storageRoot: acct?.storageRoot ?? KECCAK256_RLP,
      };
      if (d.storage.length > 0) {
        const st = this.storageTrie(addr, acct.storageRoot);
        for (const [key, value] of d.storage) {
          if (value.length === 0) st.del(key);
          else st.put(key, RLP.encode(value));
        }
        acct.storageRoot = st.root();
      }
      this.accounts.set(addr, acct);
      this.accountTrie.put(d.address, encodeTrieAccount(acct));
    }
    const root = this.accountTrie.root();
    if (this.recording !== null) {
      const nodes: Uint8Array[] = [];
      for (const t of this.recording) for (const n of t.stopRecording()) nodes.push(n);
      this.recording = null;
      this.readPaths = new Set();
      this.witness = nodes;
    }
    return root;
  }

  /** The witness nodes recorded by the last `commit(reads)`, once. */
  takeWitness(): Uint8Array[] {
    const w = this.witness ?? [];
    this.witness = null;
    return w;
  }

  /** Starts recording on the account trie and reads every key the block read, pre-state. */
  private startWitness(reads: WitnessReads): void {
    this.recording = new Set();
    this.readPaths = new Set();
    this.record(this.accountTrie);
    for (const a of reads.accounts) this.account(a, hexToBytes(a as `0x${string}`));
    for (const [a, slots] of reads.slots) {
      const acct = this.account(a, hexToBytes(a as `0x${string}`));
      if (acct === undefined || equalsBytes(acct.storageRoot, KECCAK256_RLP)) continue;
      const st = this.storageTrie(a, acct.storageRoot);
      for (const k of slots) st.get(hexToBytes(k as `0x${string}`));
    }
  }

  private record(t: MemTrie): void {
    if (this.recording === null || this.recording.has(t)) return;
    t.startRecording();
    this.recording.add(t);
  }

  /**
   * An account as of the last commit. While witnessing, the first read of an address in a commit
   * goes through the trie (that is what puts its path in the witness); a partial trie reads an
   * account it has not loaded yet.
   */
  private account(addr: string, address: Uint8Array): TrieAccount | undefined {
    const cached = this.accounts.get(addr);
    const mustRead =
      this.recording !== null ? !this.readPaths.has(addr) : this.db !== null && cached === undefined;
    if (!mustRead) return cached;
    if (this.recording !== null) this.readPaths.add(addr);
    const raw = this.accountTrie.get(address);
    if (cached !== undefined) return cached;
    if (raw === undefined) return undefined;
    const a = decodeTrieAccount(raw);
    this.accounts.set(addr, a);
    return a;
  }

  private storageTrie(addr: string, storageRoot: Uint8Array): MemTrie {
    let st = this.storageTries.get(addr);
    if (st === undefined) {
      st =
        this.db !== null && !equalsBytes(storageRoot, KECCAK256_RLP)
          ? MemTrie.fromNodeMap(storageRoot, this.db, { secure: true })
          : newTrie();
      this.storageTries.set(addr, st);
    }
    this.record(st);
    return st;
  }

  root(): Uint8Array {
    return this.accountTrie.root();
  }

  /**
   * EIP-1186 proof against an older state root: a partial trie over the last committed root's
   * nodes on the paths of every key changed since, rewound to the older values, then proven. It
   * reads O(keys changed × depth) nodes and leaves this trie untouched. Throws `TrieMovedError`
   * when the last commit is not `rewind.from`, and an error when the rewound root is not
   * `rewind.to` (never a proof against another root).
   */
  proofAt(address: Uint8Array, slots: Uint8Array[], rewind: StateRewind): AccountProof {
    const live = this.accountTrie.root();
    if (!equalsBytes(live, rewind.from)) throw new TrieMovedError(live);
    const target = hexOf(address);
    const db = new Map<string, Uint8Array>();
    const changed = new Map(rewind.accounts);
    const storage = new Map(rewind.storage.map(([a, rebuild, s]) => [a, { rebuild, slots: s }]));
    for (const a of new Set([target, ...changed.keys(), ...storage.keys()]))
      this.accountTrie.collectPath(hexToBytes(a as `0x${string}`), db);
    for (const [a, { rebuild, slots: s }] of storage) {
      const st = this.storageTries.get(a);
      if (rebuild || st === undefined) continue;
      for (const [k] of s) st.collectPath(hexToBytes(k as `0x${string}`), db);
    }
    for (const k of slots) this.storageTries.get(target)?.collectPath(k, db);
    const at = MemTrie.fromNodeMap(live, db, { secure: true });
    const tries = new Map<string, MemTrie>();
    let targetAccount: TrieAccount | undefined = this.accounts.get(target);
    for (const a of new Set([...changed.keys(), ...storage.keys()])) {
      const key = hexToBytes(a as `0x${string}`);
      const now = this.accounts.get(a);
      const then = changed.has(a) ? changed.get(a) : now;
      if (then === null || then === undefined) {
        at.del(key);
        if (a === target) targetAccount = undefined;
        continue;
      }
      let storageRoot = now?.storageRoot ?? KECCAK256_RLP;
      const st = storage.get(a);
      if (st !== undefined) {
        const t =
          st.rebuild || now === undefined || equalsBytes(storageRoot, KECCAK256_RLP)
            ? newTrie()
            : MemTrie.fromNodeMap(storageRoot, db, { secure: true });
        for (const [k, v] of st.slots) {
          const kb = hexToBytes(k as `0x${string}`);
          if (v.length === 0) t.del(kb);
          else t.put(kb, RLP.encode(v));
        }
        storageRoot = t.root();
        tries.set(a, t);
      }
      const acct = { nonce: then.nonce, balance: then.balance, codeHash: then.codeHash, storageRoot };
      at.put(key, encodeTrieAccount(acct));
      if (a === target) targetAccount = acct;
    }
    const root = at.root();
    if (!equalsBytes(root, rewind.to)) {
      throw new Error(
        `state trie: rewinding to an older block gave root ${hexOf(root)}, not its state root ${hexOf(rewind.to)}`,
      );
    }
    // The target's storage: rewound above, or unchanged since (the live trie proves it).
    const st = targetAccount === undefined ? undefined : (tries.get(target) ?? this.storageTries.get(target));
    const storageProof = slots.map((key) => {
      const raw = st?.get(key);
      return {
        key,
        value: raw === undefined ? new Uint8Array(0) : (RLP.decode(raw) as Uint8Array),
        proof: st === undefined ? [] : st.proof(key),
      };
    });
    return {
      root,
      address,
      nonce: targetAccount?.nonce ?? 0n,
      balance: targetAccount?.balance ?? 0n,
      codeHash: targetAccount?.codeHash ?? KECCAK256_NULL,
      storageHash: targetAccount?.storageRoot ?? KECCAK256_RLP,
      accountProof: at.proof(address),
      storageProof,
    };
  }

  /** EIP-1186 proof against the last committed root. */
  async proof(address: Uint8Array, slots: Uint8Array[]): Promise<AccountProof> {
    const addr = hexOf(address);
    const acct = this.accounts.get(addr);
    const accountProof = this.accountTrie.proof(address);
    const st = this.storageTries.get(addr);
    const storageProof = [];
    for (const key of slots) {
      if (st === undefined) {
        storageProof.push({ key, value: new Uint8Array(0), proof: [] });
        continue;
      }
      const raw = st.get(key);
      const value = raw === undefined ? new Uint8Array(0) : (RLP.decode(raw) as Uint8Array);
      storageProof.push({ key, value, proof: st.proof(key) });
    }
    return {
      root: this.accountTrie.root(),
      address,
      nonce: acct?.nonce ?? 0n,
      balance: acct?.balance ?? 0n,
      codeHash: acct?.codeHash ?? KECCAK256_NULL,
      storageHash: acct?.storageRoot ?? KECCAK256_RLP,
      accountProof,
      storageProof,
    };
  }
}
