import { RLP } from "@ethereumjs/rlp";
import {
  type AccountDiff,
  DIFF_FLAG_CREATED,
  DIFF_FLAG_DELETED,
  KECCAK256_NULL,
  type RlpItem,
  type StateDiff,
  big,
  bytes,
  keccak256,
  list,
  u,
  ArchivePrefix,
  type ArchiveOp,
  type ArchivedBlock,
  type BlockPre,
  ChainArchive,
  archiveKey,
  u64,
} from "@staccato/common";
import type { Common } from "@ethereumjs/common";
import { ClassicLevel } from "classic-level";
import { StateArchive } from "./stateArchive.ts";

/**
 * The full node's LevelDB store. Keys (one-byte prefix):
 *
 *   h                      meta: RLP [verifiedBlock, lastMiniBlockNumber, lastMiniBlockHash, baseBlock]
 *   v                      layout version (absent: written before the history indexes)
 *   a ‖ address            account RLP [nonce, balance, codeHash], as of the verified block
 *   c ‖ address            contract code, as of the verified block
 *   s ‖ address ‖ slot     storage value, as of the verified block
 *   b, m, i, H, T          sealed history: seals, mini-blocks, block index, block-hash and
 *                          transaction-hash indexes (`ChainArchive`, shared with the sequencer)
 *   A, S, C, X             the state of past blocks: change sets and codes (`StateArchive`)
 *   o …                    the address index for Otterscan's searches (addressIndex.ts)
 *
 * Each applied mini-block is one atomic batch (its record); each verified block is one atomic
 * batch (its seal and indexes, the block's state changes and the meta). So the flat state is
 * always exactly the last verified block's, and mini-blocks after it are replayed on restart:
 * `kill -9` at any moment leaves a consistent store.
 */
const P_META = Uint8Array.of(0x68);
const NOTHING_TOUCHED: BlockPre = {
  number: 0n,
  accounts: new Map(),
  code: new Map(),
  slots: new Map(),
  storage: new Map(),
};
const P_VERSION = Uint8Array.of(0x76);
/** Version 2: the history indexes (block index, block-hash and tx-hash) are in the store. */
const LAYOUT_VERSION = 2;
const P_MINI = ArchivePrefix.miniBlock;
const P_ACCOUNT = 0x61;
const P_CODE = 0x63;
const P_SLOT = 0x73;
const MAX_SLOT = new Uint8Array(32).fill(0xff);

export interface StoreMeta {
  verifiedBlock: bigint;
  lastMiniBlockNumber: bigint;
  lastMiniBlockHash: Uint8Array;
  /** The first block with history here: 0 when synced from genesis, else the snapshot's block. */
  baseBlock: bigint;
}

type Batch = ArchiveOp;
const key = archiveKey;

export class FullnodeStore {
  /** The sealed blocks, in this same database. */
  readonly archive: ChainArchive;
  /** The state of past blocks (change sets), in this same database. */
  readonly states: StateArchive;

  private constructor(
    private readonly db: ClassicLevel<Uint8Array, Uint8Array>,
    common: Common,
  ) {
    this.archive = new ChainArchive(db, common);
    this.states = new StateArchive(db);
  }

