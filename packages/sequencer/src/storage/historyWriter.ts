import { type ChainArchive, type ChainStore, type Logger, blockSealOf } from "@staccato/common";

/**
 * Writes each sealed block to the on-disk history (its seal, mini-blocks, senders and indexes),
 * in order, one LevelDB batch per block, off the sealing path; once a block is written the chain
 * store may drop it from memory. The write-ahead log still holds everything until then, so a
 * crash before the write loses nothing: the restart replays it and writes it again.
 */
export class HistoryWriter {
  private queue: bigint[] = [];
  private running: Promise<void> | null = null;
  private failed: Error | null = null;
  private readonly log: Logger;

  constructor(
    private readonly archive: ChainArchive,
    private readonly chain: ChainStore,
    logger: Logger,
  ) {
    this.log = logger.child({ module: "history" });
  }

  /** Block `n` is sealed: archive it. */
  add(n: bigint): void {
    this.queue.push(n);
    this.running ??= this.drain();
  }

  /** Why writing stopped, if it did (the node reports itself unhealthy). */
  get error(): Error | null {
    return this.failed;
  }

  /** Resolves once every block handed over is written. */
  async flush(): Promise<void> {
    while (this.running !== null) await this.running;
    if (this.failed !== null) throw this.failed;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const n = this.queue.shift()!;
        const b = this.chain.block(n);
        if (b === undefined || b.hash === null) throw new Error(`block ${n} is not sealed in memory`);
        await this.archive.db.batch(
          this.archive.blockOps({
            block: b,
            seal: blockSealOf(b),
            withMiniBlocks: true,
            withSenders: true,
            firstMiniBlock: this.chain.lastMiniBlockThrough(n - 1n).number + 1n,
          }),
        );
        this.chain.archived(n);
      }
    } catch (err) {
      // Blocks stay in memory (nothing is lost: the write-ahead log has them); say so loudly.
      this.failed = err as Error;
      this.queue = [];
      this.log.error({ err }, "could not write sealed history to disk: blocks stay in memory");
    } finally {
      this.running = null;
    }
  }
}
