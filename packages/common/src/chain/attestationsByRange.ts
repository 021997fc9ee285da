import { encodeAttestation } from "../codec/attestationCodec.ts";
import { decodeRangeRequest } from "../codec/reqCodec.ts";
import type { ReqService } from "../p2p/reqServices.ts";
import type { FinalityTracker } from "./finality.ts";

/** Most blocks one `attestations-by-range` request covers. */
export const MAX_ATTESTATION_RANGE = 256;

/**
 * `attestations-by-range`: RLP [from, count] → one chunk per recorded attestation of blocks
 * `from … from+count-1`. A node that missed gossip (it was down, or joined later) fills the gap
 * from any peer; each attestation is checked again on arrival, so a peer cannot forge one.
 */
export function attestationsByRangeService(
  source: FinalityTracker | ((n: bigint) => readonly Uint8Array[]),
): ReqService {
  const encodedAt =
    typeof source === "function"
      ? source
      : (n: bigint) => source.attestations(n).map((a) => encodeAttestation(a));
  return {
    handler: (body) => {
      let req: { from: bigint; count: number };
      try {
        req = decodeRangeRequest(body);
      } catch {
        return { code: "invalid", message: "expected RLP [from, count]" };
      }
      const out: Uint8Array[] = [];
      const end = req.from + BigInt(Math.min(req.count, MAX_ATTESTATION_RANGE));
      for (let n = req.from; n < end; n++) out.push(...encodedAt(n));
      return (async function* () {
        yield* out;
      })();
    },
    opts: {
      maxRequestBytes: 64,
      maxResponseBytes: 16 * 1024 * 1024,
      rateLimit: { perPeerPerSecond: 10, burst: 20 },
      timeoutMs: 15_000,
    },
  };
}
