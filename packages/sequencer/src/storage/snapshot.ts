import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { RLP } from "@ethereumjs/rlp";
import { hexToBytes } from "@ethereumjs/util";
import {
  type AccountDiff,
  DIFF_FLAG_CREATED,
  type RlpItem,
  type StateDiff,
  type StateReader,
  big,
  bytes,
  list,
  stateDiffFromRlp,
  stateDiffToRlp,
  u,
} from "@staccato/common";

/**
 * State snapshots bound the write-ahead log's replay: a snapshot holds the whole state as of one
 * sealed block; on restart the log's diffs are applied only after that block (history before it
 * is still read from the log, but not re-applied).
 *
 * File `snapshot-<block>.bin`: u32 crc32(rest) | RLP header [version, block, stateRoot] length-
 * prefixed | then one length-prefixed RLP account record per account (a CREATED state diff
 * entry). Written to a temp file, fsynced, renamed.
 */
const VERSION = 1;
const PREFIX = "snapshot-";

export interface Snapshot {
  blockNumber: bigint;
  stateRoot: Uint8Array;
  diff: StateDiff;
}

/** Serializes the state a reader sees (synchronously, so it is one consistent version). */
export function encodeSnapshot(
  blockNumber: bigint,
  stateRoot: Uint8Array,
  addresses: Iterable<string>,
  view: StateReader,
): Buffer {
  const parts: Uint8Array[] = [];
  const push = (b: Uint8Array) => {
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(b.length, 0);
    parts.push(len, b);
  };
  push(RLP.encode([u(BigInt(VERSION)), u(blockNumber), stateRoot]));
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
  const [version, block, root] = list(RLP.decode(next()) as RlpItem, "snapshot header", 3);
  if (big(version, "version") !== BigInt(VERSION)) throw new Error("unknown snapshot version");
  const diff: StateDiff = [];
  while (off < buf.length) diff.push(...stateDiffFromRlp([RLP.decode(next()) as RlpItem]));
  return { blockNumber: big(block, "block"), stateRoot: bytes(root, "stateRoot", 32), diff };
}

export async function writeSnapshot(
  dir: string,
  blockNumber: bigint,
  data: Buffer,
  keep = 2,
): Promise<string> {
  const path = join(dir, `${PREFIX}${blockNumber}.bin`);
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, "w");
  try {
    await fh.write(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  renameSync(tmp, path);
  const dfd = openSync(dir, "r");
  fsyncSync(dfd);
  closeSync(dfd);
  const old = snapshotFiles(dir).slice(0, -keep);
  for (const f of old) rmSync(join(dir, f.name), { force: true });
  return path;
}

function snapshotFiles(dir: string): { name: string; block: bigint }[] {
  return readdirSync(dir)
    .filter((n) => n.startsWith(PREFIX) && n.endsWith(".bin"))
    .map((name) => ({ name, block: BigInt(name.slice(PREFIX.length, -4)) }))
    .sort((a, b) => (a.block < b.block ? -1 : a.block > b.block ? 1 : 0));
}

/** The newest snapshot that reads back intact, or null; corrupt ones are reported and skipped. */
export function readLatestSnapshot(
  dir: string,
  onCorrupt: (file: string, err: Error) => void,
): Snapshot | null {
  const files = snapshotFiles(dir).reverse();
  for (const f of files) {
    try {
      return decodeSnapshot(readFileSync(join(dir, f.name)));
    } catch (err) {
      onCorrupt(f.name, err as Error);
    }
  }
  return null;
}
