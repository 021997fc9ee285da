import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chainConfigToJson, devChainConfig, randomPrivateKey, signingKeyFromPrivate } from "@staccato/common";
import { type Daemon, metric, startDaemon, stopDaemon } from "./daemons.ts";
import { sampleMemory } from "./procStats.ts";
import { type Report, Report as ReportClass, log } from "./report.ts";
import { RpcClient } from "./rpc.ts";
import { type Signer, devKey, nativeSigner } from "./signer.ts";
import { sleep } from "./targets.ts";

const FEES = { maxFeePerGas: 100_000_000_000n, maxPriorityFeePerGas: 1_000_000n } as const;
const SENDERS = 20;
const recipient = (i: number) => `0x${(0xbe00000000 + (i % 4096)).toString(16).padStart(40, "0")}` as const;

export interface ProverMemoryOptions {
  /** Transactions in all. */
  txs: number;
  /** Sent (and waited for) in rounds of this many; RSS is sampled after each. */
  round: number;
  /** V8 heap cap of the prover (`--max-old-space-size`, MB), as the run had. */
  heapMb: number;
  /** Prover worker threads. */
  workers: number;
}

/**
 * Prover memory against chain length (issue 14): a sequencer and one prover (reading DA too, as in
 * the devnet), ETH transfers at full speed in rounds; after each round, once the prover has
 * attested every block, its RSS (process and worker threads) and its heap. Figures: RSS after 20k
 * transactions and after the last round, and the growth per 100k between the two.
 */
