import { createBlockHeaderFromRLP } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  InlineStateTrie,
  type Logger,
  type P2PNode,
  type P2PNodeInit,
  type Snapshot,
  type StateDiff,
  createP2PNode,
  decodeSnapshot,
  encodeNumberRequest,
} from "@staccato/common";
import type { SignedObjects } from "../network/fullnodeNetwork.ts";
import type { FullnodeStore } from "../store/fullnodeStore.ts";

/** How long a joining node keeps looking for a peer whose snapshot verifies. */
const JOIN_TIMEOUT_MS = 30_000;
/** How long to let the bootnodes connect before asking the first one that did. */
const BOOTNODE_GRACE_MS = 3_000;
/** The whole snapshot is held in memory to be checked: a peer streaming more than this is lying. */
export const MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;

export class SnapshotJoinError extends Error {}

/**
 * Joins from a state snapshot: downloads a peer's snapshot of its latest sealed block, rebuilds
 * the trie from it, and accepts it only if the root equals the state root in that block's header,
 * signed by the sequencer. A peer whose snapshot is garbage, cut short, oversized or does not
 * verify is skipped and the next one asked: the bootnodes first, in the order given (an operator
 * lists the one it trusts most first), then any other peer, until one verifies or time runs out.
 */
export async function joinFromSnapshot(
  opts: P2PNodeInit,
  deps: { signed: SignedObjects; store: FullnodeStore; common: Common; logger: Logger },
): Promise<void> {
  const log = deps.logger.child({ module: "snapshot-join" });
  const node = await createP2PNode(opts, { logger: deps.logger });
  await node.start();
  try {
    const deadline = Date.now() + JOIN_TIMEOUT_MS;
    const bootnodeIds = opts.bootnodes.map((b) => b.split("/p2p/").at(-1)!);
    let lastError = "no peer connected (check --bootnodes)";
    const tried = new Set<string>();
    let firstPeerAt = 0;
    while (Date.now() < deadline) {
      const connected = node.peers();
      if (connected.length > 0 && firstPeerAt === 0) firstPeerAt = Date.now();
      const allBootnodes = bootnodeIds.every((id) => connected.some((p) => p.toString() === id));
      const settled = firstPeerAt > 0 && (allBootnodes || Date.now() - firstPeerAt > BOOTNODE_GRACE_MS);
      const rank = (p: (typeof connected)[number]) => {
        const i = bootnodeIds.indexOf(p.toString());
        return i === -1 ? bootnodeIds.length : i;
      };
      const candidates = settled
        ? connected.filter((p) => !tried.has(p.toString())).sort((a, b) => rank(a) - rank(b))
        : [];
      for (const peer of candidates) {
        tried.add(peer.toString());
        try {
          await joinFrom(node, peer, deps, log);
          return;
        } catch (err) {
          lastError = `${peer.toString()}: ${(err as Error).message}`;
          log.warn({ peer: peer.toString(), err: (err as Error).message }, "snapshot from peer rejected");
        }
      }
      // Every peer tried: try them all again after a pause (one may have been catching up).
      if (settled && candidates.length === 0 && connected.every((p) => tried.has(p.toString())))
        tried.clear();
      await new Promise((r) => setTimeout(r, candidates.length > 0 ? 0 : 500));
    }
    throw new SnapshotJoinError(
      `--sync snapshot: no peer served a snapshot that verifies (last: ${lastError})`,
    );
  } finally {
    await node.stop();
  }
}

async function joinFrom(
  node: P2PNode,
  peer: P2PNode["peerId"],
  deps: { signed: SignedObjects; store: FullnodeStore; common: Common },
  log: Logger,
): Promise<void> {
  const r = await node.requestStream(peer, "stateSnapshot", new Uint8Array(0), {
    timeoutMs: 300_000,
    maxChunkBytes: 1 << 20,
    maxTotalBytes: MAX_SNAPSHOT_BYTES,
  });
  if (r.code !== "ok") throw new Error(`answered ${r.code}`);
  const chunks: Uint8Array[] = [];
  for await (const c of r.chunks) chunks.push(c);
  const snap = decodeSnapshot(Buffer.concat(chunks));
  const b = await node.request(peer, "blockByNumber", encodeNumberRequest(snap.blockNumber), {
    timeoutMs: 10_000,
    maxResponseBytes: 1 << 20,
  });
  if (b.code !== "ok") throw new Error(`block ${snap.blockNumber}: answered ${b.code}`);
  const { seal, number } = deps.signed.block(b.body);
  const header = createBlockHeaderFromRLP(seal.header, {
    common: deps.common,
    skipConsensusFormatValidation: true,
  });
  checkSnapshotPoint(snap, number, seal.miniBlockHashes);
  const trie = new InlineStateTrie();
  trie.add(snap.diff as StateDiff);
  const { root } = await trie.commit();
  if (!equalsBytes(root, header.stateRoot) || !equalsBytes(root, snap.stateRoot)) {
    throw new Error(
      `the snapshot hashes to ${bytesToHex(root)}, but block ${snap.blockNumber} has state root ${bytesToHex(header.stateRoot)}`,
    );
  }
  await deps.store.resetToSnapshot(
    snap.diff,
    {
      verifiedBlock: snap.blockNumber,
      lastMiniBlockNumber: snap.lastMiniBlockNumber,
      lastMiniBlockHash: snap.lastMiniBlockHash,
      baseBlock: snap.blockNumber,
    },
    b.body,
  );
  log.info(
    {
      peer: peer.toString(),
      block: Number(snap.blockNumber),
      accounts: snap.diff.length,
      root: bytesToHex(root),
    },
    "joined from a verified state snapshot",
  );
}

/**
 * What the signed seal can confirm of the snapshot's unsigned header: the block it names, and the
 * mini-block the node continues after when that block has any. (When it has none, the newest
 * mini-block is an earlier block's, which the seal does not name.)
 */
function checkSnapshotPoint(snap: Snapshot, sealNumber: bigint, miniBlockHashes: Uint8Array[]): void {
  if (sealNumber !== snap.blockNumber)
    throw new Error(`the snapshot names block ${snap.blockNumber}, the seal served is block ${sealNumber}`);
  const last = miniBlockHashes.at(-1);
  if (last !== undefined && !equalsBytes(last, snap.lastMiniBlockHash))
    throw new Error(`the snapshot continues after a mini-block that is not block ${sealNumber}'s last`);
}
