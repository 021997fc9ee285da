import type { DaPointer } from "../codec/daCodec.ts";
import { MAX_DA_POINTER_BYTES, daPointerChecks } from "../gossip/gossipChecks.ts";
import type { Logger } from "../log/logger.ts";
import { type GossipVerdict, SeenCache, runGossipChecks } from "../p2p/gossipValidation.ts";
import type { GossipTopicHandler, P2PNode } from "../p2p/node.ts";
import type { DaReader } from "./daReader.ts";

/**
 * The `da` topic's inbound side (DESIGN §4, §7): the topic's checks (`daPointerChecks`: size cap
 * and decode, signed by the sequencer: REJECT; seen: IGNORE), then the reader records the pointer
 * and `onNew` hears of it when it is newer than any it knew.
 */
export function daPointerGossip(
  reader: DaReader,
  log: Logger,
  onNew?: (p: DaPointer) => void,
): GossipTopicHandler {
  const decoded = new WeakMap<Uint8Array, DaPointer>();
  const seen = new SeenCache(1_000);
  return {
    validate(data: Uint8Array): GossipVerdict {
      const c = daPointerChecks(data, reader);
      const verdict = runGossipChecks([c.decodeAndSigner, c.dedup(seen)], log, { topic: "da" });
      if (verdict === "accept") decoded.set(data, c.decoded.get());
      return verdict;
    },
    onMessage(data: Uint8Array): void {
      const p = decoded.get(data);
      if (p === undefined) return;
      if (reader.addPointer(p)) onNew?.(p);
    },
  };
}

/**
 * Asks every connected peer for its `da-head` and records each valid answer in the reader.
 * Returns the newest pointer learned that is newer than what the reader knew, or null.
 */
export async function askDaHead(node: P2PNode, reader: DaReader, log: Logger): Promise<DaPointer | null> {
  const before = reader.headNumber;
  await Promise.all(
    node.peers().map(async (peer) => {
      try {
        const r = await node.request(peer, "daHead", new Uint8Array(0), {
          timeoutMs: 5_000,
          maxResponseBytes: MAX_DA_POINTER_BYTES,
        });
        if (r.code === "ok") reader.addPointer(reader.checkPointer(r.body));
      } catch (err) {
        log.debug({ peer: peer.toString(), err: (err as Error).message }, "da-head request failed");
      }
    }),
  );
  return reader.headNumber > before ? reader.head : null;
}
