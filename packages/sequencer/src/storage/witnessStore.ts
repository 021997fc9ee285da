import { type FileHandle, open } from "node:fs/promises";
import { closeSync, existsSync, openSync, readSync, statSync, truncateSync } from "node:fs";
import type { Logger } from "@staccato/common";

/** A stored witness: compressed as served, and the keccak of its uncompressed encoding. */
export interface StoredWitness {
  compressed: Uint8Array;
  hash: Uint8Array;
}

const HEADER = 4 + 8 + 32;
/** Witnesses of the newest blocks stay in memory: provers ask for them within a second or two. */
const RECENT = 64;

/**
 * Every sealed block's witness, kept with the block (DESIGN §3) in an append-only file
 * `witnesses.log` in the data dir: records of [u32 length][u64 block number][32-byte witness
 * hash][compressed witness]. The index (block number → offset) is rebuilt at start by reading the
 * record headers; a torn last record is cut off. A block sealed again after a crash appends a new
 * record, and the newest one wins.
 */
export class WitnessStore {
  private readonly index = new Map<bigint, { off: number; len: number; hash: Uint8Array }>();
  private readonly recent = new Map<bigint, StoredWitness>();
  private readonly pending = new Map<bigint, Promise<StoredWitness | undefined>>();
  private size: number;
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly fh: FileHandle,
    size: number,
    private readonly log: Logger,
  ) {
    this.size = size;
  }

  static async open(path: string, logger: Logger): Promise<WitnessStore> {
    const log = logger.child({ module: "witness" });
    const index = new Map<bigint, { off: number; len: number; hash: Uint8Array }>();
    let size = 0;
    if (existsSync(path)) {
      const total = statSync(path).size;
      const fd = openSync(path, "r");
      const head = Buffer.alloc(HEADER);
      try {
        while (size + HEADER <= total) {
          readSync(fd, head, 0, HEADER, size);
          const len = head.readUInt32BE(0);
          if (len < 40 || size + 4 + len > total) break;
          const number = head.readBigUInt64BE(4);
          index.set(number, {
            off: size + HEADER,
            len: len - 40,
            hash: new Uint8Array(head.subarray(12, 44)),
          });
          size += 4 + len;
        }
      } finally {
        closeSync(fd);
      }
      if (size < total) {
        log.warn({ path, droppedBytes: total - size }, "dropped a torn record at the end of the witness log");
        truncateSync(path, size);
      }
    }
    const store = new WitnessStore(await open(path, "a+"), size, log);
    for (const [n, e] of index) store.index.set(n, e);
    if (index.size > 0) log.info({ witnesses: index.size, bytes: size }, "opened witness log");
    return store;
  }

  /** Stores block `number`'s witness once its compression finishes; `get` waits for it meanwhile. */
  add(number: bigint, hash: Uint8Array, compressed: Promise<Uint8Array>): void {
    const done = compressed.then(
      (c) => {
        const w = { compressed: c, hash };
        this.recent.set(number, w);
        if (this.recent.size > RECENT) this.recent.delete(this.recent.keys().next().value!);
        this.append(number, w);
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

  has(number: bigint): boolean {
    return this.pending.has(number) || this.recent.has(number) || this.index.has(number);
  }

  async get(number: bigint): Promise<StoredWitness | undefined> {
    const p = this.pending.get(number);
    if (p !== undefined) return p;
    const r = this.recent.get(number);
    if (r !== undefined) return r;
    const e = this.index.get(number);
    if (e === undefined) return undefined;
    await this.writes;
    const buf = Buffer.alloc(e.len);
    await this.fh.read(buf, 0, e.len, e.off);
    return { compressed: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), hash: e.hash };
  }

  private append(number: bigint, w: StoredWitness): void {
    const rec = Buffer.alloc(HEADER + w.compressed.length);
    rec.writeUInt32BE(40 + w.compressed.length, 0);
    rec.writeBigUInt64BE(number, 4);
    rec.set(w.hash, 12);
    rec.set(w.compressed, HEADER);
    const off = this.size;
    this.size += rec.length;
    this.writes = this.writes
      .then(async () => {
        await this.fh.write(rec, 0, rec.length, off);
        this.index.set(number, { off: off + HEADER, len: w.compressed.length, hash: w.hash });
      })
      .catch((err: unknown) =>
        this.log.error({ err, block: Number(number) }, "could not write a block witness"),
      );
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pending.values()]);
    await this.writes;
    await this.fh.close();
  }
}
