import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Report, Report as ReportClass, log } from "./report.ts";
import { RpcClient, toHex } from "./rpc.ts";
import { type Signer, devKey, nativeSigner } from "./signer.ts";
import { sleep } from "./targets.ts";
import { Chain } from "./chain.ts";
import { type Daemon, WebSocket, metric, startDaemon, stopAllDaemons, stopDaemon } from "./daemons.ts";
import { prepareTarget } from "./setup.ts";
import { buildWorkload } from "./workload.ts";

/** The counters the apply and execution rates are computed from, read at one moment. */
interface RateCounters {
  applied: number;
  closeS: number;
  applyS: number;
  storeS: number;
  verifyS: number;
  execS: number;
  executed: number;
}

async function rateCounters(fnMetrics: string, seqMetrics: string): Promise<RateCounters> {
  const m = (name: string) => metric(fnMetrics, name);
  return {
    applied: await m("staccato_fullnode_txs_applied_total"),
    closeS: await m("staccato_fullnode_block_close_seconds_total"),
    applyS: await m("staccato_fullnode_apply_seconds_sum"),
    storeS: await m("staccato_fullnode_store_write_seconds_total"),
    verifyS: await m("staccato_fullnode_verify_seconds_sum"),
    execS: await metric(seqMetrics, "staccato_sequencer_execution_seconds_total"),
    executed: await metric(seqMetrics, "staccato_sequencer_txs_total"),
  };
}

/**
 * The full node's apply (and verify) rate against the sequencer's execution rate for the
 * transactions of one workload: the counters' growth since `before`.
 */
function fullnodeApplyFigures(report: Report, kind: string, before: RateCounters, after: RateCounters): void {
  const d = (k: keyof RateCounters) => after[k] - before[k];
  const applied = d("applied");
  const closeS = d("closeS");
  const applyS = d("applyS") + closeS;
  const storeS = d("storeS");
  const verifyS = d("verifyS");
  const execS = d("execS");
  const executed = d("executed");
  if (applyS <= 0 || execS <= 0) throw new Error(`${kind}: no apply or execution time recorded`);
  const exec = executed / execS;
  const ms = (x: number) => (x * 1000).toFixed(0);
  log(
    `fullnode (${kind}): applied ${applied} txs in ${ms(applyS)} ms (${ms(closeS)} of it closing blocks), ` +
      `store writes ${ms(storeS)} ms, verifying ${ms(verifyS)} ms; sequencer executed ${executed} in ${ms(execS)} ms`,
  );
  report.emit(`sequencer_execute_tx_per_s.${kind}`, exec, "tx/s");
  const figures: [string, number][] = [
    ["fullnode_apply", applyS],
    ["fullnode_apply_and_store", applyS + storeS],
    ["fullnode_apply_store_and_verify", applyS + storeS + verifyS],
  ];
  for (const [name, seconds] of figures) {
    report.emit(`${name}_tx_per_s.${kind}`, applied / seconds, "tx/s");
    report.emit(`${name}_vs_execute_ratio.${kind}`, applied / seconds / exec, "x");
  }
}

