import { parentPort, workerData } from "node:worker_threads";
import { createEthCommon } from "../chain/ethCommon.ts";
import { senderOf } from "./txSender.ts";

export interface SenderRequest {
  id: number;
  raws: Uint8Array[];
}

/** One sender per raw transaction, in order: its 20-byte address, or null when it has none. */
export interface SenderResponse {
  id: number;
  senders: (Uint8Array | null)[];
}

const common = createEthCommon({ chainId: workerData.chainId as number });

parentPort!.on("message", (req: SenderRequest) => {
  const senders = req.raws.map((raw) => {
    try {
      return senderOf(raw, common);
    } catch {
      // Undecodable or badly signed: the caller's own checks name the error.
      return null;
    }
  });
  parentPort!.postMessage({ id: req.id, senders } satisfies SenderResponse);
});
