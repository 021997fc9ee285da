import { closeSync, existsSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { ArchivePrefix, type ArchiveDb, type Logger, archiveKey, u64 } from "@staccato/common";

/** A stored witness: compressed as served, and the keccak of its uncompressed encoding. */
export interface StoredWitness {
  compressed: Uint8Array;
  hash: Uint8Array;
}

/** Witnesses of the newest blocks stay in memory: provers ask for them within a second or two. */
const RECENT = 64;
/** Header of a record of the old single-file log: [u32 length][u64 block number][32-byte hash]. */
const OLD_HEADER = 4 + 8 + 32;

const witnessKey = (n: bigint) => archiveKey(ArchivePrefix.witness, u64(n));

/**
 * Every sealed block's witness (DESIGN §3), kept with the block's history in the sequencer's
 * history database: `W ‖ u64 number` → 32-byte witness hash ‖ compressed witness. Deleted with
 * the block past `--history-retention`. Nothing per block stays in memory but the newest few.
 * A block sealed again after a crash writes its witness again; the newest one wins.
 */
export class WitnessStore {
  private readonly recent = new Map<bigint, StoredWitness>();
  private readonly pending = new Map<bigint, Promise<StoredWitness | undefined>>();
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly db: ArchiveDb,
    private readonly log: Logger,
  ) {}

  /**
   * Opens the store in the history database; a `witnesses.log` from before (one append-only
   * file) is moved into it once and removed.
   */
  static async open(db: ArchiveDb, oldLog: string, logger: Logger): Promise<WitnessStore> {
    const log = logger.child({ module: "witness" });
    const store = new WitnessStore(db, log);
    if (existsSync(oldLog)) {
      const moved = await importOldLog(db, oldLog);
      rmSync(oldLog, { force: true });
      log.info({ witnesses: moved, from: oldLog }, "moved the witness log into the history database");
    }
    return store;
  }

  /** Stores block `number`'s witness once its compression finishes; `get` waits for it meanwhile. */
  add(number: bigint, hash: Uint8Array, compressed: Promise<Uint8Array>): void {
    const done = compressed.then(
      (c) => {
        const w = { compressed: c, hash };
        this.recent.set(number, w);
        if (this.recent.size > RECENT) this.recent.delete(this.recent.keys().next().value!);
        this.put(number, w);
        return w;
      },
      (err: unknown) => {
        this.log.error({ err, block: Number(number) }, "could not compress a block witness");
        return undefined;
      },
    );
    this.pending.set(number, done);
    void done.finally(() => {
      if (this.pending.get(number) === done) this.pending.delete(number);
    });
  }

  /** Whether block `number`'s witness is stored (or being stored). */
  async has(number: bigint): Promise<boolean> {
    if (this.pending.has(number) || this.recent.has(number)) return true;
    return (await this.db.get(witnessKey(number))) !== undefined;
  }

  /** Resolves once block `number`'s witness, if one is being stored, is written to the database. */
  async written(number: bigint): Promise<void> {
    await this.pending.get(number);
    await this.writes;
  }

  async get(number: bigint): Promise<StoredWitness | undefined> {
    const p = this.pending.get(number);
    if (p !== undefined) return p;
    const r = this.recent.get(number);
    if (r !== undefined) return r;
    await this.writes;
    const raw = await this.db.get(witnessKey(number));
    if (raw === undefined) return undefined;
    const v = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    return { hash: v.subarray(0, 32), compressed: v.subarray(32) };
  }

  private put(number: bigint, w: StoredWitness): void {
    const value = new Uint8Array(32 + w.compressed.length);
    value.set(w.hash);
    value.set(w.compressed, 32);
    this.writes = this.writes
      .then(() => this.db.put(witnessKey(number), value))
      .catch((err: unknown) =>
        this.log.error({ err, block: Number(number) }, "could not write a block witness"),
      );
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pending.values()]);
    await this.writes;
  }
}

/** Copies every whole record of the old witness log into the database; returns how many. */
async function importOldLog(db: ArchiveDb, path: string): Promise<number> {
  const total = statSync(path).size;
  const fd = openSync(path, "r");
  let off = 0;
  let moved = 0;
  let batch: { type: "put"; key: Uint8Array; value: Uint8Array }[] = [];
  try {
    const head = Buffer.alloc(OLD_HEADER);
    while (off + OLD_HEADER <= total) {
      readSync(fd, head, 0, OLD_HEADER, off);
      const len = head.readUInt32BE(0);
      if (len < 40 || off + 4 + len > total) break; // a torn last record: dropped
      const number = head.readBigUInt64BE(4);
      const value = Buffer.alloc(len - 8);
      readSync(fd, value, 0, len - 8, off + 12);
      batch.push({ type: "put", key: witnessKey(number), value: new Uint8Array(value) });
      moved++;
      off += 4 + len;
      if (batch.length >= 256) {
        await db.batch(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await db.batch(batch);
  } finally {
    closeSync(fd);
  }
  return moved;
}
