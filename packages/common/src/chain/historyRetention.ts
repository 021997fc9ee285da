import type { Logger } from "../log/logger.ts";
import type { ChainEvents } from "./chainEvents.ts";
import type { ChainStore } from "./chainStore.ts";

/** Blocks between two retention passes. */
const PASS_EVERY = 64n;
/** Blocks deleted per LevelDB batch. */
const BATCH_BLOCKS = 200;

/**
 * `--history-retention`: every 64 blocks, the blocks older than the newest `keep` are deleted
 * from the on-disk history (seals, mini-blocks, indexes), in batches, off the sealing path, and
 * the deleted ranges compacted so the disk space returns. The
 * chain store refuses them (`oldest` moves first), so a request never reads a half-deleted block.
 */
export function retainHistory(
  keep: number,
  chain: () => ChainStore,
  events: ChainEvents,
  logger: Logger,
  /** The oldest block something else still needs on disk (the sequencer's write-ahead log). */
  needed?: () => bigint,
): () => void {
  if (keep === 0) return () => {};
  const log = logger.child({ module: "retention" });
  let running = false;
  return events.on("block", (b) => {
    const c = chain();
    const archive = c.archive;
    const target = b.number - BigInt(keep) + 1n;
    if (archive === null || running || target <= c.oldest || b.number % PASS_EVERY !== 0n) return;
    // Only what is already on disk, and out of memory, is deleted.
    let below = target <= c.archivedBlock ? target : c.archivedBlock;
    const floor = needed?.();
    if (floor !== undefined && floor < below) below = floor;
    if (below <= c.oldest) return;
    running = true;
    c.prunedBelow(below);
    void (async () => {
      const firstKeptMiniBlock = await archive.firstMiniBlockOf(below);
      let blocks = 0;
      for (;;) {
        const { ops, next } = await archive.pruneOps(below, BATCH_BLOCKS);
        if (ops.length === 0) break;
        await archive.db.batch(ops);
        blocks += BATCH_BLOCKS;
        if (next === undefined || next >= below) break;
      }
      if (blocks === 0) return;
      if (firstKeptMiniBlock !== undefined) await archive.compactBelow(below, firstKeptMiniBlock);
      log.info({ below: Number(below) }, "deleted sealed history past --history-retention");
    })()
      .catch((err: unknown) => log.error({ err }, "could not delete old history"))
      .finally(() => {
        running = false;
      });
  });
}
