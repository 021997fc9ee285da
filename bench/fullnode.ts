import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Report } from "./report.ts";
import { log } from "./report.ts";
import { RpcClient, toHex } from "./rpc.ts";
import { type Signer, devKey } from "./signer.ts";
import { sleep } from "./targets.ts";
import { WebSocket, metric, startDaemon, stopAllDaemons, stopDaemon } from "./daemons.ts";

/** The full node's apply (and verify) rate against the sequencer's execution rate, from metrics. */
async function fullnodeApplyFigures(report: Report, fnMetrics: string, seqMetrics: string): Promise<void> {
  const m = (name: string) => metric(fnMetrics, name);
  const applied = await m("staccato_fullnode_txs_applied_total");
  const closeS = await m("staccato_fullnode_block_close_seconds_total");
  const applyS = (await m("staccato_fullnode_apply_seconds_sum")) + closeS;
  const storeS = await m("staccato_fullnode_store_write_seconds_total");
  const verifyS = await m("staccato_fullnode_verify_seconds_sum");
  const execS = await metric(seqMetrics, "staccato_sequencer_execution_seconds_total");
  const executed = await metric(seqMetrics, "staccato_sequencer_txs_total");
  if (applyS <= 0 || execS <= 0) throw new Error("no apply or execution time recorded");
  const exec = executed / execS;
  const ms = (x: number) => (x * 1000).toFixed(0);
  log(
    `fullnode: applied ${applied} txs in ${ms(applyS)} ms (${ms(closeS)} of it closing blocks), ` +
      `store writes ${ms(storeS)} ms, verifying ${ms(verifyS)} ms; sequencer executed ${executed} in ${ms(execS)} ms`,
  );
  report.emit("sequencer_execute_tx_per_s", exec, "tx/s");
  const figures: [string, number][] = [
    ["fullnode_apply", applyS],
    ["fullnode_apply_and_store", applyS + storeS],
    ["fullnode_apply_store_and_verify", applyS + storeS + verifyS],
  ];
  for (const [name, seconds] of figures) {
    report.emit(`${name}_tx_per_s`, applied / seconds, "tx/s");
    report.emit(`${name}_vs_execute_ratio`, applied / seconds / exec, "x");
  }
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

/**
 * Full-node figures (issue 3): propagation from the sequencer's seal of a mini-block to a full
 * node having applied it (at a paced 1,000 tx/s), the full node's apply rate against the
 * sequencer's execution rate for the same transactions, and catch-up rates of a new node from
 * genesis and from a snapshot.
 */
export async function fullnodeFigures(report: Report, signer: Signer, txCount: number): Promise<void> {
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
    const perSender = Math.ceil(txCount / senders.length);
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
    const rate = 1000;
    // A fresh connection for the load: signing can take longer than the server keeps an idle one.
    seqRpc.close();
    const sendRpc = new RpcClient(seq.started.rpc as string, { maxSockets: 4, timeoutMs: 10_000 });
    const t0 = performance.now();
    for (let i = 0; i < perSender; i++) {
      const at = t0 + (i * senders.length * 1000) / rate;
      const wait = at - performance.now();
      if (wait > 0) await sleep(wait);
      await sendRpc.batchOk(signed.map((s) => ({ method: "eth_sendRawTransaction", params: [s[i]!] })));
    }
    const total = perSender * senders.length;
    const deadline = Date.now() + 60_000;
    while (
      (await fnRpc.call<string>("eth_getTransactionCount", [devKey(0).address, "latest"])) !==
      toHex(perSender)
    ) {
      if (Date.now() > deadline) throw new Error("the full node did not apply the whole load");
      await sleep(100);
    }
    ws.close();
    lags.sort((a, b) => a - b);
    log(
      `fullnode: propagation over ${lags.length} mini-blocks: p50 ${pct(lags, 50).toFixed(2)} ms, p99 ${pct(lags, 99).toFixed(2)} ms`,
    );
    report.emit("fullnode_propagation_p50", pct(lags, 50), "ms");
    report.emit("fullnode_propagation_p99", pct(lags, 99), "ms");

    // Apply rate (diffs) against execution rate (runTx) for the same transactions. The sequencer's
    // figure is its execution of each mini-block (runTx, diff, hashing, signing) up to its
    // write-ahead-log write, without its block seals. The full node's, likewise: each mini-block's
    // apply plus closing each block's diffs (merge, trie feed), up to its store write. Then the
    // same with the store writes, and with the per-block checks of every root (verify).
    await fullnodeApplyFigures(report, fn.started.metrics as string, seq.started.metrics as string);

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
