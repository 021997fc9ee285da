import { createBlockHeaderFromRLP } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  InlineStateTrie,
  type Logger,
  MAX_GOSSIP_PAYLOAD,
  type P2PNode,
  type P2PNodeInit,
  ReqRespError,
  type SignedMiniBlock,
  type SignedObjects,
  type Snapshot,
  type StateDiff,
  createP2PNode,
  decodeSnapshot,
  encodeNumberRequest,
  encodeRangeRequest,
  snapshotBaseArchived,
  ErrorCode,
  StaccatoError,
} from "@staccato/common";
import type { FullnodeStore } from "../store/fullnodeStore.ts";

/** How long a joining node keeps looking for a peer whose snapshot verifies. */
const JOIN_TIMEOUT_MS = 30_000;
/** How long to let the bootnodes connect before asking the first one that did. */
const BOOTNODE_GRACE_MS = 3_000;
/** The whole snapshot is held in memory to be checked: a peer streaming more than this is lying. */
export const MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;

export class SnapshotJoinError extends StaccatoError {
  constructor(message: string) {
    super(ErrorCode.SnapshotJoin, message, undefined);
  }
}

const READ_DA_HINT =
  "a node that reads DA (--da dir --da-dir <the sequencer's DA dir>, or --da eigenda) joins from genesis and DA instead";

/** A peer that serves no snapshot at all (it answered `unavailable`, or does not speak the protocol). */
class NotServedError extends StaccatoError {
  constructor(message: string) {
    super(ErrorCode.SnapshotJoin, message, undefined);
  }
}

/** How a join ended: from a verified snapshot, or (when it may fall back) with none to be had. */
export type SnapshotJoin = { joined: true } | { joined: false; reason: string };

/**
 * Joins from a state snapshot: downloads a peer's snapshot of its latest sealed block, rebuilds
 * the trie from it, and accepts it only if the root equals the state root in that block's header,
 * signed by the sequencer. A peer whose snapshot is garbage, cut short, oversized or does not
 * verify is skipped and the next one asked: the bootnodes first, in the order given (an operator
 * lists the one it trusts most first), then any other peer, until one verifies or time runs out.
 *
 * It stops looking as soon as every connected peer has said it serves no snapshot (a sequencer with
 * `--no-serve-history` does not, nor do full nodes), or when time runs out. With `fallback` (the
 * node reads DA, so genesis and DA make a complete history) it then returns why, and the node joins
 * from genesis; without it, that is an error naming the way out (read DA), at once rather than
 * after the whole join timeout.
 */
export async function joinFromSnapshot(
  opts: P2PNodeInit,
  deps: { signed: SignedObjects; store: FullnodeStore; common: Common; logger: Logger; fallback: boolean },
): Promise<SnapshotJoin> {
  const log = deps.logger.child({ module: "snapshot-join" });
  const node = await createP2PNode(opts, { logger: deps.logger });
  await node.start();
  try {
    const deadline = Date.now() + JOIN_TIMEOUT_MS;
    const bootnodeIds = opts.bootnodes.map((b) => b.split("/p2p/").at(-1)!);
    let lastError = "no peer connected (check --bootnodes)";
    const tried = new Set<string>();
    /** Peers whose last answer was that they serve no snapshot. */
    const notServing = new Set<string>();
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
        const id = peer.toString();
        tried.add(id);
        try {
          await joinFrom(node, peer, deps, log);
          return { joined: true };
        } catch (err) {
          lastError = `${id}: ${(err as Error).message}`;
          if (err instanceof NotServedError) {
            notServing.add(id);
            log.info({ peer: id, err: (err as Error).message }, "peer serves no snapshot");
          } else {
            notServing.delete(id);
            log.warn({ peer: id, err: (err as Error).message }, "snapshot from peer rejected");
          }
        }
      }
      const noneServe =
        settled && connected.length > 0 && connected.every((p) => notServing.has(p.toString()));
      if (noneServe) {
        lastError = `none of the ${connected.length} connected peers serves state snapshots (last: ${lastError})`;
        if (deps.fallback) return { joined: false, reason: lastError };
        throw new SnapshotJoinError(`--sync snapshot: ${lastError}; ${READ_DA_HINT}`);
      }
      // Every peer tried: try them all again after a pause (one may have been catching up).
      if (settled && candidates.length === 0 && connected.every((p) => tried.has(p.toString())))
        tried.clear();
      await new Promise((r) => setTimeout(r, candidates.length > 0 ? 0 : 500));
    }
    const reason = `no peer served a snapshot that verifies in ${JOIN_TIMEOUT_MS / 1000} s (last: ${lastError})`;
    if (deps.fallback) return { joined: false, reason };
    throw new SnapshotJoinError(`--sync snapshot: ${reason}; ${READ_DA_HINT}`);
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
  let r: Awaited<ReturnType<P2PNode["requestStream"]>>;
  try {
    r = await node.requestStream(peer, "stateSnapshot", new Uint8Array(0), {
      timeoutMs: 300_000,
      maxChunkBytes: 1 << 20,
      maxTotalBytes: MAX_SNAPSHOT_BYTES,
    });
  } catch (err) {
    // A connected peer that cannot open the protocol does not speak it (a full node).
    if (err instanceof ReqRespError && err.reason === "dial-failed") throw new NotServedError(err.message);
    throw err;
  }
  if (r.code === "unavailable") {
    const reason = new TextDecoder().decode(r.body);
    throw new NotServedError(`answered unavailable${reason === "" ? "" : `: ${reason}`}`);
  }
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
  await checkResumePoint(node, peer, snap, deps.signed);
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
    snapshotBaseArchived(header, seal, snap.lastMiniBlockNumber),
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
 * mini-block is an earlier block's, which the seal does not name: checkResumePoint confirms it.)
 */
