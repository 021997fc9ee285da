import type { Logger } from "@staccato/common";
import type { DaBundleSource } from "../da/daBundleSource.ts";
import type { ProverNetwork } from "../network/proverNetwork.ts";
import type { ProverMetrics } from "../node/metrics.ts";

/** One corrupt DA copy is reported at error level at most this often, however many blocks wait on it. */
const CORRUPT_REPORT_MS = 60_000;

/** A fetched bundle and where it came from: a peer's `witness-by-number`, or the DA store. */
export interface Fetched {
  bundle: Uint8Array;
  source: "peer" | "da";
  /** The peer id, or the DA store's description. */
  from: string;
}

/** Why no source served the bundle this time: a log message and its context. */
export interface NotFetched {
  why: string;
  details: Record<string, unknown>;
}

/**
 * Where a block's bundle comes from (DESIGN §5, §7): the first peer that serves it, else the DA
 * store when one is configured. A corrupt DA copy is an error to log, never a verdict on the
 * block: the sequencer signed the block, not the bytes the store handed back.
 */
export class BundleFetcher {
  /** When each corrupt DA copy (by the reader's description of it) was last reported. */
  private readonly corruptReported = new Map<string, number>();

  constructor(
    private readonly network: ProverNetwork,
    private readonly da: DaBundleSource | null,
    private readonly deps: { logger: Logger; metrics: ProverMetrics },
  ) {}

  async fetch(number: bigint, hash: Uint8Array | null): Promise<Fetched | NotFetched> {
    const got = await this.network.fetchBundle(number, hash);
    if ("bundle" in got) return { bundle: got.bundle, source: "peer", from: got.peer };
    if (this.da === null)
      return { why: "no peer served the block's witness yet; retrying", details: { reasons: got.reasons } };
    const d = await this.da.fetch(number, hash);
    if ("bundle" in d) {
      this.deps.metrics.daReadSeconds.observe(d.seconds);
      this.deps.logger.debug(
        { block: Number(number), bytes: d.storedBytes, ms: Math.round(d.seconds * 1000), peers: got.reasons },
        "no peer served the block's witness: read it from DA",
      );
      return { bundle: d.bundle, source: "da", from: this.da.description };
    }
    this.deps.metrics.fetchFailures.inc({ reason: `da-${d.failure}` });
    if (d.failure === "corrupt") this.reportCorrupt(number, d.reason);
    return {
      why: "neither a peer nor DA served the block's witness yet; retrying",
      details: { reasons: got.reasons, da: d.reason },
    };
  }

  /**
   * Blocks below a corrupt bundle are reachable only through its link, so one bad copy fails
   * many reads with the same reason: each reason is an error once a minute, not once a block.
   */
  private reportCorrupt(number: bigint, reason: string): void {
    const now = performance.now();
    const last = this.corruptReported.get(reason);
    if (last !== undefined && now - last < CORRUPT_REPORT_MS) return;
    this.corruptReported.set(reason, now);
    if (this.corruptReported.size > 1_000)
      this.corruptReported.delete(this.corruptReported.keys().next().value!);
    this.deps.logger.error(
      { block: Number(number), da: this.da!.description, err: reason },
      "DA copy is corrupt: not attesting from it; retrying peers and DA",
    );
  }
}
