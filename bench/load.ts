import type { Hex } from "viem";
import type { Chain, Receipt } from "./chain.ts";
import { balanceOfData, decodeBalance } from "./erc20.ts";
import { sampleCpu } from "./procStats.ts";
import { log } from "./report.ts";
import { RpcClient } from "./rpc.ts";
import type { SignedTx } from "./signer.ts";
import { sleep } from "./targets.ts";
import type { LoadEnv, Workload } from "./workload.ts";

/** Sending pre-signed load, waiting for its inclusion, and checking nothing was dropped. */

export interface SendOptions {
  /** Raw transactions per HTTP request (a JSON-RPC batch); 1 sends plain single requests. */
  batch: number;
  /** HTTP requests in flight. */
  concurrency: number;
}

export interface SendResult {
  startedAt: number;
  finishedAt: number;
  /** CPU the bench process itself used while sending, as a share of one core. */
  benchCpu: number;
}

/**
 * Sends every transaction as fast as the target accepts them: `concurrency` keep-alive
 * connections, each sending the next chunk as soon as the previous answer arrives. Every answer
 * must be the transaction's own hash; any error fails the run (after the rest are sent, so the
 * target is left in a known state).
 */
export async function sendAll(
  rpcUrl: string,
  txs: readonly SignedTx[],
  opts: SendOptions,
): Promise<SendResult> {
  const client = new RpcClient(rpcUrl, { maxSockets: opts.concurrency });
  const errors: string[] = [];
  let errorCount = 0;
  const record = (
    tx: SignedTx,
    result: { ok: true; result: unknown } | { ok: false; error: { message: string } },
  ) => {
    if (result.ok && typeof result.result === "string" && result.result.toLowerCase() === tx.hash) return;
    errorCount++;
    if (errors.length < 3)
      errors.push(result.ok ? `unexpected result ${String(result.result)}` : result.error.message);
  };
  let next = 0;
  const worker = async () => {
    for (;;) {
      const start = next;
      if (start >= txs.length) return;
      next = Math.min(txs.length, start + opts.batch);
      const chunk = txs.slice(start, next);
      try {
        if (opts.batch === 1) {
          const hash = await client.call("eth_sendRawTransaction", [chunk[0]!.raw]);
          record(chunk[0]!, { ok: true, result: hash });
        } else {
          const res = await client.batch(
            chunk.map((t) => ({ method: "eth_sendRawTransaction", params: [t.raw] })),
          );
          for (let i = 0; i < res.length; i++) record(chunk[i]!, res[i]!);
        }
      } catch (err) {
        for (const t of chunk) record(t, { ok: false, error: { message: String(err) } });
      }
    }
  };
  // Every connection is opened before the clock starts, as a wallet's or a backend's would be in
  // steady state: a server under load may accept new connections slowly (Node accepts one per
  // event-loop iteration), and a sender's transactions are spread over all the connections.
  await Promise.all(Array.from({ length: opts.concurrency }, () => client.call("eth_chainId")));
  const startedAt = performance.now();
  const cpu0 = process.cpuUsage();
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  } finally {
    client.close();
  }
  const finishedAt = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const benchCpu = (cpu.user + cpu.system) / 1000 / Math.max(finishedAt - startedAt, 1e-9);
  if (errorCount > 0) {
    throw new Error(`${errorCount} of ${txs.length} sends rejected, e.g. ${errors.join(" | ")}`);
  }
  return { startedAt, finishedAt, benchCpu };
}

/**
 * Polls the receipts of `hashes` (a few per sender: its last transaction) every `pollMs` until
 * all exist, and returns when the last one was seen. Because a sender's transactions are
 * included in nonce order, the last one's receipt means all of them are in. Once a second it
 * also reads the senders' nonces to report progress; if none moves for `stallMs` the run fails
 * (transactions were dropped or the target stopped producing blocks).
 */
export async function waitForInclusion(
  chain: Chain,
  env: LoadEnv,
  work: Workload,
  opts: { pollMs: number; stallMs: number },
): Promise<{ doneAt: number; receipts: Receipt[] }> {
  const client = new RpcClient(chain.target.rpcUrl, { maxSockets: 2 });
  const found = new Map<Hex, Receipt>();
  const total = work.txs.length;
  let lastProgressAt = performance.now();
  let lastIncluded = -1;
  let nextProgressCheck = performance.now() + 1_000;
  try {
    for (;;) {
      const missing = work.lastHashes.filter((h) => !found.has(h));
      const res = await client.batchOk<Receipt | null>(
        missing.map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })),
      );
      const now = performance.now();
      res.forEach((r, i) => {
        if (r !== null) found.set(missing[i]!, r);
      });
      if (found.size === work.lastHashes.length) {
        return { doneAt: now, receipts: work.lastHashes.map((h) => found.get(h)!) };
      }
      if (now >= nextProgressCheck) {
        chain.assertAlive();
        nextProgressCheck = now + 1_000;
        const included = await includedCount(client, env, work);
        if (included !== lastIncluded) {
          lastIncluded = included;
          lastProgressAt = now;
        } else if (now - lastProgressAt > opts.stallMs) {
          throw new Error(
            `stalled: ${included} of ${total} transactions included, none for ${(opts.stallMs / 1000).toFixed(0)} s ` +
              "(dropped transactions or no block production)",
          );
        }
      }
      await sleep(opts.pollMs);
    }
  } finally {
    client.close();
  }
}

