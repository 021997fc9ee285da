import { type Attestation, decodeAttestation } from "../codec/attestationCodec.ts";
import type { Logger } from "../log/logger.ts";
import { decodeEnvelope } from "../p2p/envelope.ts";
import { type GossipVerdict, runGossipChecks } from "../p2p/gossipValidation.ts";
import type { GossipTopicHandler } from "../p2p/node.ts";
import type { FinalityTracker } from "./finality.ts";

/** How far past the node's newest sealed block an attestation may be (the node may be behind). */
const AHEAD_WINDOW = 4096n;

/**
 * The attestation topic's inbound side for the sequencer and full nodes (DESIGN §4–5): a flat
 * check list (size cap and decode, listed prover and signature: REJECT; too far ahead or already
 * recorded: IGNORE), then the tracker records it. `invalid` verdicts are accepted and forwarded:
 * the alarm must reach every node.
 */
export function attestationGossip(
  tracker: FinalityTracker,
  latest: () => bigint,
  log: Logger,
  onAccepted?: (a: Attestation) => void,
): GossipTopicHandler {
  const decoded = new WeakMap<Uint8Array, { a: Attestation; bytes: Uint8Array }>();
  return {
    validate(data: Uint8Array): GossipVerdict {
      let a: Attestation | null = null;
      let bytes: Uint8Array | null = null;
      const verdict = runGossipChecks(
        [
          [
            "decode",
            () => {
              bytes = decodeEnvelope(data, 8192);
              a = decodeAttestation(bytes);
              return null;
            },
          ],
          ["prover-and-signature", () => (tracker.reject(a!) === null ? null : "reject")],
          ["window", () => (a!.blockNumber > latest() + AHEAD_WINDOW ? "ignore" : null)],
          ["dedup", () => (tracker.has(a!) ? "ignore" : null)],
        ],
        log,
        { topic: "attestation" },
      );
      if (verdict === "accept") decoded.set(data, { a: a!, bytes: bytes! });
      return verdict;
    },
    onMessage(data: Uint8Array): void {
      const got = decoded.get(data);
      if (got === undefined) return;
      if (tracker.add(got.a, got.bytes)) onAccepted?.(got.a);
    },
  };
}
