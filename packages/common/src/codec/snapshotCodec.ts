import { crc32 } from "node:zlib";
import { RLP } from "@ethereumjs/rlp";
import { hexToBytes } from "@ethereumjs/util";
import type { StateReader } from "../state/memoryState.ts";
import { type AccountDiff, DIFF_FLAG_CREATED, type StateDiff } from "../state/stateDiff.ts";
import { stateDiffFromRlp, stateDiffToRlp } from "./chainCodec.ts";
import { type RlpItem, big, bytes, list, u } from "./rlpUtil.ts";

/**
 * A whole-state snapshot as of one sealed block: the sequencer's restart point and what a new
 * full node joins from (`state-snapshot` req/resp). Layout: u32 crc32(rest) | length-prefixed RLP
 * header [version, block, stateRoot, lastMiniBlockNumber, lastMiniBlockHash] | one length-prefixed
 * RLP account record per account (a CREATED state-diff entry). Verified by rebuilding the trie and
 * comparing with the block's signed stateRoot.
 */
const VERSION = 2;

export interface Snapshot {
  blockNumber: bigint;
  stateRoot: Uint8Array;
  /** The newest mini-block included (0 and the zero hash if none): a joiner continues after it. */
  lastMiniBlockNumber: bigint;
  lastMiniBlockHash: Uint8Array;
  diff: StateDiff;
}

/** Serializes the state a reader sees (synchronously, so it is one consistent version). */
export function encodeSnapshot(
  at: Omit<Snapshot, "diff">,
  addresses: Iterable<string>,
  view: StateReader,
): Buffer {
  const parts: Uint8Array[] = [];
  const push = (b: Uint8Array) => {
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(b.length, 0);
    parts.push(len, b);
  };
  push(
    RLP.encode([
      u(BigInt(VERSION)),
      u(at.blockNumber),
      at.stateRoot,
      u(at.lastMiniBlockNumber),
      at.lastMiniBlockHash,
    ]),
  );
  for (const addr of addresses) {
    const a = view.account(addr);
    if (a === undefined) continue;
    const d: AccountDiff = {
      address: hexToBytes(addr as `0x${string}`),
      flags: DIFF_FLAG_CREATED,
      nonce: a.nonce,
      balance: a.balance,
      code: view.code(addr),
      storage: [...(view.slots(addr) ?? [])].map(([k, v]) => [hexToBytes(k as `0x${string}`), v]),
    };
    push(RLP.encode(stateDiffToRlp([d])[0]!));
  }
  const body = Buffer.concat(parts);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(crc32(body), 0);
  body.copy(out, 4);
  return out;
}

export function decodeSnapshot(buf: Buffer): Snapshot {
  if (buf.length < 8 || crc32(buf.subarray(4)) !== buf.readUInt32BE(0))
    throw new Error("snapshot checksum mismatch");
  let off = 4;
  const next = (): Uint8Array => {
    const len = buf.readUInt32BE(off);
    const b = buf.subarray(off + 4, off + 4 + len);
    off += 4 + len;
    return b;
  };
  const [version, block, root, mbNumber, mbHash] = list(RLP.decode(next()) as RlpItem, "snapshot header", 5);
  if (big(version, "version") !== BigInt(VERSION)) throw new Error("unknown snapshot version");
  const diff: StateDiff = [];
  while (off < buf.length) diff.push(...stateDiffFromRlp([RLP.decode(next()) as RlpItem]));
  return {
    blockNumber: big(block, "block"),
    stateRoot: bytes(root, "stateRoot", 32),
    lastMiniBlockNumber: big(mbNumber, "lastMiniBlockNumber"),
    lastMiniBlockHash: bytes(mbHash, "lastMiniBlockHash", 32),
    diff,
  };
}
