import { type ChainStore, type ReqService, decodeRangeRequest } from "@staccato/common";
import { decodeOrNull, historyLimits } from "./shared.ts";

/** Most mini-blocks one `mini-blocks-by-range` request returns. */
export const MAX_MINI_BLOCKS_PER_REQUEST = 512;

/** `mini-blocks-by-range`: RLP [from, count] → one chunk per mini-block (its signed encoding). */
export function miniBlocksByRange(chain: ChainStore): ReqService {
  return {
    handler: async (body) => {
      const req = decodeOrNull(() => decodeRangeRequest(body));
      if (req === null) return { code: "invalid", message: "expected RLP [from, count]" };
      const first = await chain.getMiniBlock(req.from);
      if (first === undefined) {
        return { code: "unavailable", message: `mini-block ${req.from} is not known yet` };
      }
      return (async function* () {
        yield first;
        const end = req.from + BigInt(Math.min(req.count, MAX_MINI_BLOCKS_PER_REQUEST));
        for (let n = req.from + 1n; n < end; n++) {
          const encoded = await chain.getMiniBlock(n);
          if (encoded === undefined) return;
          yield encoded;
        }
      })();
    },
    opts: historyLimits(64 * 1024 * 1024, 20),
  };
}
