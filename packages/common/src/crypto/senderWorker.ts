import { parentPort, workerData } from "node:worker_threads";
import { createEthCommon } from "../chain/ethCommon.ts";
import { type PackedBytes, unpackBytes } from "../util/packedBytes.ts";
import { senderOf } from "./txSender.ts";

/** Raw transactions back to back in one buffer (`packBytes`), transferred, not copied. */
export interface SenderRequest extends PackedBytes {
  id: number;
}

/**
 * One 20-byte sender per transaction, in order, in one buffer: transaction i's is
 * `senders[20i, 20i + 20)`, valid where `ok[i]` is 1 (0: it has none).
 */
export interface SenderResponse {
  id: number;
  senders: Uint8Array;
  ok: Uint8Array;
}

const common = createEthCommon({ chainId: workerData.chainId as number });

parentPort!.on("message", (req: SenderRequest) => {
  const raws = unpackBytes(req);
  const senders = new Uint8Array(20 * raws.length);
  const ok = new Uint8Array(raws.length);
  for (let i = 0; i < raws.length; i++) {
    try {
      senders.set(senderOf(raws[i]!, common), 20 * i);
      ok[i] = 1;
    } catch {
      // Undecodable or badly signed: the caller's own checks name the error.
    }
  }
  parentPort!.postMessage({ id: req.id, senders, ok } satisfies SenderResponse, [senders.buffer, ok.buffer]);
});
