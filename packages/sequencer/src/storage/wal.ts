import { closeSync, fdatasyncSync, openSync, readFileSync, statSync, truncateSync } from "node:fs";
import { open as openAsync, type FileHandle } from "node:fs/promises";
import { crc32 } from "node:zlib";

/**
 * The sequencer's append-only write-ahead log. Each record:
 *
 *   u32 length (of type + payload) | u32 crc32 (of type + payload) | u8 type | payload
 *
 * Records are appended in order by one writer. A record whose length or checksum does not hold
 * (a crash mid-write) ends the log: it and anything after it are dropped on open, and the file is
 * truncated to the last good record so new records follow valid ones.
 */
export const WalRecordType = {
  /** A block was opened: its environment (number, timestamp, base fee, ...). */
  blockOpen: 1,
  /** A signed mini-block. */
  miniBlock: 2,
  /** A block's seal: header, mini-block hashes, signature. */
  blockSeal: 3,
} as const;
export type WalRecordType = (typeof WalRecordType)[keyof typeof WalRecordType];

export interface WalRecord {
  type: WalRecordType;
  payload: Uint8Array;
  /** Byte offset of the record's end. */
  end: number;
}

/** `always`: fdatasync before a mini-block's receipts are served. `none`: leave it to the OS. */
export const FSYNC_POLICIES = ["always", "none"] as const;
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];

const HEADER = 8;
/** Refuse absurd lengths from a corrupt header instead of allocating them. */
const MAX_RECORD = 256 * 1024 * 1024;

export interface WalReadResult {
  records: WalRecord[];
  /** Bytes of valid records. */
  validBytes: number;
  /** Bytes dropped at the tail (a torn or corrupt last record). */
  droppedBytes: number;
}

/** Reads every valid record. Never throws on a torn tail; reports it instead. */
export function readWal(path: string): WalReadResult {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      return { records: [], validBytes: 0, droppedBytes: 0 };
    throw err;
  }
  const records: WalRecord[] = [];
  let off = 0;
  while (off + HEADER <= buf.length) {
    const len = buf.readUInt32BE(off);
    const sum = buf.readUInt32BE(off + 4);
    if (len < 1 || len > MAX_RECORD || off + HEADER + len > buf.length) break;
    const body = buf.subarray(off + HEADER, off + HEADER + len);
    if (crc32(body) !== sum) break;
    const type = body[0] as WalRecordType;
    if (type !== 1 && type !== 2 && type !== 3) break;
    off += HEADER + len;
    records.push({ type, payload: new Uint8Array(body.subarray(1)), end: off });
  }
  return { records, validBytes: off, droppedBytes: buf.length - off };
}

export class WriteAheadLog {
  private fh: FileHandle | null = null;
  private size = 0;
  private tail: Promise<void> = Promise.resolve();
  private failed: Error | null = null;

  private constructor(
    private readonly path: string,
    private readonly fsync: FsyncPolicy,
  ) {}

  /** Opens for appending after `validBytes`, cutting off any torn tail first. */
  static async open(path: string, validBytes: number, fsync: FsyncPolicy): Promise<WriteAheadLog> {
    const wal = new WriteAheadLog(path, fsync);
    let size = 0;
    try {
      size = statSync(path).size;
    } catch {
      closeSync(openSync(path, "a"));
    }
    if (size > validBytes) {
      truncateSync(path, validBytes);
      const fd = openSync(path, "r+");
      fdatasyncSync(fd);
      closeSync(fd);
    }
    wal.fh = await openAsync(path, "a");
    wal.size = validBytes;
    return wal;
  }

  get bytes(): number {
    return this.size;
  }

  /**
   * Appends one record; resolves once it is written (and synced, under `always`). Appends are
   * ordered: a later record is never durable before an earlier one.
   */
  append(type: WalRecordType, payload: Uint8Array): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed);
    const buf = Buffer.allocUnsafe(HEADER + 1 + payload.length);
    buf.writeUInt32BE(1 + payload.length, 0);
    buf[HEADER] = type;
    buf.set(payload, HEADER + 1);
    buf.writeUInt32BE(crc32(buf.subarray(HEADER)), 4);
    const p = this.tail.then(async () => {
      const fh = this.fh;
      if (fh === null) throw new Error("write-ahead log is closed");
      await fh.write(buf);
      if (this.fsync === "always") await fh.datasync();
      this.size += buf.length;
    });
    this.tail = p.catch((err: Error) => {
      this.failed = err;
    });
    return p;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.fh?.close();
    this.fh = null;
  }

  get filePath(): string {
    return this.path;
  }
}
