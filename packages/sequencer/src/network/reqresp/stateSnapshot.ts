import type { ChainStore, ReqService, StateHistory } from "@staccato/common";
import { encodeSnapshot, snapshotPoint } from "../../storage/snapshot.ts";
import { historyLimits } from "./shared.ts";

/** Snapshot stream chunk size. */
const SNAPSHOT_CHUNK = 256 * 1024;

/**
 * `state-snapshot`: the whole state at the newest sealed block, streamed; the first chunk names
 * the block and its state root, so the joiner can verify what it rebuilt.
 */
export function stateSnapshot(chain: ChainStore, history: StateHistory): ReqService {
  return {
    handler: () => {
      const b = chain.latest;
      const data = encodeSnapshot(snapshotPoint(chain, b), history.addresses(), history.latest);
      return (async function* () {
        for (let off = 0; off < data.length; off += SNAPSHOT_CHUNK)
          yield data.subarray(off, off + SNAPSHOT_CHUNK);
      })();
    },
    opts: { ...historyLimits(4 * 1024 * 1024 * 1024, 1), maxRequestBytes: 16, timeoutMs: 300_000 },
  };
}
