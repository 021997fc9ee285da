import type { P2PNode } from "@staccato/common";

type PeerId = P2PNode["peerId"];

export interface SyncPeersOptions {
  /** How long a peer whose answer failed is left out the first time; doubled on each failure after. */
  benchMs: number;
  maxBenchMs: number;
  /** How long a peer that answered `rate-limited` is left alone (no penalty). */
  rateLimitedMs: number;
  /** Peers remembered at most (the oldest entries go first). */
  maxTracked: number;
}

export const SYNC_PEERS_DEFAULTS: SyncPeersOptions = {
  benchMs: 1_000,
  maxBenchMs: 30_000,
  rateLimitedMs: 50,
  maxTracked: 1_000,
};

/**
 * Which peer a catch-up request goes to. Connected peers take turns, so no single peer (one that
 * lies, answers garbage, stalls, or does not serve history at all, like another full node) can
 * stop a node catching up; a peer whose answer failed is left out for a while, longer each time,
 * and one that rate-limits us is left alone briefly instead of being asked again at once.
 */
export class SyncPeers {
  private cursor = 0;
  private readonly benched = new Map<string, { until: number; strikes: number }>();

  constructor(
    private readonly opts: SyncPeersOptions = SYNC_PEERS_DEFAULTS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The next peer to ask among `connected`, or undefined when every one of them is left out. */
  next(connected: readonly PeerId[]): PeerId | undefined {
    const n = connected.length;
    const now = this.now();
    for (let i = 0; i < n; i++) {
      const at = (this.cursor + i) % n;
      const peer = connected[at]!;
      const b = this.benched.get(peer.toString());
      if (b === undefined || b.until <= now) {
        this.cursor = at + 1;
        return peer;
      }
    }
    return undefined;
  }

  /** Milliseconds until one of `connected` may be asked again (0 if one may be now). */
  readyIn(connected: readonly PeerId[]): number {
    const now = this.now();
    let soonest = Number.POSITIVE_INFINITY;
    for (const p of connected)
      soonest = Math.min(soonest, Math.max(0, (this.benched.get(p.toString())?.until ?? 0) - now));
    return soonest;
  }

  /** The peer answered badly or not at all: leave it out, twice as long as last time. */
  failed(peer: PeerId): number {
    const key = peer.toString();
    const strikes = (this.benched.get(key)?.strikes ?? 0) + 1;
    const ms = Math.min(this.opts.benchMs * 2 ** (strikes - 1), this.opts.maxBenchMs);
    this.set(key, { until: this.now() + ms, strikes });
    return ms;
  }

  rateLimited(peer: PeerId): void {
    const key = peer.toString();
    const strikes = this.benched.get(key)?.strikes ?? 0;
    this.set(key, { until: this.now() + this.opts.rateLimitedMs, strikes });
  }

  /** A good answer clears the peer's record. */
  succeeded(peer: PeerId): void {
    this.benched.delete(peer.toString());
  }

  private set(key: string, entry: { until: number; strikes: number }): void {
    this.benched.delete(key);
    this.benched.set(key, entry);
    if (this.benched.size > this.opts.maxTracked) {
      const oldest = this.benched.keys().next().value;
      if (oldest !== undefined) this.benched.delete(oldest);
    }
  }
}