/** Sends pre-signed transactions, one JSON-RPC batch per round, at `rate` tx/s. */
async function paced(rpc: RpcClient, rounds: string[][], rate: number): Promise<void> {
  const t0 = performance.now();
  let sent = 0;
  for (const round of rounds) {
    const at = t0 + (sent * 1000) / rate;
    const wait = at - performance.now();
    if (wait > 0) await sleep(wait);
    await rpc.batchOk(round.map((raw) => ({ method: "eth_sendRawTransaction", params: [raw] })));
    sent += round.length;
  }
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

/**
 * Full-node figures (issue 3): propagation from the sequencer's seal of a mini-block to a full
 * node having applied it (at a paced 1,000 tx/s), the full node's apply rate against the
 * sequencer's execution rate for the same transactions, and catch-up rates of a new node from
 * genesis and from a snapshot.
 */
export async function fullnodeFigures(
  report: Report,
  signer: Signer,
  txCount: number,
  warmupTxs = 3_000,
): Promise<void> {
  const dirs = [mkdtempSync(join(tmpdir(), "bench-seq-")), mkdtempSync(join(tmpdir(), "bench-fn-"))];
  try {
    const seq = await startDaemon(
      "packages/sequencer/src/cli.ts",
      [
        "--dev",
        "--data-dir",
        dirs[0]!,
        "--rpc-port",
        "0",
        "--metrics-port",
        "0",
        "--p2p-listen",
        "/ip4/127.0.0.1/tcp/0",
      ],
      "sequencer started",
    );
    const seqRpc = new RpcClient(seq.started.rpc as string, { maxSockets: 4, timeoutMs: 10_000 });
    const boot = (seq.started.p2p as string[])[0]!;
    const fnArgs = (dir: string) => [
      "--chain",
      join(dirs[0]!, "chain.json"),
      "--data-dir",
      dir,
      "--rpc-port",
      "0",
      "--metrics-port",
      "0",
      "--p2p-listen",
      "/ip4/127.0.0.1/tcp/0",
      "--bootnodes",
      boot,
      "--sequencer-rpc",
      seq.started.rpc as string,
    ];
    const fn = await startDaemon("packages/fullnode/src/cli.ts", fnArgs(dirs[1]!), "fullnode started");
    const fnRpc = new RpcClient(fn.started.rpc as string, { maxSockets: 1, timeoutMs: 10_000 });

    // Propagation: the full node's miniBlocks subscription fires when it has applied one.
    const lags: number[] = [];
    const ws = new WebSocket((fn.started.ws as string) ?? (fn.started.rpc as string).replace("http", "ws"));
    await new Promise((r, j) => {
      ws.once("open", r);
      ws.once("error", j);
    });
    ws.on("message", (data) => {
      const m = JSON.parse(String(data)) as { params?: { result?: { timestampUs: string } } };
      const ts = m.params?.result?.timestampUs;
      if (ts !== undefined)
        lags.push(((performance.timeOrigin + performance.now()) * 1000 - Number(BigInt(ts))) / 1000);
    });
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["miniBlocks"] }));

    // A paced load of pre-signed transfers from the dev accounts.
    const chainId = BigInt(await seqRpc.call<string>("eth_chainId"));
    const senders = Array.from({ length: 10 }, (_, i) => devKey(i));
    // The measured load comes after `warmupTxs` more (below).
    const warmRounds = Math.ceil(warmupTxs / senders.length);
    const perSender = warmRounds + Math.ceil(txCount / senders.length);
    const signed: string[][] = [];
    for (const k of senders) {
      const txs = Array.from({ length: perSender }, (_, n) => ({
        nonce: n,
        to: devKey(19).address,
        value: 1n,
        data: "0x" as const,
        gas: 21_000n,
        maxFeePerGas: 100_000_000_000n,
        maxPriorityFeePerGas: 1_000_000n,
      }));
      signed.push((await signer.sign(txs, k, chainId)).map((t) => t.raw));
    }
    // A fresh connection for the load: signing can take longer than the server keeps an idle one.
    seqRpc.close();
    const sendRpc = new RpcClient(seq.started.rpc as string, { maxSockets: 4, timeoutMs: 10_000 });
    const counters = () => rateCounters(fn.started.metrics as string, seq.started.metrics as string);
    const rounds = Array.from({ length: perSender }, (_, i) => signed.map((s) => s[i]!));
    /** Sends `part` of the rounds at 1,000 tx/s and waits until the full node has applied them. */
    const load = async (part: string[][], through: number) => {
      await paced(sendRpc, part, 1000);
      const deadline = Date.now() + 60_000;
      while (
        (await fnRpc.call<string>("eth_getTransactionCount", [devKey(0).address, "latest"])) !==
        toHex(through)
      ) {
        if (Date.now() > deadline) throw new Error("the full node did not apply the whole load");
        await sleep(100);
      }
    };
    // Both daemons are fresh processes: their first few thousand transactions run while V8 is
    // still compiling the hot paths. The figures are for a running node, so the first part of the
    // load warms both up; its own figures are reported apart (suffix `.eth_transfer_warmup`).
    const beforeWarm = await counters();
    await load(rounds.slice(0, warmRounds), warmRounds);
    const beforeEth = await counters();
    lags.length = 0;
    await load(rounds.slice(warmRounds), perSender);
    let total = perSender * senders.length;
    ws.close();
    lags.sort((a, b) => a - b);
    log(
      `fullnode: propagation over ${lags.length} mini-blocks: p50 ${pct(lags, 50).toFixed(2)} ms, p99 ${pct(lags, 99).toFixed(2)} ms`,
    );
    report.emit("fullnode_propagation_p50", pct(lags, 50), "ms");
    report.emit("fullnode_propagation_p99", pct(lags, 99), "ms");

    // Apply rate (diffs) against execution rate for the same transactions. The sequencer's figure
    // is its execution of each mini-block (the transactions, diff, hashing, signing) up to its
    // write-ahead-log write, without its block seals. The full node's, likewise: each mini-block's
    // apply plus closing each block's diffs (merge, trie feed), up to its store write. Then the
    // same with the store writes, and with the per-block checks of every root (verify). Plain ETH
    // transfers are the cheapest to execute (a few state updates, no EVM); ERC-20 transfers run
    // the EVM, at 500 tx/s (a third of the sequencer's ERC-20 capacity here).
    if (warmRounds > 0) fullnodeApplyFigures(report, "eth_transfer_warmup", beforeWarm, beforeEth);
    fullnodeApplyFigures(report, "eth_transfer", beforeEth, await counters());
    const erc20Count = Math.min(5_000, Math.ceil(txCount / 2));
    await erc20Load(report, seq, sendRpc, fnRpc, counters, erc20Count, signer);
    total += erc20Count;

    // Catch-up: new nodes, from genesis and from a snapshot, until they have the head block.
    const head = BigInt(await sendRpc.call<string>("eth_blockNumber"));
    for (const mode of ["genesis", "snapshot"] as const) {
      const dir = mkdtempSync(join(tmpdir(), `bench-fn-${mode}-`));
      dirs.push(dir);
      const started = performance.now();
      const node = await startDaemon(
        "packages/fullnode/src/cli.ts",
        [...fnArgs(dir), "--sync", mode],
        "fullnode started",
      );
      const rpc = new RpcClient(node.started.rpc as string, { maxSockets: 1, timeoutMs: 10_000 });
      while (BigInt(await rpc.call<string>("eth_blockNumber")) < head) await sleep(20);
      const s = (performance.now() - started) / 1000;
      log(`fullnode: caught up ${head} blocks / ${total} txs from ${mode} in ${s.toFixed(2)} s`);
      report.emit(`fullnode_catchup_${mode}_blocks_per_s`, Number(head) / s, "blocks/s");
      if (mode === "genesis") report.emit(`fullnode_catchup_${mode}_tx_per_s`, total / s, "tx/s");
      report.emit(`fullnode_catchup_${mode}_seconds`, s, "s");
      rpc.close();
      await stopDaemon(node);
    }
    fnRpc.close();
    sendRpc.close();
    await stopDaemon(fn);
    await stopDaemon(seq);
  } finally {
    await stopAllDaemons();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** ERC-20 transfers through the same sequencer and full node, paced, then their apply figures. */
async function erc20Load(
  report: Report,
  seq: Daemon,
  sendRpc: RpcClient,
  fnRpc: RpcClient,
  counters: () => Promise<RateCounters>,
  n: number,
  signer: Signer,
): Promise<void> {
  const chain = await Chain.connect({
    name: "staccato",
    rpcUrl: seq.started.rpc as string,
    pid: seq.child.pid ?? 0,
    dataDir: null,
    exitReason: () =>
      seq.child.exitCode === null ? null : `sequencer exited with code ${seq.child.exitCode}`,
    stop: async () => {},
  });
  try {
    const env = await prepareTarget(chain, signer, 10);
    const load = await buildWorkload(env, "erc20", n);
    const before = await counters();
    const perRound = env.senders.length;
    const rounds: string[][] = [];
    for (let i = 0; i < load.txs.length; i += perRound)
      rounds.push(load.txs.slice(i, i + perRound).map((t) => t.raw));
    await paced(sendRpc, rounds, 500);
    // Applied on the full node: every sender's last transaction has a receipt there.
    const deadline = Date.now() + 120_000;
    for (const h of load.lastHashes) {
      while ((await fnRpc.call<unknown>("eth_getTransactionReceipt", [h])) === null) {
        if (Date.now() > deadline) throw new Error("the full node did not apply the ERC-20 load");
        await sleep(100);
      }
    }
    fullnodeApplyFigures(report, "erc20_transfer", before, await counters());
  } finally {
    chain.close();
  }
}

// `node --import tsx bench/fullnode.ts`: these figures alone (BENCH_FULLNODE_TX transfers, 10,000).
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await fullnodeFigures(
    new ReportClass(),
    nativeSigner,
    Number(process.env.BENCH_FULLNODE_TX ?? 10_000),
    Number(process.env.BENCH_FULLNODE_WARMUP_TX ?? 3_000),
  );
  process.exit(0);
}
