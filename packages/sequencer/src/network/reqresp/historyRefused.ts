import type { ReqService } from "@staccato/common";
import { historyLimits } from "./shared.ts";

/**
 * With `--no-serve-history` the history protocols answer `unavailable` with the reason, rather
 * than not existing: a peer sees at once that it must catch up from DA, and does not take the
 * sequencer for a broken peer.
 */
export const historyRefused: ReqService = {
  handler: () => ({
    code: "unavailable",
    message: "this sequencer does not serve history (--no-serve-history): read it from DA",
  }),
  opts: historyLimits(1024, 10),
};
