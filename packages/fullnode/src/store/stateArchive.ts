import { RLP } from "@ethereumjs/rlp";
import {
  type AccountRec,
  type ArchiveOp,
  type AsyncStateReader,
  type BlockPre,
  type ChangedKeys,
  KECCAK256_NULL,
  type RlpItem,
  type StateDiff,
  type StateReader,
  addChangedSlot,
  archiveKey,
  big,
  bytes,
  hexOf,
  keccak256,
  list,
  u,
  u64,
} from "@staccato/common";
import type { ClassicLevel } from "classic-level";

/**
 * The state of every past block, as change sets (reth's and Erigon's model): for each block, the
 * value every key it changed had before it. The state at block `k` is, for each key, the value
 * recorded by the first block after `k` that changed it, or, if none did, its value now. A
 * historical read is one index seek, not a replay. Keys (in the full node's store):
 *
 *   A ‖ address ‖ u64 n           the account before block n: RLP [nonce, balance, codeHash], or
 *                                 empty when it did not exist
 *   S ‖ address ‖ slot ‖ u64 n    the storage slot before block n (empty: zero)
 *   C ‖ codeHash                  contract code, by hash (never pruned: small, and shared)
 *   X ‖ u64 n                     the A and S keys block n wrote, for pruning
 */
const P_ACCOUNT = 0x41;
const P_SLOT = 0x53;
const P_CODE = 0x43;
const P_CHANGES = 0x58;
const MAX_U64 = new Uint8Array(8).fill(0xff);
const EMPTY = new Uint8Array(0);

const addrBytes = (hex: string): Uint8Array => Buffer.from(hex.slice(2), "hex");
const readU64 = (b: Uint8Array, off: number): bigint =>
  new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off);

function encodeAccount(a: AccountRec | undefined): Uint8Array {
  return a === undefined ? EMPTY : RLP.encode([u(a.nonce), u(a.balance), a.codeHash]);
}

function decodeAccount(v: Uint8Array): AccountRec | undefined {
  if (v.length === 0) return undefined;
  const [n, b, c] = list(RLP.decode(v) as RlpItem, "archived account", 3);
  return { nonce: big(n, "nonce"), balance: big(b, "balance"), codeHash: bytes(c, "codeHash", 32) };
}

export class StateArchive {
  constructor(private readonly db: ClassicLevel<Uint8Array, Uint8Array>) {}

  /** Every code in a state diff, by hash (genesis, a snapshot, or a block's new contracts). */
  codeOps(diff: StateDiff): ArchiveOp[] {
    const ops: ArchiveOp[] = [];
    for (const d of diff)
      if (d.code !== undefined && d.code.length > 0)
        ops.push({ type: "put", key: archiveKey(P_CODE, keccak256(d.code)), value: d.code });
    return ops;
  }

  /**
   * The change set of block `n`: the pre-values of what it touched (`pre`, as the state history
   * recorded them) and of the slots its diff writes in accounts it wiped.
   */
  changeOps(n: bigint, pre: Readonly<BlockPre>, diff: StateDiff): ArchiveOp[] {
    const ops: ArchiveOp[] = [];
    const keys: Uint8Array[] = [];
    const nb = u64(n);
    const put = (k: Uint8Array, value: Uint8Array) => {
      ops.push({ type: "put", key: archiveKey(k[0]!, k.subarray(1), nb), value });
      keys.push(k);
    };
    for (const [addr, rec] of pre.accounts) put(archiveKey(P_ACCOUNT, addrBytes(addr)), encodeAccount(rec));
    const slotsOf = new Map<string, Map<string, Uint8Array | undefined>>();
    for (const [addr, slots] of pre.slots) slotsOf.set(addr, new Map(slots));
    for (const [addr, storage] of pre.storage) {
      // Wiped: every slot it had, and every slot the block then wrote, had its pre-storage value.
      const m = slotsOf.get(addr) ?? new Map<string, Uint8Array | undefined>();
      for (const [k, v] of storage ?? []) if (!m.has(k)) m.set(k, v);
      const written = diff.find((d) => hexOf(d.address) === addr);
      for (const [k] of written?.storage ?? []) {
        const key = hexOf(k);
        if (!m.has(key)) m.set(key, storage?.get(key));
      }
      slotsOf.set(addr, m);
    }
    for (const [addr, slots] of slotsOf)
      for (const [k, v] of slots) put(archiveKey(P_SLOT, addrBytes(addr), addrBytes(k)), v ?? EMPTY);
    ops.push({ type: "put", key: archiveKey(P_CHANGES, nb), value: RLP.encode(keys) });
    return ops;
  }