  static async open(path: string, common: Common): Promise<FullnodeStore> {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: "view", valueEncoding: "view" });
    await db.open();
    return new FullnodeStore(db, common);
  }

  /** Whether the store has the history indexes (false: written by a version before them). */
  async hasIndexes(): Promise<boolean> {
    const v = await this.db.get(P_VERSION);
    return v !== undefined && v[0]! >= LAYOUT_VERSION;
  }

  /** Writes blocks' history records in bulk (a store from before the indexes), then the version. */
  async putIndexes(blocks: ArchivedBlock[], done: boolean): Promise<void> {
    const ops = blocks.flatMap((b) => this.archive.blockOps(b));
    if (done) ops.push({ type: "put", key: P_VERSION, value: Uint8Array.of(LAYOUT_VERSION) });
    await this.db.batch(ops);
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** The LevelDB handle, for index modules that keep their own key prefix (addressIndex.ts). */
  get level(): ClassicLevel<Uint8Array, Uint8Array> {
    return this.db;
  }

  async meta(): Promise<StoreMeta | null> {
    const raw = await this.db.get(P_META);
    if (raw === undefined) return null;
    const [v, n, h, base] = list(RLP.decode(raw) as RlpItem, "meta", 4);
    return {
      verifiedBlock: big(v, "verifiedBlock"),
      lastMiniBlockNumber: big(n, "lastMiniBlockNumber"),
      lastMiniBlockHash: bytes(h, "lastMiniBlockHash", 32),
      baseBlock: big(base, "baseBlock"),
    };
  }

  /** The verified state, as a diff that creates every account. */
  async state(): Promise<StateDiff> {
    const byAddr = new Map<string, AccountDiff>();
    const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
    for await (const [k, v] of this.db.iterator({
      gte: Uint8Array.of(P_ACCOUNT),
      lt: Uint8Array.of(P_ACCOUNT + 1),
    })) {
      const [nonce, balance] = list(RLP.decode(v) as RlpItem, "account", 3);
      const address = k.slice(1);
      byAddr.set(hex(address), {
        address,
        flags: DIFF_FLAG_CREATED,
        nonce: big(nonce, "nonce"),
        balance: big(balance, "balance"),
        storage: [],
      });
    }
    for await (const [k, v] of this.db.iterator({
      gte: Uint8Array.of(P_CODE),
      lt: Uint8Array.of(P_CODE + 1),
    })) {
      const a = byAddr.get(hex(k.subarray(1)));
      if (a !== undefined) a.code = v;
    }
    for await (const [k, v] of this.db.iterator({
      gte: Uint8Array.of(P_SLOT),
      lt: Uint8Array.of(P_SLOT + 1),
    })) {
      byAddr.get(hex(k.subarray(1, 21)))?.storage.push([k.slice(21), v]);
    }
    return [...byAddr.values()];
  }

  /** Stored mini-blocks from `from` on, in order. */
  async *miniBlocks(from: bigint): AsyncGenerator<Uint8Array> {
    for await (const v of this.db.values({ gte: key(P_MINI, u64(from)), lt: Uint8Array.of(P_MINI + 1) }))
      yield v;
  }

  /** Verified block seals from block `from` on, in order. */
  async *blockSeals(from = 0n): AsyncGenerator<Uint8Array> {
    for await (const v of this.db.values({
      gte: key(ArchivePrefix.seal, u64(from)),
      lt: Uint8Array.of(ArchivePrefix.seal + 1),
    }))
      yield v;
  }

  /** One atomic batch per applied mini-block. */
  async putMiniBlock(number: bigint, encoded: Uint8Array): Promise<void> {
    await this.db.put(key(P_MINI, u64(number)), encoded);
  }

  /**
   * One atomic batch per verified block: its seal, its state changes (the merged diff of its
   * mini-blocks) and the new meta.
   */
  async putVerifiedBlock(
    block: ArchivedBlock,
    diff: StateDiff,
    meta: StoreMeta,
    pre: Readonly<BlockPre> | undefined,
  ): Promise<void> {
    const n = block.block.number;
    const ops: Batch[] = [
      ...this.archive.blockOps(block),
      ...this.states.changeOps(n, pre ?? NOTHING_TOUCHED, diff),
      ...this.states.codeOps(diff),
    ];
    for (const d of diff) {
      if ((d.flags & (DIFF_FLAG_CREATED | DIFF_FLAG_DELETED)) !== 0) {
        // The account starts over: drop its stored slots and code first.
        for await (const k of this.db.keys({
          gte: key(P_SLOT, d.address),
          lte: key(P_SLOT, d.address, MAX_SLOT),
        })) {
          ops.push({ type: "del", key: k });
        }
        ops.push({ type: "del", key: key(P_CODE, d.address) });
      }
      if ((d.flags & DIFF_FLAG_DELETED) !== 0) {
        ops.push({ type: "del", key: key(P_ACCOUNT, d.address) });
        continue;
      }
      ops.push({ type: "put", key: key(P_ACCOUNT, d.address), value: await this.accountRecord(d) });
      if (d.code !== undefined) {
        if (d.code.length === 0) ops.push({ type: "del", key: key(P_CODE, d.address) });
        else ops.push({ type: "put", key: key(P_CODE, d.address), value: d.code });
      }
      for (const [slot, value] of d.storage) {
        const k = key(P_SLOT, d.address, slot);
        if (value.length === 0) ops.push({ type: "del", key: k });
        else ops.push({ type: "put", key: k, value });
      }
    }
    ops.push({ type: "put", key: P_META, value: encodeMeta(meta) });
    await this.db.batch(ops);
  }

  /** Applies deletions (history retention) in one batch. */
  async apply(ops: ArchiveOp[]): Promise<void> {
    if (ops.length > 0) await this.db.batch(ops);
  }

  /** Drops mini-blocks after `number` (a re-sync after a mismatch). */
  async dropMiniBlocksAfter(number: bigint): Promise<void> {
    await this.db.clear({ gt: key(P_MINI, u64(number)), lt: Uint8Array.of(P_MINI + 1) });
  }

  /**
   * Replaces the whole state and history: genesis, or a verified snapshot (a `--sync snapshot`
   * join). `base` is the block it is the state of, the first block of the store's history.
   */
  async resetToSnapshot(state: StateDiff, meta: StoreMeta, base: ArchivedBlock): Promise<void> {
    await this.db.clear();
    const ops: Batch[] = [];
    for (const d of state) {
      ops.push({
        type: "put",
        key: key(P_ACCOUNT, d.address),
        value: encodeAccount(d.nonce ?? 0n, d.balance ?? 0n, d.code),
      });
      if (d.code !== undefined && d.code.length > 0)
        ops.push({ type: "put", key: key(P_CODE, d.address), value: d.code });
      for (const [slot, value] of d.storage)
        ops.push({ type: "put", key: key(P_SLOT, d.address, slot), value });
      if (ops.length > 10_000) await this.db.batch(ops.splice(0));
    }
    ops.push(...this.archive.blockOps(base), ...this.states.codeOps(state));
    ops.push({ type: "put", key: P_VERSION, value: Uint8Array.of(LAYOUT_VERSION) });
    ops.push({ type: "put", key: P_META, value: encodeMeta(meta) });
    await this.db.batch(ops);
  }

  private async accountRecord(d: AccountDiff): Promise<Uint8Array> {
    const created = (d.flags & DIFF_FLAG_CREATED) !== 0;
    let nonce = d.nonce;
    let balance = d.balance;
    let codeHash: Uint8Array | undefined =
      d.code === undefined ? undefined : d.code.length === 0 ? KECCAK256_NULL : keccak256(d.code);
    if (!created && (nonce === undefined || balance === undefined || codeHash === undefined)) {
      const prev = await this.db.get(key(P_ACCOUNT, d.address));
      if (prev !== undefined) {
        const [n, b, c] = list(RLP.decode(prev) as RlpItem, "account", 3);
        nonce ??= big(n, "nonce");
        balance ??= big(b, "balance");
        codeHash ??= bytes(c, "codeHash", 32);
      }
    }
    return RLP.encode([u(nonce ?? 0n), u(balance ?? 0n), codeHash ?? KECCAK256_NULL]);
  }
}

function encodeAccount(nonce: bigint, balance: bigint, code: Uint8Array | undefined): Uint8Array {
  return RLP.encode([
    u(nonce),
    u(balance),
    code === undefined || code.length === 0 ? KECCAK256_NULL : keccak256(code),
  ]);
}

function encodeMeta(m: StoreMeta): Uint8Array {
  return RLP.encode([u(m.verifiedBlock), u(m.lastMiniBlockNumber), m.lastMiniBlockHash, u(m.baseBlock)]);
}