/** How many of the workload's transactions are included, from the senders' nonces. */
async function includedCount(client: RpcClient, env: LoadEnv, work: Workload): Promise<number> {
  const nonces = await client.batchOk<Hex>(
    env.senders.map((s) => ({ method: "eth_getTransactionCount", params: [s.address, "latest"] })),
  );
  let remaining = 0;
  nonces.forEach((n, i) => {
    remaining += Math.max(0, work.endNonces[i]! - Number(n));
  });
  return work.txs.length - remaining;
}

/**
 * Untimed checks after a run: every last-per-sender receipt and a random sample of receipts
 * succeeded, every sender's nonce reached its end, the blocks the run spans hold exactly the
 * run's transactions, and (ERC-20) every sender's token balance is what the transfers imply.
 */
export async function verifyRun(
  chain: Chain,
  env: LoadEnv,
  work: Workload,
  lastReceipts: readonly Receipt[],
  start: RunStart,
): Promise<void> {
  const { startBlock } = start;
  const failed = lastReceipts.filter((r) => r.status !== "0x1");
  if (failed.length > 0)
    throw new Error(
      `${failed.length} last-per-sender transactions failed (status != 1; the first, ${failed[0]!.transactionHash}, used ${BigInt(failed[0]!.gasUsed)} gas of ${work.gasPerTx})`,
    );

  const sampleSet = new Set<Hex>();
  while (sampleSet.size < Math.min(256, work.txs.length)) {
    sampleSet.add(work.txs[Math.floor(Math.random() * work.txs.length)]!.hash);
  }
  const sample = [...sampleSet];
  const sampled = await chain.waitReceipts(sample, 10_000);
  const bad = sampled.filter((r) => r.status !== "0x1");
  if (bad.length > 0)
    throw new Error(`${bad.length} of ${sample.length} sampled transactions failed (status != 1)`);

  const lastBlock = Math.max(...lastReceipts.map((r) => Number(r.blockNumber)));
  await chain.waitForBlock(lastBlock, 10_000);
  const nonces = await chain.rpc.batchOk<Hex>(
    env.senders.map((s) => ({ method: "eth_getTransactionCount", params: [s.address, "latest"] })),
  );
  nonces.forEach((n, i) => {
    if (Number(n) !== work.endNonces[i]) {
      throw new Error(`sender ${env.senders[i]!.address} nonce ${Number(n)}, expected ${work.endNonces[i]}`);
    }
  });
  const counted = (await chain.countTxs(startBlock - 1, lastBlock)) - start.txsInStartBlock;
  if (counted !== work.txs.length) {
    throw new Error(
      `blocks ${startBlock}..${lastBlock} hold ${counted} new transactions, sent ${work.txs.length}`,
    );
  }
  if (work.kind === "erc20") {
    const balances = await chain.rpc.batchOk<Hex>(
      env.senders.map((s) => ({
        method: "eth_call",
        params: [{ to: env.token, data: balanceOfData(s.address) }, "latest"],
      })),
    );
    balances.forEach((b, i) => {
      const addr = env.senders[i]!.address;
      const want = env.tokenBalance.get(addr);
      if (decodeBalance(b) !== want)
        throw new Error(`sender ${addr} token balance ${decodeBalance(b)}, expected ${want}`);
    });
  }
  log(
    `${chain.target.name}: verified ${work.txs.length} ${work.kind} txs in blocks ${startBlock}..${lastBlock}`,
  );
}

/**
 * Where a run starts. The run's transactions can land in the current block too (a target may
 * report the block it is still building), so the count check starts there and subtracts what
 * that block already held.
 */
export interface RunStart {
  startBlock: number;
  txsInStartBlock: number;
}

export async function runStart(chain: Chain): Promise<RunStart> {
  const startBlock = await chain.blockNumber();
  return { startBlock, txsInStartBlock: await chain.countTxs(startBlock - 1, startBlock) };
}

/** One timed run: send everything, wait for the last receipt of every sender, verify. tx/s. */
export async function timedRun(
  env: LoadEnv,
  work: Workload,
  opts: SendOptions & { pollMs: number; stallMs: number },
): Promise<{
  txs: number;
  txPerSecond: number;
  submitTxPerSecond: number;
  seconds: number;
  benchCpu: number;
  /** The target's CPU per transaction over the run, in µs: all its threads, and its main one. */
  cpuUsPerTx: number;
  mainCpuUsPerTx: number;
}> {
  const { chain } = env;
  const start = await runStart(chain);
  const cpu0 = sampleCpu(chain.target.pid);
  const sent = await sendAll(chain.target.rpcUrl, work.txs, opts);
  const { doneAt, receipts } = await waitForInclusion(chain, env, work, opts);
  const cpu1 = sampleCpu(chain.target.pid);
  const seconds = (doneAt - sent.startedAt) / 1000;
  const submitSeconds = (sent.finishedAt - sent.startedAt) / 1000;
  await verifyRun(chain, env, work, receipts, start);
  return {
    txs: work.txs.length,
    txPerSecond: work.txs.length / seconds,
    submitTxPerSecond: work.txs.length / submitSeconds,
    seconds,
    benchCpu: sent.benchCpu,
    cpuUsPerTx: ((cpu1.totalMs - cpu0.totalMs) * 1000) / work.txs.length,
    mainCpuUsPerTx: ((cpu1.mainMs - cpu0.mainMs) * 1000) / work.txs.length,
  };
}
