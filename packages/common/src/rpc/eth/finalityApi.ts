import { bytesToHex } from "@ethereumjs/util";
import { z } from "zod";
import type { FinalityTracker } from "../../chain/finality.ts";
import type { Attestation } from "../../codec/attestationCodec.ts";
import { type RpcMethodTable, rpcMethod } from "../dispatch.ts";
import * as s from "../schemas.ts";
import type { ChainBackend } from "./backend.ts";

const q = (n: bigint) => `0x${n.toString(16)}`;

function formatAttestation(a: Attestation, canonical: Uint8Array | null, receivedAt: number | null) {
  return {
    prover: bytesToHex(a.prover),
    blockNumber: q(a.blockNumber),
    blockHash: bytesToHex(a.blockHash),
    /** Whether it is about this node's block at that height. */
    canonical: canonical === null ? null : bytesToHex(canonical) === bytesToHex(a.blockHash),
    verdict: a.verdict,
    reason: a.reason,
    preStateRoot: bytesToHex(a.preStateRoot),
    postStateRoot: bytesToHex(a.postStateRoot),
    witnessHash: bytesToHex(a.witnessHash),
    signature: bytesToHex(a.signature),
    /** When this node recorded it, ms since the epoch (null: recorded before the node restarted). */
    receivedAt,
  };
}

/** The methods `finalityApi` answers. */
export const FINALITY_METHODS = ["staccato_getAttestations", "staccato_finality"] as const;
export type FinalityMethod = (typeof FINALITY_METHODS)[number];

/**
 * The verification set's attestation and finality status (DESIGN §8): who attested what, and why
 * finality stands where it does.
 */
export function finalityApi(be: ChainBackend, tracker: FinalityTracker): RpcMethodTable<FinalityMethod> {
  const methods: RpcMethodTable<FinalityMethod> = {
    staccato_getAttestations: rpcMethod(z.tuple([s.quantity]), async ([n]) => {
      const own = (await be.chain.getSealedBlock(n))?.hash ?? null;
      const finalized = tracker.finalized();
      return {
        blockNumber: q(n),
        blockHash: own === null ? null : bytesToHex(own),
        finalized: n <= finalized && own !== null,
        quorum: tracker.quorum,
        attestations: tracker.attestations(n).map((a) => formatAttestation(a, own, tracker.receivedAt(a))),
      };
    }),
    staccato_finality: rpcMethod(z.tuple([]), () => ({
      latest: q(be.chain.latest.number),
      safe: q(tracker.finalized()),
      finalized: q(tracker.finalized()),
      quorum: tracker.quorum,
      provers: be.config.provers,
      haltedAt: tracker.haltedAt === null ? null : q(tracker.haltedAt),
      alarms: tracker.alarms.map((a) => ({
        blockNumber: q(a.blockNumber),
        blockHash: bytesToHex(a.blockHash),
        prover: a.prover,
        reason: a.reason,
        canonical: a.canonical,
      })),
    })),
  };
  return methods;
}
