import { mkdtempSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { balanceOfData, deployData, transferData } from "./erc20.ts";
import { type Daemon, startDaemon, stopAllDaemons, stopDaemon } from "./daemons.ts";
import { sampleMemory } from "./procStats.ts";
import { type Report, Report as ReportClass, log } from "./report.ts";
import { RpcClient, toHex } from "./rpc.ts";
import { type Signer, chooseSigner, devKey } from "./signer.ts";
import { sleep } from "./targets.ts";

/**
 * Chain data that lasts (issue 14): a sequencer and a full node under a long stream of ETH and
 * ERC-20 transfers. Figures: RSS of both after 20k and after the whole history (default 200k
 * transactions, `BENCH_HISTORY_TX`) and the growth per 100k; the full node's disk bytes per
 * transaction (archive: blocks, indexes and change sets); historical eth_getBalance and eth_call
 * latency at random old blocks against the latest block, and eth_getProof's; the full node's restart time.
 */

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const SENDERS = 16;
const BATCH = 200;
/** The least --history-retention allows: shorter than the run, so the pruned disk stops growing. */
const PRUNED_RETENTION = 257;

function duBytes(dir: string): number {
  return Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split("\t")[0]);
}

export async function historyFigures(report: Report, signer: Signer, total: number): Promise<void> {
  const dirs = [
    mkdtempSync(join(tmpdir(), "bench-hist-seq-")),
    mkdtempSync(join(tmpdir(), "bench-hist-fn-")),
    mkdtempSync(join(tmpdir(), "bench-hist-pruned-")),
  ];
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
    const fnArgs = [
      "--chain",
      join(dirs[0]!, "chain.json"),
      "--data-dir",
      dirs[1]!,
      "--rpc-port",
      "0",
      "--metrics-port",
      "0",
      "--p2p-listen",
      "/ip4/127.0.0.1/tcp/0",
      "--bootnodes",
      (seq.started.p2p as string[])[0]!,
      "--sequencer-rpc",
      seq.started.rpc as string,
    ];
    let fn: Daemon = await startDaemon("packages/fullnode/src/cli.ts", fnArgs, "fullnode started");
    // A pruned full node beside the archive one: geth's 128 blocks of state, 257 blocks of history.
    const prunedArgs = fnArgs.map((a) => (a === dirs[1] ? dirs[2]! : a));
    prunedArgs.push("--state-history", "128", "--history-retention", String(PRUNED_RETENTION));
    const pruned = await startDaemon("packages/fullnode/src/cli.ts", prunedArgs, "fullnode started");
    const seqRpc = new RpcClient(seq.started.rpc as string, { maxSockets: 4, timeoutMs: 30_000 });
    const chainId = BigInt(await seqRpc.call<string>("eth_chainId"));

    // An ERC-20 to call at past blocks, and its holders.
    const owner = devKey(0);
    const [deploy] = await signer.sign(
      [
        {
          nonce: 0,
          to: null,
          value: 0n,
          data: deployData(10n ** 30n),
          gas: 3_000_000n,
          maxFeePerGas: 100_000_000_000n,
          maxPriorityFeePerGas: 1_000_000n,
        },
      ],
      owner,
      chainId,
    );
    const deployed = await seqRpc.call<{ contractAddress: string }>("eth_sendRawTransactionSync", [
      deploy!.raw,
      10_000,
    ]);
    const token = deployed.contractAddress as `0x${string}`;
    let ownerNonce = 1;

    const mem = (d: Daemon) => sampleMemory(d.child.pid!).rssMb;
    const senders = Array.from({ length: SENDERS }, (_, i) => devKey(i + 1));
    // Derived once: deriving a key from the mnemonic takes milliseconds.
    const recipient = devKey(19).address;
    const holder = devKey(18).address;
    const nonces = senders.map(() => 0);
    let sent = 0;
    void ownerNonce;
    /**
     * Sends `n` more transfers (an ERC-20 transfer among every ~200) as fast as the sequencer
     * takes them: each sender's transactions are signed in one call first (signing has a fixed
     * cost per call), then sent in JSON-RPC batches of 200, senders interleaved.
     */
    const stream = async (n: number) => {
      const per = Math.ceil(n / SENDERS);
      const firstNonce = nonces[0]!;
      const signed: string[][] = [];
      for (const [i, k] of senders.entries()) {
        const txs = Array.from({ length: per }, () => ({
          nonce: nonces[i]!++,
          to: recipient,
          value: 1n,
          data: "0x" as const,
          gas: 21_000n,
          maxFeePerGas: 100_000_000_000n,
          maxPriorityFeePerGas: 1_000_000n,
        }));
        signed.push((await signer.sign(txs, k, chainId)).map((t) => t.raw));
      }
      const rounds = Math.ceil(per / (BATCH / SENDERS));
      const erc = (
        await signer.sign(
          Array.from({ length: rounds }, () => ({
            nonce: ownerNonce++,
            to: token,
            value: 0n,
            data: transferData(holder, 1n),
            gas: 100_000n,
            maxFeePerGas: 100_000_000_000n,
            maxPriorityFeePerGas: 1_000_000n,
          })),
          owner,
          chainId,
        )
      ).map((t) => t.raw);
      const step = BATCH / SENDERS;
      // A fresh connection: signing can take longer than the server keeps an idle one open.
      const sendRpc = new RpcClient(seq.started.rpc as string, { maxSockets: 4, timeoutMs: 30_000 });
      for (let r = 0; r < rounds; r++) {
        const round = signed.flatMap((list) => list.slice(r * step, (r + 1) * step));
        round.push(erc[r]!);
        await sendRpc.batchOk(round.map((raw) => ({ method: "eth_sendRawTransaction", params: [raw] })));
        sent += round.length;
        // Keep the pool shallow: wait while the sequencer is far behind what was sent (all of the
        // stream is signed already, so `nonces` is ahead of what was sent).
        const sentNonce = firstNonce + Math.min(per, (r + 1) * step);
        while (
          sentNonce -
            Number(
              BigInt(await sendRpc.call<string>("eth_getTransactionCount", [senders[0]!.address, "latest"])),
            ) >
          20_000 / SENDERS
        )
          await sleep(20);
      }
      sendRpc.close();
      // Until both full nodes have it all.
      const want = toHex(nonces[0]!);
      for (const d of [fn, pruned]) {
        const fnRpc = new RpcClient(d.started.rpc as string, { maxSockets: 1, timeoutMs: 30_000 });
        while (
          (await fnRpc.call<string>("eth_getTransactionCount", [senders[0]!.address, "latest"])) !== want
        )
          await sleep(100);
        fnRpc.close();
      }
    };

    const checkpoints = [20_000, 200_000, total].filter((n, i, a) => a.indexOf(n) === i && n <= total);
    const rss: { txs: number; seq: number; fn: number; pruned: number }[] = [];
    for (const at of checkpoints) {
      const started = performance.now();
      await stream(at - sent);
      await sleep(2_000); // let the last blocks seal and settle
      const r = { txs: sent, seq: mem(seq), fn: mem(fn), pruned: mem(pruned) };
      rss.push(r);
      log(
        `history: ${sent} txs (${((at / (performance.now() - started)) * 1000).toFixed(0)} tx/s): sequencer RSS ${r.seq.toFixed(0)} MB, full node ${r.fn.toFixed(0)} MB (pruned: ${r.pruned.toFixed(0)} MB)`,
      );
      report.emit(`history_rss_sequencer_mb.after_${at}_txs`, r.seq, "MB");
      report.emit(`history_rss_fullnode_mb.after_${at}_txs`, r.fn, "MB");
      report.emit(`history_rss_fullnode_pruned_mb.after_${at}_txs`, r.pruned, "MB");
      report.emit(`history_fullnode_disk_mb.after_${at}_txs`, duBytes(dirs[1]!) / 2 ** 20, "MB");
      report.emit(`history_fullnode_pruned_disk_mb.after_${at}_txs`, duBytes(dirs[2]!) / 2 ** 20, "MB");
    }
    if (rss.length >= 2) {
      const a = rss[0]!;
      const b = rss[rss.length - 1]!;
      const per100k = (x: number, y: number) => ((y - x) / (b.txs - a.txs)) * 100_000;
      report.emit("history_rss_growth_sequencer_mb_per_100k_txs", per100k(a.seq, b.seq), "MB");
      report.emit("history_rss_growth_fullnode_mb_per_100k_txs", per100k(a.fn, b.fn), "MB");
      report.emit("history_rss_growth_fullnode_pruned_mb_per_100k_txs", per100k(a.pruned, b.pruned), "MB");
    }
    report.emit("history_fullnode_disk_bytes_per_tx", duBytes(dirs[1]!) / sent, "B");
    // Pruned: what it keeps is bounded (the per-checkpoint sizes above stop growing), so per
    // transaction of the whole chain it falls with the chain's length.
    report.emit("history_fullnode_pruned_disk_bytes_per_tx", duBytes(dirs[2]!) / sent, "B");
    await stopDaemon(pruned);

    // Historical reads: random old blocks against the latest.
    const fnRpc = new RpcClient(fn.started.rpc as string, { maxSockets: 1, timeoutMs: 30_000 });
    const latest = BigInt(await fnRpc.call<string>("eth_blockNumber"));
    const probe = async (name: string, call: (tag: string) => Promise<unknown>, rounds = 400) => {
      const times: Record<"latest" | "old", number[]> = { latest: [], old: [] };
      for (let i = 0; i < rounds; i++) {
        const old = toHex(1n + BigInt(Math.floor(Math.random() * Number(latest - 1n))));
        for (const [k, tag] of [
          ["latest", "latest"],
          ["old", old],
        ] as const) {
          const t0 = performance.now();
          await call(tag);
          times[k].push(performance.now() - t0);
        }
      }
      for (const k of ["latest", "old"] as const) {
        const xs = times[k].sort((x, y) => x - y);
        report.emit(`history_${name}_${k}_p50`, pct(xs, 50), "ms");
        report.emit(`history_${name}_${k}_p99`, pct(xs, 99), "ms");
      }
      report.emit(`history_${name}_old_vs_latest_p50_ratio`, pct(times.old, 50) / pct(times.latest, 50), "x");
    };
    await probe("eth_getBalance", (tag) => fnRpc.call("eth_getBalance", [recipient, tag]));
    await probe("eth_call", (tag) =>
      fnRpc.call("eth_call", [{ to: token, data: balanceOfData(holder) }, tag]),
    );
    // A proof at an old block rewinds the trie over every key changed since: here few distinct
    // keys (the same senders, recipient and token holders), so it measures the rewind's fixed cost.
    await probe("eth_getProof", (tag) => fnRpc.call("eth_getProof", [token, ["0x0"], tag]), 100);
    fnRpc.close();

    // Restart with the whole history in its store.
    await stopDaemon(fn);
    const t0 = performance.now();
    fn = await startDaemon("packages/fullnode/src/cli.ts", fnArgs, "fullnode started");
    const s = (performance.now() - t0) / 1000;
    log(`history: full node restarted in ${s.toFixed(2)} s with ${sent} txs of history`);
    report.emit("history_fullnode_restart_seconds", s, "s");
    seqRpc.close();
    await stopDaemon(fn);
    await stopDaemon(seq);
  } finally {
    await stopAllDaemons();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const report = new ReportClass();
  await historyFigures(report, await chooseSigner("auto"), Number(process.env.BENCH_HISTORY_TX ?? 200_000));
}
