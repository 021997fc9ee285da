import { type Attestation, decodeAttestation, encodeAttestation } from "../codec/attestationCodec.ts";
import { decodeRangeRequest, encodeRangeRequest } from "../codec/reqCodec.ts";
import type { Logger } from "../log/logger.ts";
import { decodeEnvelope } from "../p2p/envelope.ts";
import { type GossipVerdict, runGossipChecks } from "../p2p/gossipValidation.ts";
import type { GossipTopicHandler, P2PNode } from "../p2p/node.ts";
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
          ["window", () => (a!.blockNumber > tracker.latest() + AHEAD_WINDOW ? "ignore" : null)],
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

/** Most blocks one `attestations-by-range` request covers. */
const MAX_RANGE = 256;

/**
 * `attestations-by-range`: RLP [from, count] → one chunk per recorded attestation of blocks
 * `from … from+count-1`. A node that missed gossip (it was down, or joined later) fills the gap
 * from any peer; each attestation is checked again on arrival, so a peer cannot forge one.
 */
export async function serveAttestations(
  node: P2PNode,
  source: FinalityTracker | ((n: bigint) => readonly Uint8Array[]),
): Promise<void> {
  const encodedAt =
    typeof source === "function"
      ? source
      : (n: bigint) => source.attestations(n).map((a) => encodeAttestation(a));
  await node.handle(
    "attestationsByRange",
    (body) => {
      let req: { from: bigint; count: number };
      try {
        req = decodeRangeRequest(body);
      } catch {
        return { code: "invalid", message: "expected RLP [from, count]" };
      }
      const out: Uint8Array[] = [];
      const end = req.from + BigInt(Math.min(req.count, MAX_RANGE));
      for (let n = req.from; n < end; n++) out.push(...encodedAt(n));
      return (async function* () {
        yield* out;
      })();
    },
    {
      maxRequestBytes: 64,
      maxResponseBytes: 16 * 1024 * 1024,
      rateLimit: { perPeerPerSecond: 10, burst: 20 },
      timeoutMs: 15_000,
    },
  );
}

/**
 * Keeps a node's finality from stalling on attestations it never heard: while the finalized block
 * lags the newest sealed one for `afterMs`, asks each peer in turn for the attestations above it.
 */
export function syncAttestations(
  node: P2PNode,
  tracker: FinalityTracker,
  log: Logger,
  afterMs = 2000,
): () => void {
  let lastFinal = -1n;
  let since = Date.now();
  let busy = false;
  let peerIdx = 0;
  const timer = setInterval(() => {
    if (busy || tracker.quorum === 0 || tracker.haltedAt !== null) return;
    const fin = tracker.finalized();
    if (fin !== lastFinal) {
      lastFinal = fin;
      since = Date.now();
    }
    if (fin >= tracker.latest() || Date.now() - since < afterMs) return;
    const peers = node.peers();
    if (peers.length === 0) return;
    const peer = peers[peerIdx++ % peers.length]!;
    busy = true;
    void (async () => {
      try {
        const r = await node.requestStream(
          peer,
          "attestationsByRange",
          encodeRangeRequest(fin + 1n, MAX_RANGE),
          {
            timeoutMs: 15_000,
            maxChunkBytes: 8192,
            maxTotalBytes: 16 * 1024 * 1024,
          },
        );
        if (r.code !== "ok") {
          log.debug({ code: r.code, reason: new TextDecoder().decode(r.body) }, "attestation sync refused");
          return;
        }
        let added = 0;
        for await (const chunk of r.chunks) {
          const a = decodeAttestation(chunk);
          if (tracker.reject(a) === null && tracker.add(a, chunk)) added++;
        }
        if (added > 0)
          log.info({ added, from: Number(fin + 1n), peer: peer.toString() }, "fetched missed attestations");
        since = Date.now();
      } catch (err) {
        log.debug({ err: (err as Error).message }, "attestation sync failed");
      } finally {
        busy = false;
      }
    })();
  }, 500);
  return () => clearInterval(timer);
}
