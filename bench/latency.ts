import type { Hex } from "viem";
import type { Receipt } from "./chain.ts";
import { type RunStart, runStart, verifyRun } from "./load.ts";
import { log, percentile } from "./report.ts";
import { METHOD_NOT_FOUND, RpcClient, RpcError } from "./rpc.ts";
import { sleep } from "./targets.ts";
import type { LoadEnv, Workload } from "./workload.ts";

/** Send-to-receipt latency at a fixed offered load, and eth_sendRawTransactionSync latency. */

/** Receipts asked for per poll: the oldest outstanding transactions. */
const PROBE = 16;

export interface LatencyResult {
  p50: number;
  p99: number;
  samples: number;
  offeredTxPerSecond: number;
}

/**
 * Paces pre-signed single-transaction `eth_sendRawTransaction` requests at `rate` tx/s (a 1 ms
 * timer sends whatever is due, so at 1,000 tx/s that is one or two requests per tick), and
 * concurrently polls receipts of the oldest outstanding transactions: every `pollMs` one
 * JSON-RPC batch of `eth_getTransactionReceipt` for the PROBE oldest. When all of them are
 * found, the blocks they name are fetched (`eth_getBlockByNumber`, hashes only) and every
 * outstanding transaction listed there counts as observed too, and the next poll follows at
 * once; so a 1 s block's worth of receipts is observed in one or two round trips instead of
 * ~200 ms of receipt lookups. A transaction's latency runs from just before its send request is
 * written to the arrival of the response that first shows it included, so the resolution is
 * pollMs plus one round trip. Transactions sent during the first `warmupSeconds` are left out.
 */
export async function pacedLatency(
  env: LoadEnv,
  work: Workload,
  opts: { rate: number; pollMs: number; warmupSeconds: number; stallMs: number },
): Promise<LatencyResult> {
  const { chain } = env;
  const txs = work.txs;
  const n = txs.length;
  const sender = new RpcClient(chain.target.rpcUrl, { maxSockets: 64 });
  const poller = new RpcClient(chain.target.rpcUrl, { maxSockets: 1 });
  const sentAt = new Float64Array(n);
  const seenAt = new Float64Array(n);
  const ackAt = new Float64Array(n);
  const indexOf = new Map<Hex, number>(txs.map((t, i) => [t.hash, i]));
  let pending: number[] = [];
  let sent = 0;
  let sendErrors = 0;
  let firstSendError = "";
  let failed = 0;
  const start: RunStart = await runStart(chain);

  let stopped = false;
  const pace = async (t0: number) => {
    while (sent < n && !stopped) {
      const due = Math.min(n, Math.floor(((performance.now() - t0) * opts.rate) / 1000) + 1);
      while (sent < due) {
        const i = sent++;
        pending.push(i);
        sentAt[i] = performance.now();
        sender.call<Hex>("eth_sendRawTransaction", [txs[i]!.raw]).then(
          (h) => {
            ackAt[i] = performance.now();
            if (h.toLowerCase() !== txs[i]!.hash) {
              sendErrors++;
              firstSendError ||= `unexpected hash ${h}`;
            }
          },
          (err: unknown) => {
            sendErrors++;
            firstSendError ||= String(err);
          },
        );
      }
      await sleep(1);
    }
  };

  const poll = async () => {
    let lastFoundAt = performance.now();
    while (sent < n || pending.length > 0) {
      if (sendErrors > 0) return;
      if (pending.length === 0) {
        await sleep(opts.pollMs);
        continue;
      }
      const batch = pending.slice(0, PROBE);
      const res = await poller.batchOk<Receipt | null>(
        batch.map((i) => ({ method: "eth_getTransactionReceipt", params: [txs[i]!.hash] })),
      );
      let now = performance.now();
      let hits = 0;
      const blocks = new Set<Hex>();
      res.forEach((r, k) => {
        if (r === null) return;
        seenAt[batch[k]!] = now;
        if (r.status !== "0x1") failed++;
        blocks.add(r.blockNumber);
        hits++;
      });
      const allHit = hits === batch.length;
      if (allHit && pending.length > batch.length) {
        // The oldest are all in, so younger ones probably are too: read the blocks they landed
        // in (one call each, where fetching a full block's receipts costs ~200 ms on Anvil).
        const found = await poller.batchOk<{ transactions: Hex[] } | null>(
          [...blocks].map((b) => ({ method: "eth_getBlockByNumber", params: [b, false] })),
        );
        now = performance.now();
        for (const block of found) {
          for (const h of block?.transactions ?? []) {
            const i = indexOf.get(h.toLowerCase() as Hex);
            if (i !== undefined && seenAt[i] === 0) seenAt[i] = now;
          }
        }
      }
      if (hits > 0) {
        lastFoundAt = now;
        pending = pending.filter((i) => seenAt[i] === 0);
      } else if (now - lastFoundAt > opts.stallMs) {
        throw new Error(
          `stalled: no receipt for ${(opts.stallMs / 1000).toFixed(0)} s, ${pending.length} outstanding`,
        );
      }
      // After a full hit, poll again at once: more receipts are likely ready.
      if (!allHit || pending.length === 0) await sleep(opts.pollMs);
    }
  };

  const t0 = performance.now();
  try {
    // A failed poller stops the pacer too, instead of leaving it sending for the rest of the run.
    await Promise.all([pace(t0), poll().finally(() => (stopped = true))]);
  } finally {
    sender.close();
    poller.close();
  }
  const sendSeconds = (sentAt[n - 1]! - t0) / 1000;
  if (sendErrors > 0) throw new Error(`${sendErrors} sends rejected, e.g. ${firstSendError}`);
  if (failed > 0) throw new Error(`${failed} transactions failed (status != 1)`);
  const warmupEnd = t0 + opts.warmupSeconds * 1000;
  const latencies: number[] = [];
  for (let i = 0; i < n; i++) if (sentAt[i]! >= warmupEnd) latencies.push(seenAt[i]! - sentAt[i]!);
  const acks: number[] = [];
  for (let i = 0; i < n; i++) if (sentAt[i]! >= warmupEnd && ackAt[i]! > 0) acks.push(ackAt[i]! - sentAt[i]!);
  log(
    `${chain.target.name}: eth_sendRawTransaction answered in p50 ${percentile(acks, 50).toFixed(1)} ms, ` +
      `p99 ${percentile(acks, 99).toFixed(1)} ms`,
  );
  const lastReceipts = await chain.waitReceipts(work.lastHashes, 10_000);
  await verifyRun(chain, env, work, lastReceipts, start);
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    samples: latencies.length,
    offeredTxPerSecond: n / Math.max(sendSeconds, 1e-9),
  };
}

