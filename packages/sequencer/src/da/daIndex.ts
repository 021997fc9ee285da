import { appendFileSync, existsSync, readFileSync, truncateSync } from "node:fs";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import type { DaRef } from "@staccato/common";

/**
 * Which blocks the sequencer has published to DA, and where: `da-index.log` in the data dir, one
 * JSON line per block (`{"n":12,"c":"0x…commitment","h":"0x…bundle hash"}`), appended after each
 * successful put. At start the published prefix is read back (a torn last line is cut off), so
 * publishing resumes at the first block not yet published and none is skipped.
 */
export class DaIndexLog {
  private readonly refs = new Map<bigint, DaRef>();
  private last = 0n;

  private constructor(private readonly path: string) {}

  static open(path: string, onTorn: (droppedBytes: number) => void): DaIndexLog {
    const log = new DaIndexLog(path);
    const read = readDaIndex(path);
    for (const [n, ref] of read.refs) log.set(n, ref);
    if (read.validBytes < read.totalBytes) {
      onTorn(read.totalBytes - read.validBytes);
      truncateSync(path, read.validBytes);
    }
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
    appendFileSync(
      this.path,
      `${JSON.stringify({ n: Number(n), c: bytesToHex(ref.commitment), h: bytesToHex(ref.bundleHash) })}\n`,
    );
    this.set(n, ref);
  }

  private set(n: bigint, ref: DaRef): void {
    this.refs.set(n, ref);
    while (this.refs.has(this.last + 1n)) this.last++;
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
