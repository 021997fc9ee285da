import {
  type Logger,
  MAX_GOSSIP_PAYLOAD,
  type P2PNode,
  type ReqRespCode,
  type SignedObjects,
  encodeNumberRequest,
  encodeRangeRequest,
} from "@staccato/common";
import type { Follower } from "../chain/follower.ts";
import type { FullnodeMetrics } from "../node/metrics.ts";
import type { DaSync } from "./daSync.ts";
import { SyncPeers } from "./syncPeers.ts";

type PeerId = P2PNode["peerId"];

/** Catch-up passes while nothing is known to be missing (or no peer is connected). */
const IDLE_MS = 1000;
/** Wait after a pass in which no peer served anything missing (and DA could not either). */
const NO_PROGRESS_MS = 50;
/** With no seal by gossip for this long, catch-up also asks for blocks past the newest heard of. */
const PROBE_QUIET_MS = 3_000;

/** The block seals a catch-up pass asks for (CatchUp.sealsWanted). */
interface SealsWanted {
  from: bigint;
  /** Past `known` too, until a peer has none. */
  probe: boolean;
  /** The newest block known to be sealed. */
  known: bigint;
}

/**
 * The full node's catch-up (DESIGN §4, §7): when it is behind, mini-blocks and block seals through
 * request/response, in bounded batches, from one usable peer after another; what no peer serves is
 * read from DA when it is configured. Runs in passes, one at a time, each scheduling the next.
 */
export class CatchUp {
  private timer: NodeJS.Timeout | null = null;
  private syncing = false;
  private stopped = false;
  private readonly peers = new SyncPeers();
  /** When the last block seal came by gossip. */
  private lastSealGossipAt = 0;

  constructor(
    private readonly node: P2PNode,
    private follower: Follower,
    private readonly deps: {
      signed: SignedObjects;
      /** Null without DA: only peers are asked. */
      daSync: DaSync | null;
      metrics: FullnodeMetrics | null;
      log: Logger;
    },
  ) {}

