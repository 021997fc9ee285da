import {
  type DaPointer,
  type ReqServices,
  attestationsByRangeService,
  daHeadService,
} from "@staccato/common";

/**
 * What a prover serves by request: its own recent attestations (for a node that missed their
 * gossip: it was down, or the connection dropped while a message was in flight) and, when it
 * follows DA, the newest DA pointer it knows.
 */
export function proverReqServices(
  ownAttestations: (block: bigint) => readonly Uint8Array[],
  daHead: (() => DaPointer | null) | null,
): ReqServices {
  return {
    miniBlocksByRange: null,
    blockByNumber: null,
    witnessByNumber: null,
    stateSnapshot: null,
    attestationsByRange: attestationsByRangeService(ownAttestations),
    daHead: daHead === null ? null : daHeadService(daHead),
  };
}