/**
 * Sequential `eth_sendRawTransactionSync` calls from one sender, each signed just before it is
 * sent (so stopping early leaves no nonce gap), until `count` calls or `maxSeconds` elapsed.
 * Returns null when the target does not implement the method.
 */
export async function syncLatency(
  env: LoadEnv,
  opts: { count: number; maxSeconds: number },
): Promise<{ p50: number; p99: number; samples: number } | null> {
  const { chain, signer } = env;
  const key = env.senders[0]!;
  const fees = await chain.fees(21_000n * BigInt(opts.count));
  const client = new RpcClient(chain.target.rpcUrl, { maxSockets: 1 });
  const latencies: number[] = [];
  let lastBlock = 0;
  const deadline = performance.now() + opts.maxSeconds * 1000;
  try {
    for (let i = 0; i < opts.count && performance.now() < deadline; i++) {
      const nonce = await chain.reserveNonces(key, 1);
      const to = env.recipients[i % env.recipients.length]!;
      const [tx] = await signer.sign(
        [{ nonce, to, value: 1n, data: "0x", gas: 21_000n, ...fees }],
        key,
        chain.chainId,
      );
      const t = performance.now();
      let receipt: Receipt;
      try {
        receipt = await client.call<Receipt>("eth_sendRawTransactionSync", [tx!.raw]);
      } catch (err) {
        if (i === 0 && err instanceof RpcError && err.code === METHOD_NOT_FOUND) {
          chain.forgetNonce(key);
          return null;
        }
        throw err;
      }
      latencies.push(performance.now() - t);
      if (receipt?.transactionHash?.toLowerCase() !== tx!.hash) {
        throw new Error(`eth_sendRawTransactionSync returned ${JSON.stringify(receipt).slice(0, 200)}`);
      }
      if (receipt.status !== "0x1") throw new Error(`sync tx ${tx!.hash} failed (status ${receipt.status})`);
      lastBlock = Math.max(lastBlock, Number(receipt.blockNumber));
    }
  } finally {
    client.close();
  }
  // Let the last block seal, so the next figure's block-count check starts from settled blocks.
  if (lastBlock > 0) await chain.waitForBlock(lastBlock, 30_000);
  if (latencies.length < opts.count) {
    log(`${chain.target.name}: ${latencies.length} of ${opts.count} sync calls fit in ${opts.maxSeconds} s`);
  }
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), samples: latencies.length };
}
