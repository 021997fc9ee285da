import { DaError, type DaErrorKind, type DaReader, type DaStore, type Logger } from "@staccato/common";
import type { Follower } from "../chain/follower.ts";
import type { FullnodeMetrics } from "../node/metrics.ts";

export interface DaSyncOptions {
  /** Most blocks read from DA in one pass. */
  batchBlocks: number;
  /** A pass stops early once it has read this many bundle bytes. */
  batchBytes: number;
  /** Wait after the first failed read; doubled on each failure after, up to `maxRetryMs`. */
  retryMs: number;
  maxRetryMs: number;
}

export const DA_SYNC_DEFAULTS: DaSyncOptions = {
  batchBlocks: 64,
  batchBytes: 64 * 1024 * 1024,
  retryMs: 1_000,
  maxRetryMs: 30_000,
};

/** Why a DA read failed, as counted: the store's kinds, or `other` (a bug, not the data). */
export type DaFailureKind = DaErrorKind | "other";

/**
 * The store of a node started with `--da none`. It still follows the sequencer's DA pointers (to
 * serve `da-head` to peers that read DA) but reads nothing.
 */
export const NO_DA_STORE: DaStore = {
  description: "none",
  put: () => Promise.reject(new DaError("unavailable", "--da none: this node writes no DA")),
  get: () => Promise.reject(new DaError("unavailable", "--da none: this node reads no DA")),
};

/**
 * Fills the blocks no peer serves from DA (DESIGN §7): reads block bundles in order from the
 * first block the follower has not verified, up to the newest block the sequencer's DA pointers
 * name, and hands their mini-blocks and seals to the follower exactly as a peer's answers would
 * be. The reader has checked each bundle against the hash the sequencer signed and every
 * signature in it; the follower then checks the block as always (state root, transactions and
 * receipts roots, bloom, gas). A failed read is logged, counted and retried later, doubling the
 * wait: a corrupt bundle is refused and never applied.
 */
export class DaSync {
  private failures = 0;
  private retryAt = 0;
  /** Where the last pass stopped (read or failed): a pass starting elsewhere starts a catch-up. */
  private next = 0n;
  private readonly log: Logger;

  constructor(
    private readonly opts: DaSyncOptions,
    private readonly deps: {
      reader: DaReader;
      metrics: FullnodeMetrics | null;
      logger: Logger;
      now?: () => number;
    },
  ) {
    this.log = deps.logger.child({ module: "da-sync" });
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Whether DA holds block `n` as far as the pointers heard of tell. */
  reaches(n: bigint): boolean {
    return this.deps.reader.headNumber >= n;
  }

  /** Milliseconds until DA may be read again after a failure (0: now). */
  readyIn(): number {
    return Math.max(0, this.retryAt - this.now());
  }

  /**
   * One pass: the bundles of the follower's next blocks, at most one batch, offered in order.
   * Returns how many blocks were offered; 0 when DA reaches nothing new, is backing off, or the
   * first read failed.
   */
  async fill(follower: Follower): Promise<number> {
    const { reader, metrics } = this.deps;
    if (this.readyIn() > 0 || follower.isHalted) return 0;
    const from = follower.wants().block;
    const head = reader.headNumber;
    if (head < from) return 0;
    const last = min(from + BigInt(this.opts.batchBlocks) - 1n, head);
    if (from !== this.next)
      this.log.info(
        { from: Number(from), daHead: Number(head), store: reader.store.description },
        "catching up from DA: no peer serves these blocks",
      );
    const started = performance.now();
    let bytes = 0;
    let n = from;
    let error: unknown = null;
    try {
      for (; n <= last && bytes < this.opts.batchBytes && !follower.isHalted; n++) {
        const got = await reader.bundle(n);
        for (const [i, mb] of got.miniBlocks.entries())
          follower.offerMiniBlock(mb, true, got.bundle.miniBlocks[i]);
        follower.offerBlock(got.bundle.seal);
        bytes += got.bytes;
        metrics?.daBlocks.inc();
        metrics?.daBytes.inc(got.bytes);
      }
    } catch (err) {
      error = err;
    }
    const filled = Number(n - from);
    this.next = n;
    if (filled > 0) this.failures = 0;
    if (error !== null) this.failed(n, error);
    if (filled > 0) {
      this.log.info(
        {
          from: Number(from),
          to: Number(n - 1n),
          bytes,
          ms: Math.round(performance.now() - started),
          daHead: Number(head),
          // Progress of a catch-up: blocks still to read from DA, as far as the pointers tell.
          left: Number(head - (n - 1n)),
        },
        "filled blocks from DA",
      );
    }
    return filled;
  }

  private failed(block: bigint, err: unknown): void {
    const kind: DaFailureKind = err instanceof DaError ? err.kind : "other";
    this.failures++;
    const retryMs = Math.min(this.opts.retryMs * 2 ** (this.failures - 1), this.opts.maxRetryMs);
    this.retryAt = this.now() + retryMs;
    this.deps.metrics?.daFailures.inc({ kind });
    const ctx = {
      // The block being filled: a bundle is reached by walking back from a later one, so the
      // failed read may be of a later block (the error names it, or its blob).
      filling: Number(block),
      kind,
      store: this.deps.reader.store.description,
      err: (err as Error).message,
      retryMs,
    };
    if (kind === "corrupt") this.log.error(ctx, "refused a corrupt DA bundle: not applied");
    else if (kind === "other") this.log.error(ctx, "DA fill failed");
    else this.log.warn(ctx, "DA read failed; will retry");
  }
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