export async function proverMemoryFigures(
  report: Report,
  signer: Signer,
  opts: ProverMemoryOptions,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-provermem-"));
  const seqKey = randomPrivateKey();
  const proverKey = randomPrivateKey();
  const addr = (k: Uint8Array) => `0x${Buffer.from(signingKeyFromPrivate(k).address).toString("hex")}`;
  const config = devChainConfig({ sequencer: addr(seqKey), provers: [addr(proverKey)], proverQuorum: 1 });
  writeFileSync(join(dir, "sequencer.key"), `0x${Buffer.from(seqKey).toString("hex")}`);
  writeFileSync(join(dir, "chain.json"), chainConfigToJson(config));
  writeFileSync(join(dir, "prover.key"), `0x${Buffer.from(proverKey).toString("hex")}`);
  const daDir = join(dir, "da");
  const daemons: Daemon[] = [];
  try {
    const seq = await startDaemon(
      "packages/sequencer/src/cli.ts",
      [
        "--dev",
        "--data-dir",
        dir,
        "--rpc-port",
        "0",
        "--metrics-port",
        "0",
        "--p2p-listen",
        "/ip4/127.0.0.1/tcp/0",
        "--da",
        "dir",
        "--da-dir",
        daDir,
      ],
      "sequencer started",
    );
    daemons.push(seq);
    const prover = await startDaemon(
      "packages/prover/src/cli.ts",
      [
        "--chain",
        join(dir, "chain.json"),
        "--key-file",
        join(dir, "prover.key"),
        "--data-dir",
        join(dir, "prover"),
        "--workers",
        String(opts.workers),
        "--metrics-port",
        "0",
        "--p2p-listen",
        "/ip4/127.0.0.1/tcp/0",
        "--bootnodes",
        (seq.started.p2p as string[])[0]!,
        "--da",
        "dir",
        "--da-dir",
        daDir,
      ],
      "prover started",
      [`--max-old-space-size=${opts.heapMb}`],
    );
    daemons.push(prover);
    const rpc = new RpcClient(seq.started.rpc as string, { maxSockets: 8, timeoutMs: 60_000 });
    const metricsUrl = prover.started.metrics as string;
    const health = async () =>
      (await (await fetch(metricsUrl.replace(/\/metrics$/, "/health"))).json()) as {
        attestedThrough: number;
      };
    const chainId = BigInt(config.chainId);
    const senders = Array.from({ length: SENDERS }, (_, i) => devKey(i));
    const nonces = senders.map(() => 0);
    let sent = 0;
    let first: { txs: number; rss: number } | null = null;
    let last: { txs: number; rss: number } | null = null;
    const t0 = performance.now();
    while (sent < opts.txs) {
      const n = Math.min(opts.round, opts.txs - sent);
      const per = Math.ceil(n / SENDERS);
      const bySender: string[][] = [];
      for (let k = 0; k < SENDERS; k++) {
        const signed = await signer.sign(
          Array.from({ length: per }, (_, i) => ({
            nonce: nonces[k]! + i,
            to: recipient(sent + k * per + i),
            value: 1n,
            data: "0x" as const,
            gas: 21_000n,
            ...FEES,
          })),
          senders[k]!,
          chainId,
        );
        nonces[k]! += per;
        bySender.push(signed.map((s) => s.raw));
      }
      // Round-robin, so each sender's nonces arrive in order; two batches of 500 (25 per sender) in
      // flight keep any gap far below the pool's nonce gap limit (64).
      const order: string[] = [];
      for (let i = 0; i < per; i++) for (const list of bySender) order.push(list[i]!);
      const batches: string[][] = [];
      for (let i = 0; i < order.length; i += 500) batches.push(order.slice(i, i + 500));
      let next = 0;
      await Promise.all(
        Array.from({ length: 2 }, async () => {
          while (next < batches.length) {
            const b = batches[next++]!;
            await rpc.batchOk(b.map((r) => ({ method: "eth_sendRawTransaction", params: [r] })));
          }
        }),
      );
      sent += per * SENDERS;
      // Included, sealed, and attested by the prover.
      for (const [k, key] of senders.entries())
        while (
          BigInt(await rpc.call<string>("eth_getTransactionCount", [key.address, "latest"])) < nonces[k]!
        )
          await sleep(100);
      const head = Number(BigInt(await rpc.call<string>("eth_blockNumber")));
      const deadline = Date.now() + 300_000;
      while ((await health()).attestedThrough < head) {
        if (Date.now() > deadline) throw new Error(`the prover did not attest block ${head} within 300 s`);
        await sleep(200);
      }
      const rss = sampleMemory(prover.child.pid!).rssMb;
      const heap = (await metric(metricsUrl, "staccato_nodejs_heap_size_used_bytes")) / 2 ** 20;
      const external = (await metric(metricsUrl, "staccato_nodejs_external_memory_bytes")) / 2 ** 20;
      log(
        `prover memory: ${sent} txs, block ${head}, ${((performance.now() - t0) / 1000).toFixed(0)} s: RSS ${rss.toFixed(0)} MB, main heap ${heap.toFixed(0)} MB, external ${external.toFixed(0)} MB`,
      );
      if (first === null) first = { txs: sent, rss };
      last = { txs: sent, rss };
      report.emit(`prover_rss_mb.after_${sent}_txs`, rss, "MB");
    }
    rpc.close();
    if (first !== null && last !== null && last.txs > first.txs)
      report.emit(
        "prover_rss_growth_mb_per_100k_txs",
        ((last.rss - first.rss) * 100_000) / (last.txs - first.txs),
        "MB",
      );
  } finally {
    for (const d of daemons.reverse()) await stopDaemon(d);
    rmSync(dir, { recursive: true, force: true });
  }
}

// `node --import tsx bench/proverMemory.ts`: these figures alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const report = new ReportClass();
  await proverMemoryFigures(report, nativeSigner, {
    txs: Number(process.env.BENCH_PROVER_MEM_TXS ?? 200_000),
    round: Number(process.env.BENCH_PROVER_MEM_ROUND ?? 20_000),
    heapMb: Number(process.env.BENCH_PROVER_MEM_HEAP_MB ?? 1024),
    workers: Number(process.env.BENCH_PROVER_MEM_WORKERS ?? 2),
  });
  process.exit(report.failed > 0 ? 1 : 0);
}
