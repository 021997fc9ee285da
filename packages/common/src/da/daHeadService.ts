import { type DaPointer, encodeDaPointer } from "../codec/daCodec.ts";
import { MAX_DA_POINTER_BYTES } from "../gossip/gossipChecks.ts";
import type { ReqService } from "../p2p/reqServices.ts";

/**
 * `da-head`: an empty request → the newest DA pointer this node holds (the sequencer's signed
 * encoding), or `unavailable`. A node that joins while no peer serves history learns from one
 * pointer where every earlier block is in DA.
 */
export function daHeadService(head: () => DaPointer | null): ReqService {
  return {
    handler: (body) => {
      if (body.length !== 0) return { code: "invalid", message: "da-head takes an empty request" };
      const p = head();
      return p === null ? { code: "unavailable", message: "no DA pointer known" } : encodeDaPointer(p);
    },
    opts: {
      maxRequestBytes: 16,
      maxResponseBytes: MAX_DA_POINTER_BYTES,
      rateLimit: { perPeerPerSecond: 5, burst: 10 },
      timeoutMs: 10_000,
    },
  };
}