  /** The ops dropping the change sets of blocks below `below` (`--state-history` on a full node). */
  async pruneOps(below: bigint, limit = 100): Promise<ArchiveOp[]> {
    const ops: ArchiveOp[] = [];
    for await (const [k, v] of this.db.iterator({
      gte: Uint8Array.of(P_CHANGES),
      lt: archiveKey(P_CHANGES, u64(below)),
      limit,
    })) {
      const nb = k.subarray(1);
      for (const key of RLP.decode(v) as Uint8Array[])
        ops.push({ type: "del", key: archiveKey(key[0]!, key.subarray(1), nb) });
      ops.push({ type: "del", key: k });
    }
    return ops;
  }

  /**
   * Adds to `into` every key the change sets of blocks after `k` hold (`eth_getProof` at `k`
   * rewinds them). A wipe's change set lists every slot the account had, so no key is missed.
   * Throws past `maxKeys`: a rewind that large is refused rather than run.
   */
  async changedSince(k: bigint, into: ChangedKeys, maxKeys: number): Promise<void> {
    let count = 0;
    for await (const v of this.db.values({
      gte: archiveKey(P_CHANGES, u64(k + 1n)),
      lt: Uint8Array.of(P_CHANGES + 1),
    })) {
      for (const key of RLP.decode(v) as Uint8Array[]) {
        const addr = hexOf(key.subarray(1, 21));
        if (key[0] === P_ACCOUNT) into.accounts.add(addr);
        else addChangedSlot(into, addr, hexOf(key.subarray(21)));
        if (++count > maxKeys) {
          throw new Error(`more than ${maxKeys} state changes since block ${k}`);
        }
      }
    }
  }

  /** The oldest block with a change set (state at blocks before it is not kept), if any. */
  async oldestChangeSet(): Promise<bigint | undefined> {
    for await (const k of this.db.keys({
      gte: Uint8Array.of(P_CHANGES),
      lt: Uint8Array.of(P_CHANGES + 1),
      limit: 1,
    }))
      return readU64(k, 1);
    return undefined;
  }

  /**
   * The state at the end of block `k`: each key from the first change set after `k` that holds
   * it, else from `after`, the state at `through` (the newest block whose change set is on disk).
   */
  at(k: bigint, after: StateReader): AsyncStateReader {
    const firstAfter = async (prefix: Uint8Array): Promise<Uint8Array | undefined> => {
      for await (const v of this.db.values({
        gte: archiveKey(prefix[0]!, prefix.subarray(1), u64(k + 1n)),
        lte: archiveKey(prefix[0]!, prefix.subarray(1), MAX_U64),
        limit: 1,
      }))
        return v;
      return undefined;
    };
    const account = async (addr: string): Promise<AccountRec | undefined> => {
      const v = await firstAfter(archiveKey(P_ACCOUNT, addrBytes(addr)));
      return v === undefined ? after.account(addr) : decodeAccount(v);
    };
    return {
      async: true,
      account,
      code: async (addr) => {
        const a = await account(addr);
        if (a === undefined || equal(a.codeHash, KECCAK256_NULL)) return undefined;
        const code = await this.db.get(archiveKey(P_CODE, a.codeHash));
        if (code === undefined) throw new Error(`state archive: no code for hash ${hexOf(a.codeHash)}`);
        return code;
      },
      slot: async (addr, key) => {
        const v = await firstAfter(archiveKey(P_SLOT, addrBytes(addr), addrBytes(key)));
        if (v === undefined) return after.slot(addr, key);
        return v.length === 0 ? undefined : v;
      },
    };
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
