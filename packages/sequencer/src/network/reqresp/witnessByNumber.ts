import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  type ChainStore,
  type ReqService,
  blockSealBytes,
  decodeWitnessRequest,
  encodeBundle,
} from "@staccato/common";
import type { WitnessStore } from "../../storage/witnessStore.ts";
import { decodeOrNull, historyLimits } from "./shared.ts";

/**
 * `witness-by-number`: RLP [number, hash or empty] → the block bundle a prover verifies: the
 * signed seal, the raw transactions, the compressed witness (DESIGN §3, §5).
 */
export function witnessByNumber(chain: ChainStore, witnesses: WitnessStore): ReqService {
  return {
    handler: async (body) => {
      const req = decodeOrNull(() => decodeWitnessRequest(body));
      if (req === null) return { code: "invalid", message: "expected RLP [number, hash]" };
      const b = await chain.getSealedBlock(req.number);
      if (b === undefined || req.number === 0n)
        return { code: "unavailable", message: `block ${req.number} is not sealed` };
      if (req.hash !== null && !equalsBytes(req.hash, b.hash!))
        return { code: "unavailable", message: `block ${req.number} here is ${bytesToHex(b.hash!)}` };
      const w = await witnesses.get(req.number);
      if (w === undefined) return { code: "unavailable", message: `no witness for block ${req.number}` };
      return encodeBundle(
        blockSealBytes(b),
        b.txs.map((t) => t.raw),
        w.compressed,
      );
    },
    opts: historyLimits(512 * 1024 * 1024, 100),
  };
}
