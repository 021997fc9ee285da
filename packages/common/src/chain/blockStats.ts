/** How one block's seal went on this node, for `staccato_getBlockStats`. */
export interface BlockSealStat {
  /** Computing the block's state root (on the trie worker), ms. */
  stateRootMs: number;
  /** The rest of the seal: header, signature, write-ahead-log append, ms. */
  sealMs: number;
  /** Wall-clock time the seal completed, ms since the epoch. */
  sealedAt: number;
}

/** Blocks whose seal figures are kept; older ones answer null. */
export const BLOCK_STATS_KEPT = 4096;

/** The newest blocks' seal figures, bounded: memory does not grow with history. */
export class BlockStatsLog {
  private readonly stats = new Map<bigint, BlockSealStat>();

  constructor(private readonly capacity = BLOCK_STATS_KEPT) {}

  record(number: bigint, stat: BlockSealStat): void {
    this.stats.set(number, stat);
    if (this.stats.size > this.capacity) {
      const oldest = this.stats.keys().next().value;
      if (oldest !== undefined) this.stats.delete(oldest);
    }
  }

  get(number: bigint): BlockSealStat | undefined {
    return this.stats.get(number);
  }
}
