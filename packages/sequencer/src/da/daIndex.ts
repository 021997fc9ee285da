import { appendFileSync, existsSync, readFileSync, truncateSync } from "node:fs";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import { type DaRef, writeFileDurably } from "@staccato/common";

/**
 * Entries kept below the newest published block, in memory and in the file: what the publisher
 * reads back (the previous block's, the spans of DA index blobs) is far newer.
 */
export const DA_INDEX_KEPT = 1_024n;

/**
 * Which blocks the sequencer has published to DA, and where: `da-index.log` in the data dir, one
 * JSON line per block (`{"n":12,"c":"0x…commitment","h":"0x…bundle hash"}`), appended after each
 * successful put. At start the published prefix is read back (a torn last line is cut off), so
 * publishing resumes at the first block not yet published and none is skipped. Only the newest
 * `DA_INDEX_KEPT` entries are kept: once the file holds twice that, it is rewritten with them.
 */
export class DaIndexLog {
  private readonly refs = new Map<bigint, DaRef>();
  private last = 0n;
  /** Lines in the file, kept or not. */
  private lines = 0;

  private constructor(private readonly path: string) {}

  static open(path: string, onTorn: (droppedBytes: number) => void): DaIndexLog {
    const log = new DaIndexLog(path);
    const read = readDaIndex(path);
    // A compacted file starts above block 1: everything before its first entry was published.
    let first: bigint | undefined;
    for (const n of read.refs.keys()) if (first === undefined || n < first) first = n;
    if (first !== undefined && first > 1n) log.last = first - 1n;
    for (const [n, ref] of read.refs) log.set(n, ref);
    if (read.validBytes < read.totalBytes) {
      onTorn(read.totalBytes - read.validBytes);
      truncateSync(path, read.validBytes);
    }
    log.lines = read.refs.size;
    log.compact();
    return log;
  }

  /** The newest block such that it and every block before it are published (0: none). */
  get publishedThrough(): bigint {
    return this.last;
  }

  get(n: bigint): DaRef | undefined {
    return this.refs.get(n);
  }

  append(n: bigint, ref: DaRef): void {
    appendFileSync(this.path, line(n, ref));
    this.lines++;
    this.set(n, ref);
    this.compact();
  }

  private set(n: bigint, ref: DaRef): void {
    this.refs.set(n, ref);
    while (this.refs.has(this.last + 1n)) this.last++;
    const floor = this.last - DA_INDEX_KEPT;
    if (floor > 0n) this.refs.delete(floor);
  }

  /**
   * Rewrites the file with the kept entries once it holds twice as many lines and the rewrite
   * drops at least as many as it keeps (so a long gap never makes every append a rewrite).
   */
  private compact(): void {
    if (BigInt(this.lines) <= 2n * DA_INDEX_KEPT) return;
    const floor = this.last - DA_INDEX_KEPT;
    for (const n of [...this.refs.keys()]) if (n < floor) this.refs.delete(n);
    if (BigInt(this.lines - this.refs.size) < DA_INDEX_KEPT) return;
    const kept = [...this.refs].sort(([a], [b]) => (a < b ? -1 : 1));
    writeFileDurably(this.path, kept.map(([n, ref]) => line(n, ref)).join(""));
    this.lines = kept.length;
  }
}

/**
 * Reads `da-index.log` without changing it (other processes may read it while the sequencer
 * appends): the entries up to the first line that is torn or does not parse, and how many bytes
 * those lines take.
 */
export function readDaIndex(path: string): {
  refs: Map<bigint, DaRef>;
  validBytes: number;
  totalBytes: number;
} {
  const refs = new Map<bigint, DaRef>();
  if (!existsSync(path)) return { refs, validBytes: 0, totalBytes: 0 };
  const text = readFileSync(path, "utf8");
  let valid = 0;
  for (let at = 0; at < text.length; ) {
    const nl = text.indexOf("\n", at);
    if (nl < 0) break;
    let entry: { n: number; c: string; h: string };
    try {
      entry = JSON.parse(text.slice(at, nl));
    } catch {
      break;
    }
    refs.set(BigInt(entry.n), {
      commitment: hexToBytes(entry.c as `0x${string}`),
      bundleHash: hexToBytes(entry.h as `0x${string}`),
    });
    valid += Buffer.byteLength(text.slice(at, nl + 1));
    at = nl + 1;
  }
  return { refs, validBytes: valid, totalBytes: Buffer.byteLength(text) };
}

function line(n: bigint, ref: DaRef): string {
  return `${JSON.stringify({ n: Number(n), c: bytesToHex(ref.commitment), h: bytesToHex(ref.bundleHash) })}\n`;
}
