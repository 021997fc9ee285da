import { ErrorCode, StaccatoError } from "@staccato/common";
import {
  closeSync,
  constants as fsConstants,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
} from "node:fs";
import { open as openAsync, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";

/**
 * The sequencer's append-only write-ahead log, cut into segments: files `<dir>/<block>.wal`, each
 * starting with the opening of block `<block>` (12 digits). Each record:
 *
 *   u32 length (of type + payload) | u32 crc32 (of type + payload) | u8 type | payload
 *
 * Records are appended in order by one writer; a new segment starts at a block's opening once the
 * current one has `segmentBytes`. A record whose length or checksum does not hold (a crash
 * mid-write) ends the log: it and anything after it are dropped on open, and the last segment is
 * truncated to the last good record so new records follow valid ones. A segment is deleted once
 * every block in it is covered by a state snapshot and by the on-disk history (`prune`).
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

/** `--wal-segment-mb`: the size, in MiB, at which the log starts a new segment. */
export const DEFAULT_WAL_SEGMENT_MB = 64;

/** `always`: fdatasync before a mini-block's receipts are served. `none`: leave it to the OS. */
export const FSYNC_POLICIES = ["always", "none"] as const;
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];

/**
 * Segments are opened for appending, with O_DSYNC under `always`: each write is then as durable
 * as a write followed by fdatasync, in one trip to libuv's thread pool instead of two (each trip
 * wakes a pool thread, which the execution thread pays for at every mini-block).
 */
function appendFlags(fsync: FsyncPolicy): number {
  const { O_APPEND, O_CREAT, O_WRONLY, O_DSYNC } = fsConstants;
  return O_WRONLY | O_APPEND | O_CREAT | (fsync === "always" ? O_DSYNC : 0);
}

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

/** A segment file: the first block it holds, and its path. */
export interface WalSegment {
  firstBlock: bigint;
  path: string;
}

const SEGMENT_RE = /^(\d{12})\.wal$/;
const segmentName = (block: bigint) => `${block.toString().padStart(12, "0")}.wal`;

/** The segments in `dir`, oldest first. */
export function walSegments(dir: string): WalSegment[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => SEGMENT_RE.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ firstBlock: BigInt(m[1]!), path: join(dir, m[0]) }))
    .sort((a, b) => (a.firstBlock < b.firstBlock ? -1 : 1));
}

/** The log was written as one file before segments: it becomes the segment starting at block 1. */
export function migrateSingleFileWal(file: string, dir: string): boolean {
  if (!existsSync(file)) return false;
  mkdirSync(dir, { recursive: true });
  renameSync(file, join(dir, segmentName(1n)));
  syncDir(dir);
  return true;
}

/** An earlier segment that does not read back whole: not a torn tail, but a damaged log. */
export class WalCorruptError extends StaccatoError {
  constructor(message: string) {
    super(ErrorCode.WalCorrupt, message, undefined);
  }
}

/**
 * Reads every valid record of every segment in `dir`, in order. A torn tail of the last segment
 * is reported, not thrown; an earlier segment that does not read to its end is corruption.
 */
export function readWalDir(dir: string): WalReadResult & { segments: WalSegment[] } {
  const segments = walSegments(dir);
  const records: WalRecord[] = [];
  let last: WalReadResult = { records: [], validBytes: 0, droppedBytes: 0 };
  segments.forEach((seg, i) => {
    last = readWal(seg.path);
    if (i < segments.length - 1 && last.droppedBytes > 0)
      throw new WalCorruptError(
        `write-ahead log segment ${seg.path} is damaged at byte ${last.validBytes}, and later segments follow it`,
      );
    for (const r of last.records) records.push(r);
  });
  return { records, validBytes: last.validBytes, droppedBytes: last.droppedBytes, segments };
}

function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  fsyncSync(fd);
  closeSync(fd);
}