  /** The first pass, after `ms`. */
  start(ms: number): void {
    this.schedule(ms);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  /** After a re-sync the node follows with a rebuilt follower. */
  setFollower(f: Follower): void {
    this.follower = f;
  }

  /** A block seal came by gossip: no need to probe past the newest block heard of. */
  sealByGossip(): void {
    this.lastSealGossipAt = Date.now();
  }

  /** Runs a pass soon. */
  kick(): void {
    if (!this.syncing) this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.syncOnce()
        .catch((err: unknown) => {
          this.deps.log.debug({ err: (err as Error).message }, "catch-up pass failed");
          return IDLE_MS;
        })
        .then((next) => this.schedule(next));
    }, ms);
  }

  /**
   * One catch-up pass: mini-blocks from the first one missing, then block seals from the first
   * one unverified, in bounded batches. Each request goes to the next usable peer (SyncPeers); a
   * peer that answers badly is left out and the next one asked. When that brought nothing (no
   * peer usable, or each answered that it does not have it) and DA holds the next block, one
   * batch is read from DA. Returns when to run again.
   */
  private async syncOnce(): Promise<number> {
    const f = this.follower;
    if (f.isHalted) return IDLE_MS;
    const before = f.verifiedBlock;
    const connected = this.node.peers();
    this.syncing = true;
    try {
      const asked = await this.fromPeers(connected);
      if (this.follower !== f) return 0; // re-synced meanwhile: start over
      if (!f.wants().behind) return IDLE_MS;
      // Progress is a block verified: mini-blocks applied from gossip meanwhile do not fill a
      // missing seal.
      if (f.verifiedBlock > before) return 0;
      const da = this.deps.daSync;
      if (da?.reaches(f.wants().block)) {
        if ((await da.fill(f)) > 0) {
          await f.settle();
          if (this.follower !== f || f.verifiedBlock > before) return 0;
        }
        const daWait = Math.max(da.readyIn(), NO_PROGRESS_MS);
        return Math.min(daWait, asked ? NO_PROGRESS_MS : this.untilPeerReady(connected));
      }
      return asked ? NO_PROGRESS_MS : this.untilPeerReady(connected);
    } finally {
      this.syncing = false;
    }
  }

  /** Mini-blocks and seals from the next usable peers; false if no peer could be asked. */
  private async fromPeers(connected: PeerId[]): Promise<boolean> {
    let peer = this.peers.next(connected);
    if (peer === undefined) return false;
    const miniBlocksOk = await this.fetchMiniBlocks(peer);
    // No seal to ask for: the next peer keeps its turn (taking it unasked, every other peer in
    // the rotation could be passed over for good).
    const seals = this.sealsWanted();
    if (seals !== null) {
      if (!miniBlocksOk) peer = this.peers.next(connected);
      if (peer !== undefined) await this.fetchSeals(peer, seals);
    }
    await this.follower.settle();
    return true;
  }

  /** When to try again while every connected peer is left out (or none is connected). */
  private untilPeerReady(connected: PeerId[]): number {
    return Math.min(Math.max(this.peers.readyIn(connected), 10), IDLE_MS);
  }

  /** Mini-blocks from the first one missing; false if the peer failed (it is left out for a while). */
  private async fetchMiniBlocks(peer: PeerId): Promise<boolean> {
    const want = this.follower.wants();
    return this.ask(peer, "miniBlocksByRange", async () => {
      const r = await this.node.requestStream(
        peer,
        "miniBlocksByRange",
        encodeRangeRequest(want.miniBlock, 512),
        {
          timeoutMs: 15_000,
          maxChunkBytes: MAX_GOSSIP_PAYLOAD,
        },
      );
      if (r.code === "ok") {
        for await (const chunk of r.chunks)
          this.follower.offerMiniBlock(this.deps.signed.miniBlock(chunk), true, chunk);
      }
      return r.code;
    });
  }

  /**
   * Which block seals to ask for, or null for none: from the first block unverified, those not in
   * hand (gossip brought them, or the block is being verified) of the blocks known to be sealed;
   * when no seal has come by gossip for a while, also past them, until a peer has none (gossip may
   * be cut off, and an idle chain's empty blocks are heard of only by their seals).
   */
  private sealsWanted(): SealsWanted | null {
    const f = this.follower;
    // Fixed before asking: blocks verify while the seals arrive, and counting from the moving
    // verified block skipped seals (fetched again by a later pass).
    const from = f.verifiedBlock + 1n;
    const probe = Date.now() - this.lastSealGossipAt > PROBE_QUIET_MS;
    const known = f.highestSealedBlock;
    if (probe) return { from, probe, known };
    for (let n = from; n <= known; n++) if (!f.hasSeal(n)) return { from, probe, known };
    return null;
  }

  /** Up to 64 of the block seals `wanted` says, leaving out those in hand by the time it asks. */
  private async fetchSeals(peer: PeerId, wanted: SealsWanted): Promise<boolean> {
    const { from, probe, known } = wanted;
    return this.ask(peer, "blockByNumber", async () => {
      let asked = 0;
      for (let n = from; asked < 64 && (probe || n <= known); n++) {
        if (this.follower.hasSeal(n)) continue;
        asked++;
        const b = await this.node.request(peer, "blockByNumber", encodeNumberRequest(n), {
          timeoutMs: 5000,
          maxResponseBytes: 1 << 20,
        });
        if (b.code !== "ok") return b.code;
        const { seal } = this.deps.signed.block(b.body);
        this.deps.metrics?.sealsFetched.inc();
        this.follower.offerBlock(seal);
      }
      return "ok";
    });
  }

  /**
   * Runs one exchange with `peer` and keeps its record: `unavailable` (it has nothing newer) is
   * fine, `rate-limited` leaves it alone briefly, and anything else (our request called invalid, a
   * failed stream, an answer that does not decode or is not signed by the sequencer) leaves it out.
   */
  private async ask(peer: PeerId, protocol: string, exchange: () => Promise<ReqRespCode>): Promise<boolean> {
    let code: ReqRespCode;
    try {
      code = await exchange();
    } catch (err) {
      const benchMs = this.peers.failed(peer);
      this.deps.log.info(
        { peer: peer.toString(), protocol, err: (err as Error).message, benchMs },
        "sync peer failed",
      );
      return false;
    }
    if (code === "rate-limited") {
      this.peers.rateLimited(peer);
      return true;
    }
    if (code === "invalid") {
      const benchMs = this.peers.failed(peer);
      this.deps.log.info(
        { peer: peer.toString(), protocol, benchMs },
        "sync peer called our request invalid",
      );
      return false;
    }
    this.peers.succeeded(peer);
    return true;
  }
}
