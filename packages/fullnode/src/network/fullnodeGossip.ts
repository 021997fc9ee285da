import {
  type BlockSeal,
  type GossipTopicHandler,
  type GossipVerdict,
  type Logger,
  SeenCache,
  type SignedMiniBlock,
  type SignedObjects,
  blockChecks,
  miniBlockChecks,
  runGossipChecks,
} from "@staccato/common";
import type { Follower } from "../chain/follower.ts";
import type { FullnodeMetrics } from "../node/metrics.ts";

/** How far ahead of the applied head a mini-block may be and still be buffered. */
const MINI_BLOCK_WINDOW = 100_000n;

export interface FullnodeGossipDeps {
  /** The follower now (a re-sync replaces it). */
  follower(): Follower;
  signed: SignedObjects;
  metrics: FullnodeMetrics | null;
  log: Logger;
  /** After every message: catch-up runs when the follower is behind. */
  afterMessage(): void;
  /** A block seal came by gossip. */
  onSeal(): void;
}

/** Counts a topic's rejections in `staccato_fullnode_gossip_rejected_total`, by failed check. */
function countRejected(deps: FullnodeGossipDeps, topic: "miniBlock" | "block") {
  return (check: string, verdict: "ignore" | "reject"): void => {
    if (verdict === "reject") deps.metrics?.gossipRejected.inc({ topic, check });
  };
}

/**
 * The `miniBlock` topic for a full node: the topic's checks (common's `miniBlockChecks`) with the
 * node's own windows, then the follower applies it.
 */
export function miniBlockGossip(deps: FullnodeGossipDeps): GossipTopicHandler {
  const decoded = new WeakMap<Uint8Array, { mb: SignedMiniBlock; bytes: Uint8Array }>();
  const seen = new SeenCache(10_000);
  return {
    validate(data: Uint8Array): GossipVerdict {
      const c = miniBlockChecks(data, deps.signed);
      const mb = () => c.decoded.get().mb;
      const applied = () => deps.follower().appliedMiniBlock;
      const verdict = runGossipChecks(
        [
          c.decode, // REJECT: size cap before decode, malformed
          ["window", () => (mb().number <= applied() ? "ignore" : null)], // IGNORE: already applied
          ["window-ahead", () => (mb().number > applied() + MINI_BLOCK_WINDOW ? "ignore" : null)], // IGNORE
          c.dedup(seen), // IGNORE: seen
          c.signer, // REJECT: not signed by the sequencer
        ],
        deps.log,
        { topic: "mini-block" },
        countRejected(deps, "miniBlock"),
      );
      if (verdict === "accept") decoded.set(data, c.decoded.get());
      return verdict;
    },
    onMessage(data: Uint8Array): void {
      const got = decoded.get(data);
      if (got !== undefined) deps.follower().offerMiniBlock(got.mb, true, got.bytes);
      deps.afterMessage();
    },
  };
}

/**
 * The `block` topic for a full node: the topic's checks (common's `blockChecks`) with the node's
 * "already verified" window, then the follower takes the seal.
 */
export function blockGossip(deps: FullnodeGossipDeps): GossipTopicHandler {
  const decoded = new WeakMap<Uint8Array, { seal: BlockSeal }>();
  const seen = new SeenCache(1_000);
  return {
    validate(data: Uint8Array): GossipVerdict {
      const c = blockChecks(data, deps.signed);
      const verdict = runGossipChecks(
        [
          c.decodeAndSigner, // REJECT: bad bytes or not the sequencer
          ["window", () => (c.decoded.get().number <= deps.follower().verifiedBlock ? "ignore" : null)], // IGNORE: already verified
          c.dedup(seen), // IGNORE: seen
        ],
        deps.log,
        { topic: "block" },
        countRejected(deps, "block"),
      );
      if (verdict === "accept") decoded.set(data, c.decoded.get());
      return verdict;
    },
    onMessage(data: Uint8Array): void {
      const b = decoded.get(data);
      if (b !== undefined) {
        deps.onSeal();
        deps.follower().offerBlock(b.seal);
      }
      deps.afterMessage();
    },
  };
}
