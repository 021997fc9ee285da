import { type Attestation, decodeAttestation } from "../codec/attestationCodec.ts";
import { encodeRangeRequest } from "../codec/reqCodec.ts";
import { attestationChecks } from "../gossip/gossipChecks.ts";
import type { Logger } from "../log/logger.ts";
import { type GossipVerdict, runGossipChecks } from "../p2p/gossipValidation.ts";
import type { GossipTopicHandler, P2PNode } from "../p2p/node.ts";
import { MAX_ATTESTATION_RANGE as MAX_RANGE } from "./attestationsByRange.ts";
import type { FinalityTracker } from "./finality.ts";

/**
 * The attestation topic's inbound side for the sequencer and full nodes (DESIGN §4–5): the
 * topic's checks (`attestationChecks`: size cap and decode, listed prover and signature: REJECT;
 * too far ahead or already recorded: IGNORE), then the tracker records it. `invalid` verdicts are accepted and forwarded:
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
      const c = attestationChecks(data, tracker);
      const verdict = runGossipChecks([c.decode, c.proverAndSignature, c.window, c.dedup], log, {
        topic: "attestation",
      });
      if (verdict === "accept") decoded.set(data, c.decoded.get());
      return verdict;
    },
    onMessage(data: Uint8Array): void {
      const got = decoded.get(data);
      if (got === undefined) return;
      if (tracker.add(got.a, got.bytes)) onAccepted?.(got.a);
    },
  };
}

/** How long a block stays final before the sweep asks peers for the attestations it lacks. */
const SWEEP_SETTLE_MS = 3_000;
/** How far below the finalized block the sweep starts when the node starts. */
const SWEEP_BACK = 1_024n;
/** Peers asked for one swept range. */
const SWEEP_PEERS = 8;
/**
 * A swept range waits until it spans this many blocks, or for `SWEEP_WAIT_MS`: a prover that is
 * down leaves every block incomplete, and the peers are then asked once per range, not per block.
 */
const SWEEP_MIN_BLOCKS = 32n;
const SWEEP_WAIT_MS = 30_000;

/**
 * Keeps a node's record of attestations whole:
 * - while the finalized block lags the newest sealed one for `afterMs`, asks each peer in turn
 *   for the attestations above it (finality must not stall on attestations it never heard);
 * - the sweep: once a final block has been final for a few seconds and some listed prover's
 *   attestation of it is still missing (gossip lost it, or the node was down when it went out),
 *   asks the peers for that block's range once. Finality did not need it, but
 *   `staccato_getAttestations` must show every attestation that reached any peer.
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
  /** The next block the sweep looks at, and the finalized block as sampled over time. */
  let sweepNext: bigint | null = null;
  let sweepWaitingSince = 0;
  const finals: { at: number; fin: bigint }[] = [];
  const timer = setInterval(() => {
    if (busy || tracker.quorum === 0) return;
    const fin = tracker.finalized();
    if (fin !== lastFinal) {
      lastFinal = fin;
      since = Date.now();
      finals.push({ at: since, fin });
    }
    if (tracker.haltedAt !== null || fin >= tracker.latest() || Date.now() - since < afterMs) {
      sweep();
      return;
    }
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

  /** Asks the peers for the attestations of the lowest settled final block that lacks some. */
  function sweep(): void {
    const now = Date.now();
    while (finals.length > 1 && now - finals[1]!.at >= SWEEP_SETTLE_MS) finals.shift();
    const settled = finals[0] !== undefined && now - finals[0].at >= SWEEP_SETTLE_MS ? finals[0].fin : 0n;
    if (sweepNext === null)
      sweepNext = tracker.finalized() > SWEEP_BACK ? tracker.finalized() - SWEEP_BACK + 1n : 1n;
    let n = sweepNext;
    // A bounded look per tick: map lookups only.
    for (let looked = 0; n <= settled && looked < 4096 && tracker.missingProvers(n) === 0; looked++) n++;
    sweepNext = n;
    if (n > settled || tracker.missingProvers(n) === 0) return;
    if (settled - n + 1n < SWEEP_MIN_BLOCKS) {
      if (sweepWaitingSince === 0) sweepWaitingSince = now;
      if (now - sweepWaitingSince < SWEEP_WAIT_MS) return;
    }
    sweepWaitingSince = 0;
    const end = n + BigInt(MAX_RANGE) - 1n < settled ? n + BigInt(MAX_RANGE) - 1n : settled;
    const peers = node.peers().slice(0, SWEEP_PEERS);
    sweepNext = end + 1n;
    if (peers.length === 0) return;
    busy = true;
    void (async () => {
      let added = 0;
      for (const peer of peers) {
        try {
          const r = await node.requestStream(
            peer,
            "attestationsByRange",
            encodeRangeRequest(n, Number(end - n + 1n)),
            { timeoutMs: 15_000, maxChunkBytes: 8192, maxTotalBytes: 16 * 1024 * 1024 },
          );
          if (r.code !== "ok") continue;
          for await (const chunk of r.chunks) {
            const a = decodeAttestation(chunk);
            if (tracker.reject(a) === null && tracker.add(a, chunk)) added++;
          }
        } catch (err) {
          log.debug({ peer: peer.toString(), err: (err as Error).message }, "attestation sweep failed");
        }
      }
      if (added > 0)
        log.info({ added, from: Number(n), to: Number(end) }, "fetched attestations missed on gossip");
      busy = false;
    })();
  }

  return () => clearInterval(timer);
}
