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
  for (let n = from + 1; n <= to; n++) {
    const mb = await env.chain.rpc.call<{
      transactions: string[];
      diffSize: number;
      diffCompressedSize: number;
      gossipSize: number;
      txBytes: number;
    } | null>("staccato_getMiniBlockByNumber", [`0x${n.toString(16)}`]);
    if (mb === null) continue;
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
}
