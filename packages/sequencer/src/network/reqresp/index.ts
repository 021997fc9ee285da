import {
  type ChainStore,
  type DaPointer,
  type FinalityTracker,
  type ReqServices,
  type StateHistory,
  attestationsByRangeService,
  daHeadService,
} from "@staccato/common";
import type { WitnessStore } from "../../storage/witnessStore.ts";
import { blockByNumber } from "./blockByNumber.ts";
import { historyRefused } from "./historyRefused.ts";
import { miniBlocksByRange } from "./miniBlocksByRange.ts";
import { stateSnapshot } from "./stateSnapshot.ts";
import { witnessByNumber } from "./witnessByNumber.ts";

export interface SequencerReqDeps {
  chain: ChainStore;
  history: StateHistory;
  witnesses: WitnessStore | null;
  finality: FinalityTracker;
  /** Off: the history protocols answer `unavailable`, and peers catch up from DA. */
  serveHistory: boolean;
  /** The newest block published to DA; without it `da-head` is not served. */
  daHead?: () => DaPointer | null;
}

/**
 * Every req/resp protocol the sequencer serves (DESIGN §4): the history protocols
 * (mini-blocks-by-range, block-by-number, witness-by-number, state-snapshot), the attestations it
 * recorded and its newest DA pointer. One file per handler in this directory.
 */
export function sequencerReqServices(d: SequencerReqDeps): ReqServices {
  const history = d.serveHistory;
  return {
    miniBlocksByRange: history ? miniBlocksByRange(d.chain) : historyRefused,
    blockByNumber: history ? blockByNumber(d.chain) : historyRefused,
    // Without a witness store there is nothing to serve: the protocol is not offered at all.
    witnessByNumber: !history
      ? historyRefused
      : d.witnesses === null
        ? null
        : witnessByNumber(d.chain, d.witnesses),
    stateSnapshot: history ? stateSnapshot(d.chain, d.history) : historyRefused,
    attestationsByRange: attestationsByRangeService(d.finality),
    daHead: d.daHead === undefined ? null : daHeadService(d.daHead),
  };
}
