import { type ChainStore, type ReqService, blockSealBytes, decodeNumberRequest } from "@staccato/common";
import { decodeOrNull, historyLimits } from "./shared.ts";

/** `block-by-number`: RLP [number] → the block's seal (header, mini-block hashes, signature). */
export function blockByNumber(chain: ChainStore): ReqService {
  return {
    handler: async (body) => {
      const n = decodeOrNull(() => decodeNumberRequest(body));
      if (n === null) return { code: "invalid", message: "expected RLP [number]" };
      const b = await chain.getSealedBlock(n);
      if (b === undefined || n === 0n) return { code: "unavailable", message: `block ${n} is not sealed` };
      return blockSealBytes(b);
    },
    opts: historyLimits(1024 * 1024, 1000),
  };
}