function checkSnapshotPoint(snap: Snapshot, sealNumber: bigint, miniBlockHashes: Uint8Array[]): void {
  if (sealNumber !== snap.blockNumber)
    throw new Error(`the snapshot names block ${snap.blockNumber}, the seal served is block ${sealNumber}`);
  const last = miniBlockHashes.at(-1);
  if (last !== undefined && !equalsBytes(last, snap.lastMiniBlockHash))
    throw new Error(`the snapshot continues after a mini-block that is not block ${sealNumber}'s last`);
}

/**
 * Confirms the mini-block the node continues after (the snapshot's unsigned resume point) with
 * mini-blocks the sequencer signed, asked of the same peer: mini-block `lastMiniBlockNumber` has
 * the snapshot's `lastMiniBlockHash` and belongs to the snapshot's block or an earlier one, and
 * the next one, when the peer has it, extends it and belongs to a later block. A wrong resume point
 * left the node halted at the first mini-block after the snapshot, for good. A peer that cannot
 * show the first is refused; one that holds back the second (it may really be the newest) can only
 * make the node start from an earlier mini-block, whose successors the follower steps over.
 */
async function checkResumePoint(
  node: P2PNode,
  peer: P2PNode["peerId"],
  snap: Snapshot,
  signed: SignedObjects,
): Promise<void> {
  const last = snap.lastMiniBlockNumber;
  if (last === 0n && !equalsBytes(snap.lastMiniBlockHash, new Uint8Array(32)))
    throw new Error("the snapshot continues after mini-block 0 with a hash that is not zero");
  // Mini-block `last` and the one after it (only the one after when `last` is 0: there is none).
  const from = last === 0n ? 1n : last;
  const r = await node.requestStream(
    peer,
    "miniBlocksByRange",
    encodeRangeRequest(from, last === 0n ? 1 : 2),
    {
      timeoutMs: 10_000,
      maxChunkBytes: MAX_GOSSIP_PAYLOAD,
    },
  );
  if (r.code !== "ok" && last !== 0n)
    throw new Error(`cannot confirm the resume point: mini-block ${last} answered ${r.code}`);
  const got: SignedMiniBlock[] = [];
  if (r.code === "ok") {
    for await (const chunk of r.chunks) {
      got.push(signed.miniBlock(chunk));
      if (got.length === (last === 0n ? 1 : 2)) break;
    }
  }
  let next = got[0];
  if (last !== 0n) {
    const mb = got[0];
    if (mb === undefined || mb.number !== last)
      throw new Error(`cannot confirm the resume point: mini-block ${last} not served`);
    if (!equalsBytes(mb.hash, snap.lastMiniBlockHash))
      throw new Error(
        `the snapshot continues after mini-block ${last} with a hash the sequencer did not sign`,
      );
    if (mb.blockNumber > snap.blockNumber)
      throw new Error(
        `the snapshot continues after mini-block ${last}, which is block ${mb.blockNumber}'s, after the snapshot`,
      );
    next = got[1];
  }
  if (next === undefined) return;
  if (next.number !== last + 1n || !equalsBytes(next.parentHash, snap.lastMiniBlockHash))
    throw new Error(`mini-block ${next.number} served after the resume point does not extend it`);
  if (next.blockNumber <= snap.blockNumber)
    throw new Error(
      `the snapshot continues after mini-block ${last}, but mini-block ${next.number} is still block ${next.blockNumber}'s`,
    );
}