/** Reads every valid record of one segment file. Never throws on a torn tail; reports it instead. */
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
  /** Bytes of the segment being written, and of the segments before it still on disk. */
  private size = 0;
  private olderBytes = 0;
  private tail: Promise<void> = Promise.resolve();
  private failed: Error | null = null;

  private constructor(
    private readonly dir: string,
    private segments: WalSegment[],
    private readonly fsync: FsyncPolicy,
    private readonly segmentBytes: number,
  ) {}

  /**
   * Opens the newest segment of `dir` for appending after `validBytes`, cutting off any torn
   * tail first (an empty `dir` gets its first segment at the first block opened).
   */
  static async open(
    dir: string,
    validBytes: number,
    fsync: FsyncPolicy,
    segmentBytes = DEFAULT_WAL_SEGMENT_MB * 1024 * 1024,
  ): Promise<WriteAheadLog> {
    mkdirSync(dir, { recursive: true });
    const segments = walSegments(dir);
    const wal = new WriteAheadLog(dir, segments, fsync, segmentBytes);
    const last = segments.at(-1);
    for (const s of segments.slice(0, -1)) wal.olderBytes += statSync(s.path).size;
    if (last !== undefined) {
      if (statSync(last.path).size > validBytes) {
        truncateSync(last.path, validBytes);
        const fd = openSync(last.path, "r+");
        fdatasyncSync(fd);
        closeSync(fd);
      }
      wal.fh = await openAsync(last.path, appendFlags(fsync));
      wal.size = validBytes;
    }
    return wal;
  }

  /** Bytes on disk, over every segment kept. */
  get bytes(): number {
    return this.olderBytes + this.size;
  }

  /** The first block of the oldest segment kept (undefined: no segment yet). */
  get firstBlock(): bigint | undefined {
    return this.segments[0]?.firstBlock;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /**
   * Appends one record; resolves once it is written (and synced, under `always`). Appends are
   * ordered: a later record is never durable before an earlier one. A block's opening
   * (`blockNumber` given) starts a new segment when the current one is full (or there is none).
   */
  append(type: WalRecordType, payload: Uint8Array, blockNumber?: bigint): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed);
    const buf = Buffer.allocUnsafe(HEADER + 1 + payload.length);
    buf.writeUInt32BE(1 + payload.length, 0);
    buf[HEADER] = type;
    buf.set(payload, HEADER + 1);
    buf.writeUInt32BE(crc32(buf.subarray(HEADER)), 4);
    const p = this.tail.then(async () => {
      if (
        type === WalRecordType.blockOpen &&
        blockNumber !== undefined &&
        (this.fh === null || this.size >= this.segmentBytes)
      )
        await this.startSegment(blockNumber);
      const fh = this.fh;
      if (fh === null) throw new Error("write-ahead log is closed or has no segment yet");
      // Under `always` the file is open with O_DSYNC: the write returns once the data is durable.
      await fh.write(buf);
      this.size += buf.length;
    });
    this.tail = p.catch((err: Error) => {
      this.failed = err;
    });
    return p;
  }

  private async startSegment(firstBlock: bigint): Promise<void> {
    if (this.fh !== null) {
      await this.fh.datasync();
      await this.fh.close();
      this.olderBytes += this.size;
    }
    const path = join(this.dir, segmentName(firstBlock));
    this.fh = await openAsync(path, appendFlags(this.fsync));
    syncDir(this.dir);
    this.segments.push({ firstBlock, path });
    this.size = 0;
  }

  /**
   * Deletes the segments whose every block is at most `throughBlock` (covered by a snapshot and
   * the on-disk history); never the one being written. Returns how many were deleted.
   */
  async prune(throughBlock: bigint): Promise<number> {
    let deleted = 0;
    await this.tail;
    while (this.segments.length > 1 && this.segments[1]!.firstBlock <= throughBlock + 1n) {
      const seg = this.segments.shift()!;
      this.olderBytes -= statSync(seg.path).size;
      rmSync(seg.path, { force: true });
      deleted++;
    }
    if (deleted > 0) syncDir(this.dir);
    return deleted;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.fh?.close();
    this.fh = null;
  }

  get directory(): string {
    return this.dir;
  }
}
