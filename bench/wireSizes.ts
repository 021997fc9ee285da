import { join } from "node:path";
import {
  type DaRef,
  decodeDaBundle,
  decodeSignedMiniBlock,
  DirectoryDaStore,
  miniBlockDiffBytes,
} from "@staccato/common";
import { readDaIndex } from "@staccato/sequencer";
import type { Report } from "./report.ts";
import type { LoadEnv, Workload } from "./workload.ts";

/** Staccato's newest mini-block number. */
export async function latestMiniBlock(env: LoadEnv): Promise<number> {
  return (await env.chain.rpc.call<{ latestMiniBlock: number }>("staccato_status")).latestMiniBlock;
}

const LABEL: Record<Workload["kind"], string> = {
  eth: "eth_transfer",
  erc20: "erc20_transfer",
  swap: "swap",
};

/**
 * Bytes per transaction on the wire for the mini-blocks after `from` (one run's): the state diff
 * alone (its compact encoding, then Brotli as gossiped), the whole gossiped mini-block, and the
 * raw signed transactions; the diff's share of the raw transactions; transactions per
 * mini-block, which sets how much each diff's fixed costs weigh.
 */
export async function wireSizes(
  report: Report,
  env: LoadEnv,
  kind: Workload["kind"],
  from: number,
): Promise<void> {
  const to = await latestMiniBlock(env);
  let txs = 0;
  let miniBlocks = 0;
  let diff = 0;
  let diffEncoded = 0;
  let gossip = 0;
  let txBytes = 0;
  let firstBlock: bigint | null = null;
  let lastBlock = 0n;
  for (let n = from + 1; n <= to; n++) {
    const mb = await env.chain.rpc.call<{
      blockNumber: string;
      transactions: string[];
      diffSize: number;
      diffCompressedSize: number;
      gossipSize: number;
      txBytes: number;
    } | null>("staccato_getMiniBlockByNumber", [`0x${n.toString(16)}`]);
    if (mb === null) continue;
    firstBlock ??= BigInt(mb.blockNumber);
    lastBlock = BigInt(mb.blockNumber);
    miniBlocks++;
    txs += mb.transactions.length;
    diff += mb.diffCompressedSize;
    diffEncoded += mb.diffSize;
    gossip += mb.gossipSize;
    txBytes += mb.txBytes;
  }
  if (txs === 0) return;
  const k = LABEL[kind];
  report.emit(`state_diff_bytes_per_tx.${k}`, diff / txs, "B/tx");
  report.emit(`state_diff_encoded_bytes_per_tx.${k}`, diffEncoded / txs, "B/tx");
  report.emit(`gossip_mini_block_bytes_per_tx.${k}`, gossip / txs, "B/tx");
  report.emit(`raw_tx_bytes_per_tx.${k}`, txBytes / txs, "B/tx");
  report.emit(`state_diff_vs_raw_tx.${k}`, diff / txBytes, "x");
  report.emit(`txs_per_mini_block.${k}`, txs / miniBlocks, "tx");
  const dataDir = env.chain.target.dataDir;
  if (dataDir !== null && firstBlock !== null) await daSizes(report, dataDir, k, firstBlock, lastBlock);
}

/**
 * DA bytes per transaction (DESIGN §7) over the blocks that held the run's mini-blocks, read back
 * from the sequencer's DA directory: the whole bundle as stored, the compressed witness inside
 * it, and the mini-blocks' encoded state diffs (before the bundle's own compression, so an upper
 * bound of their share).
 */
async function daSizes(
  report: Report,
  dataDir: string,
  k: string,
  first: bigint,
  last: bigint,
): Promise<void> {
  const indexPath = join(dataDir, "da-index.log");
  const deadline = Date.now() + 60_000;
  let index = new Map<bigint, DaRef>();
  while (Date.now() < deadline) {
    index = readDaIndex(indexPath).refs;
    if (index.has(last)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (!index.has(last)) throw new Error(`block ${last} was not published to DA within 60 s`);
  const store = new DirectoryDaStore(join(dataDir, "da"));
  let bundle = 0;
  let witness = 0;
  let diff = 0;
  let txs = 0;
  for (let n = first; n <= last; n++) {
    const blob = await store.get(index.get(n)!.commitment);
    const b = decodeDaBundle(blob);
    bundle += blob.length;
    witness += b.witnessCompressed.length;
    for (const enc of b.miniBlocks) {
      const mb = decodeSignedMiniBlock(enc);
      txs += mb.txs.length;
      diff += miniBlockDiffBytes(mb).length;
    }
  }
  if (txs === 0) return;
  report.emit(`da_bundle_bytes_per_tx.${k}`, bundle / txs, "B/tx");
  report.emit(`da_witness_bytes_per_tx.${k}`, witness / txs, "B/tx");
  report.emit(`da_diff_bytes_per_tx.${k}`, diff / txs, "B/tx");
}
