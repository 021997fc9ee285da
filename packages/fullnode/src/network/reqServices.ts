import {
  type DaPointer,
  type FinalityTracker,
  type ReqServices,
  attestationsByRangeService,
  daHeadService,
} from "@staccato/common";

/**
 * What a full node serves by request: the attestations it recorded (for a node that missed their
 * gossip) and the newest DA pointer it knows. Chain history is served by the sequencer and DA.
 */
export function fullnodeReqServices(finality: FinalityTracker, daHead: () => DaPointer | null): ReqServices {
  return {
    miniBlocksByRange: null,
    blockByNumber: null,
    witnessByNumber: null,
    stateSnapshot: null,
    attestationsByRange: attestationsByRangeService(finality),
    daHead: daHeadService(daHead),
  };
}
