import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import {
  type ChainBlock,
  type ChainStore,
  type Logger,
  type Snapshot,
  type StateHistory,
  decodeSnapshot,
  encodeSnapshot,
} from "@staccato/common";
import type { WriteAheadLog } from "./wal.ts";

export { type Snapshot, decodeSnapshot, encodeSnapshot } from "@staccato/common";

/**
 * State snapshots bound the write-ahead log's replay: a snapshot holds the whole state as of one
 * sealed block; on restart the log's diffs are applied only after that block (history before it
 * is still read from the log, but not re-applied).
 *
 * File `snapshot-<block>.bin` holds the common snapshot encoding (`encodeSnapshot`), written to
 * a temp file, fsynced, renamed.
 */
const PREFIX = "snapshot-";

export async function writeSnapshot(
  dir: string,
  blockNumber: bigint,
  data: Buffer,
  keep = 2,
): Promise<string> {
  const path = join(dir, `${PREFIX}${blockNumber}.bin`);
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, "w");
  try {
    await fh.write(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  renameSync(tmp, path);
  const dfd = openSync(dir, "r");
  fsyncSync(dfd);
  closeSync(dfd);
  const old = snapshotFiles(dir).slice(0, -keep);
  for (const f of old) rmSync(join(dir, f.name), { force: true });
  return path;
}

function snapshotFiles(dir: string): { name: string; block: bigint }[] {
  return readdirSync(dir)
    .filter((n) => n.startsWith(PREFIX) && n.endsWith(".bin"))
    .map((name) => ({ name, block: BigInt(name.slice(PREFIX.length, -4)) }))
    .sort((a, b) => (a.block < b.block ? -1 : a.block > b.block ? 1 : 0));
}

/** The newest snapshot that reads back intact, or null; corrupt ones are reported and skipped. */
export function readLatestSnapshot(
  dir: string,
  onCorrupt: (file: string, err: Error) => void,
): Snapshot | null {
  const files = snapshotFiles(dir).reverse();
  for (const f of files) {
    try {
      return decodeSnapshot(readFileSync(join(dir, f.name)));
    } catch (err) {
      onCorrupt(f.name, err as Error);
    }
  }
  return null;
}

/** Where a snapshot of sealed block `b` stands: its state root and the last mini-block in it. */
export function snapshotPoint(chain: ChainStore, b: ChainBlock): Omit<Snapshot, "diff"> {
  const last = chain.lastMiniBlockThrough(b.number);
  return {
    blockNumber: b.number,
    stateRoot: b.header!.stateRoot,
    lastMiniBlockNumber: last.number,
    lastMiniBlockHash: last.hash,
  };
}

export interface SnapshotScheduleDeps {
  dataDir: string;
  chain: ChainStore;
  history: StateHistory;
  wal: WriteAheadLog;
  logger: Logger;
  /**
   * Resolves once block `n`'s witness is on disk. A restart from a snapshot cannot rebuild the
   * witness of the snapshot's block, so the snapshot waits for it.
   */
  witnessWritten: (n: bigint) => Promise<void>;
}

/**
 * Every `interval` sealed blocks (0: never), writes a state snapshot off the sealing path, then
 * deletes the log segments whose blocks the snapshot and the history store both cover.
 * Returns the hook the block producer calls at each sealed block.
 */
export function snapshotSchedule(interval: number, d: SnapshotScheduleDeps): (b: ChainBlock) => void {
  return (b) => {
    if (interval <= 0 || b.number % BigInt(interval) !== 0n) return;
    const data = encodeSnapshot(snapshotPoint(d.chain, b), d.history.addresses(), d.history.latest);
    d.witnessWritten(b.number)
      .then(() => writeSnapshot(d.dataDir, b.number, data))
      .then(async (path) => {
        d.logger.info({ block: Number(b.number), bytes: data.length, path }, "wrote state snapshot");
        const through = d.chain.archivedBlock < b.number ? d.chain.archivedBlock : b.number;
        const deleted = await d.wal.prune(through);
        if (deleted > 0)
          d.logger.info(
            { segments: deleted, through: Number(through), walBytes: d.wal.bytes },
            "deleted write-ahead log segments covered by a snapshot and the history store",
          );
      })
      .catch((err: Error) => d.logger.error({ err }, "could not write state snapshot"));
  };
}
