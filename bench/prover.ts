import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  chainConfigToJson,
  createP2PNode,
  decodeBundle,
  decompressWitness,
  devChainConfig,
  encodeWitnessRequest,
  randomPrivateKey,
  signingKeyFromPrivate,
  silentLogger,
} from "@staccato/common";
import { VerifierPool } from "@staccato/prover";
import { deployData } from "./erc20.ts";
import { type Report, Report as ReportClass, log, median, percentile } from "./report.ts";
import { RpcClient } from "./rpc.ts";
import { type Key, type Signer, type UnsignedTx, devKey, nativeSigner } from "./signer.ts";
import { sleep } from "./targets.ts";
import { type Daemon, WebSocket, metric, startDaemon, stopDaemon } from "./daemons.ts";

const FEES = { maxFeePerGas: 100_000_000_000n, maxPriorityFeePerGas: 1_000_000n } as const;
const transferData = (to: string, amount: bigint) =>
  `0xa9059cbb${to.slice(2).padStart(64, "0")}${amount.toString(16).padStart(64, "0")}` as const;
const recipient = (i: number) => `0x${(0xbe00000000 + i).toString(16).padStart(40, "0")}`;

interface Phase {
  kind: "eth" | "erc20";
  from: bigint;
  to: bigint;
}

/**
 * Prover figures (issue 4): verification throughput in blocks/s and tx/s with 1 and 2 workers for
 * transfer and ERC-20 blocks, witness bytes per transaction (raw and compressed), and, with two
 * real provers following a sequencer under a paced mixed load, seal → quorum latency and the
 * provers' backlog over the run.
 */
export async function proverFigures(
  report: Report,
  signer: Signer,
  opts: { txs: number; rate: number; soakSeconds: number; runs: number },
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-prover-"));
  const seqKey = randomPrivateKey();
  const proverKeys = [randomPrivateKey(), randomPrivateKey()];
  const config = devChainConfig({
    sequencer: `0x${Buffer.from(signingKeyFromPrivate(seqKey).address).toString("hex")}`,
    provers: proverKeys.map((k) => `0x${Buffer.from(signingKeyFromPrivate(k).address).toString("hex")}`),
    proverQuorum: 2,
  });
  writeFileSync(join(dir, "sequencer.key"), `0x${Buffer.from(seqKey).toString("hex")}`);
  writeFileSync(join(dir, "chain.json"), chainConfigToJson(config));
  const seqArgs = (blockMs: number) => [
    "--dev",
    "--data-dir",
    dir,
    "--block-ms",
    String(blockMs),
    "--rpc-port",
    "0",
    "--metrics-port",
    "0",
    "--p2p-listen",
    "/ip4/127.0.0.1/tcp/0",
  ];
  const daemons: Daemon[] = [];
  try {
    // ---- 1. Blocks to verify: transfers, then ERC-20 transfers, 250 ms blocks. ----
    let seq = await startDaemon("packages/sequencer/src/cli.ts", seqArgs(250), "sequencer started");
    daemons.push(seq);
    let rpc = new RpcClient(seq.started.rpc as string, { maxSockets: 4, timeoutMs: 30_000 });
    const chainId = BigInt(config.chainId);
    const senders = Array.from({ length: 20 }, (_, i) => devKey(i));
    const nonces = senders.map(() => 0);
    const signAll = async (k: number, txs: Omit<UnsignedTx, "nonce">[]) =>
      (
        await signer.sign(
          txs.map((t) => ({ ...t, nonce: nonces[k]!++ })),
          senders[k]!,
          chainId,
        )
      ).map((s) => s.raw);
    const sendAll = async (raws: string[]) => {
      for (let i = 0; i < raws.length; i += 500)
        await rpc.batchOk(
          raws.slice(i, i + 500).map((r) => ({ method: "eth_sendRawTransaction", params: [r] })),
        );
    };
    const waitNonces = async () => {
      const deadline = Date.now() + 120_000;
      for (const [k, key] of senders.entries())
        while (
          BigInt(await rpc.call<string>("eth_getTransactionCount", [key.address, "latest"])) < nonces[k]!
        ) {
          if (Date.now() > deadline) throw new Error("the load was not included");
          await sleep(50);
        }
      // The last block with transactions must be sealed (latest).
      return BigInt(await rpc.call<string>("eth_blockNumber"));
    };
    const head = async () => BigInt(await rpc.call<string>("eth_blockNumber"));

    const perSender = Math.ceil(opts.txs / senders.length);
    const phases: Phase[] = [];
    let from = (await head()) + 1n;
    const eth: string[] = [];
    for (let k = 0; k < senders.length; k++)
      eth.push(
        ...(await signAll(
          k,
          Array.from({ length: perSender }, (_, i) => ({
            to: recipient(k * perSender + i) as `0x${string}`,
            value: 1n,
            data: "0x" as const,
            gas: 21_000n,
            ...FEES,
          })),
        )),
      );
    await sendAll(eth);
    phases.push({ kind: "eth", from, to: await waitNonces() });

    // A token, spread over the senders, then transfers to fresh recipients.
    const [deploy] = await signAll(0, [
      { to: null, value: 0n, data: deployData(10n ** 30n), gas: 3_000_000n, ...FEES },
    ]);
    await sendAll([deploy!]);
    await waitNonces();
    const tokenAddress = await contractAddressOf(rpc, senders[0]!, nonces[0]! - 1);
    await sendAll(
      await signAll(
        0,
        senders.slice(1).map((s) => ({
          to: tokenAddress,
          value: 0n,
          data: transferData(s.address, 10n ** 24n),
          gas: 100_000n,
          ...FEES,
        })),
      ),
    );
    await waitNonces();
    from = (await head()) + 1n;
    const erc: string[] = [];
    for (let k = 0; k < senders.length; k++)
      erc.push(
        ...(await signAll(
          k,
          Array.from({ length: perSender }, (_, i) => ({
            to: tokenAddress,
            value: 0n,
            data: transferData(recipient(100_000 + k * perSender + i), 1000n + BigInt(i)),
            gas: 100_000n,
            ...FEES,
          })),
        )),
      );
    await sendAll(erc);
    phases.push({ kind: "erc20", from, to: await waitNonces() });

    // Fetch every bundle the way a prover does, over libp2p.
    const client = await createP2PNode(
      {
        listen: ["/ip4/127.0.0.1/tcp/0"],
        announce: [],
        bootnodes: [(seq.started.p2p as string[])[0]!],
        keyFile: join(dir, "bench-p2p.key"),
        maxGossipBytes: 8 << 20,
        maxOutboundBufferBytes: 32 << 20,
        heartbeatMs: 700,
        chainId: config.chainId,
      },
      { logger: silentLogger() },
    );
    await client.start();
    let peer: ReturnType<typeof client.peers>[number] | undefined;
    for (let i = 0; i < 100 && peer === undefined; i++) {
      peer = client.peers()[0];
      if (peer === undefined) await sleep(50);
    }
    if (peer === undefined) throw new Error("bench libp2p client could not reach the sequencer");
    for (const ph of phases) {
      const bundles: Uint8Array[] = [];
      let txs = 0;
      let raw = 0;
      let compressed = 0;
      for (let n = ph.from; n <= ph.to; n++) {
        const r = await client.request(peer, "witnessByNumber", encodeWitnessRequest(n), {
          timeoutMs: 30_000,
          maxResponseBytes: 512 << 20,
        });
        if (r.code !== "ok") throw new Error(`no bundle for block ${n}: ${r.code}`);
        const b = decodeBundle(r.body);
        if (b.txs.length === 0) continue;
        bundles.push(r.body);
        txs += b.txs.length;
        raw += decompressWitness(b.witnessCompressed).length;
        compressed += b.witnessCompressed.length;
      }
      log(
        `prover: ${ph.kind}: ${bundles.length} blocks, ${txs} txs, witness ${raw} B raw, ${compressed} B compressed`,
      );
      report.emit(`prover_witness_bytes_per_tx_${ph.kind}_raw`, raw / txs, "B/tx");
      report.emit(`prover_witness_bytes_per_tx_${ph.kind}_compressed`, compressed / txs, "B/tx");
      for (const workers of [1, 2]) {
        const pool = new VerifierPool(workers, config);
        try {
          await pool.verify(bundles[0]!, null); // warm up both the worker and the JIT
          if (workers === 2)
            await Promise.all([pool.verify(bundles[0]!, null), pool.verify(bundles[0]!, null)]);
          const rates: number[] = [];
          for (let run = 0; run < opts.runs; run++) {
            const t0 = performance.now();
            const out = await Promise.all(bundles.map((b) => pool.verify(b, null)));
            const s = (performance.now() - t0) / 1000;
            for (const o of out)
              if (!o.ok || o.outcome.kind !== "valid")
                throw new Error(`bench block did not verify: ${JSON.stringify(o.ok ? o.outcome : o.error)}`);
            rates.push(txs / s);
          }
          const txPerS = median(rates);
          log(
            `prover: ${ph.kind}, ${workers} worker(s): ${txPerS.toFixed(0)} tx/s (runs ${rates.map((r) => r.toFixed(0)).join(", ")})`,
          );
          report.emit(`prover_${ph.kind}_tx_per_s_${workers}w`, txPerS, "tx/s");
          report.emit(
            `prover_${ph.kind}_blocks_per_s_${workers}w`,
            (txPerS * bundles.length) / txs,
            "blocks/s",
          );
        } finally {
          await pool.close();
        }
      }
    }
    await client.stop();
    rpc.close();

    // ---- 2. Two provers following the sequencer (1 s blocks) under a paced mixed load. ----
    await stopDaemon(seq);
    seq = await startDaemon("packages/sequencer/src/cli.ts", seqArgs(1000), "sequencer started");
    daemons.push(seq);
    rpc = new RpcClient(seq.started.rpc as string, { maxSockets: 4, timeoutMs: 30_000 });
    const provers: Daemon[] = [];
    for (const [i, k] of proverKeys.entries()) {
      const keyFile = join(dir, `prover${i}.key`);
      writeFileSync(keyFile, `0x${Buffer.from(k).toString("hex")}`);
      const p = await startDaemon(
        "packages/prover/src/cli.ts",
        [
          "--chain",
          join(dir, "chain.json"),
          "--key-file",
          keyFile,
          "--data-dir",
          join(dir, `prover${i}`),
          "--workers",
          "1",
          "--metrics-port",
          "0",
          "--p2p-listen",
          "/ip4/127.0.0.1/tcp/0",
          "--bootnodes",
          (seq.started.p2p as string[])[0]!,
        ],
        "prover started",
      );
      provers.push(p);
      daemons.push(p);
    }
    const start = await head();
    await waitFinal(rpc, start, 120_000); // provers caught up on the history first
    const sealedAt = new Map<bigint, number>();
    const ws = new WebSocket((seq.started.ws as string) ?? (seq.started.rpc as string).replace("http", "ws"));
    await new Promise((r, j) => {
      ws.once("open", r);
      ws.once("error", j);
    });
    ws.on("message", (data) => {
      const m = JSON.parse(String(data)) as { params?: { result?: { number?: string } } };
      const n = m.params?.result?.number;
      if (n !== undefined) sealedAt.set(BigInt(n), performance.now());
    });
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }));
    const finalAt = new Map<bigint, number>();
    let finalized = BigInt((await rpc.call<{ finalized: string }>("staccato_finality")).finalized);
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const f = await rpc
          .call<{ finalized: string }>("staccato_finality")
          .then((r) => BigInt(r.finalized))
          .catch(() => finalized);
        const now = performance.now();
        for (let n = finalized + 1n; n <= f; n++) finalAt.set(n, now);
        finalized = f;
        await sleep(20);
      }
    })();

    const seconds = opts.soakSeconds;
    const total = opts.rate * seconds;
    const per = Math.ceil(total / senders.length);
    for (let k = 0; k < senders.length; k++)
      nonces[k] = Number(await rpc.call<string>("eth_getTransactionCount", [senders[k]!.address, "pending"]));
    const load: string[][] = [];
    for (let k = 0; k < senders.length; k++)
      load.push(
        await signAll(
          k,
          Array.from({ length: per }, (_, i) =>
            i % 2 === 0
              ? {
                  to: recipient(500_000 + i) as `0x${string}`,
                  value: 1n,
                  data: "0x" as const,
                  gas: 21_000n,
                  ...FEES,
                }
              : {
                  to: tokenAddress,
                  value: 0n,
                  data: transferData(recipient(900_000 + i), 7n),
                  gas: 100_000n,
                  ...FEES,
                },
          ),
        ),
      );
    const backlog: number[] = [];
    const lag: number[] = [];
    log(`prover: soak: ${opts.rate} tx/s of mixed transfers for ${seconds} s with two provers`);
    const t0 = performance.now();
    let lastSample = t0;
    // Batches go out on schedule without waiting for the previous answer (up to 16 in flight), so
    // a slow answer does not lower the offered rate.
    const inFlight: Promise<unknown>[] = [];
    for (let i = 0; i < per; i++) {
      const at = t0 + (i * senders.length * 1000) / opts.rate;
      const wait = at - performance.now();
      if (wait > 0) await sleep(wait);
      if (inFlight.length >= 16) await inFlight.shift();
      const batch = rpc.batchOk(load.map((s) => ({ method: "eth_sendRawTransaction", params: [s[i]!] })));
      batch.catch(() => undefined); // awaited below; this only keeps it from being unhandled meanwhile
      inFlight.push(batch);
      if (performance.now() - lastSample > 5_000) {
        lastSample = performance.now();
        let q = 0;
        for (const p of provers)
          q = Math.max(q, await metric(p.started.metrics as string, "staccato_prover_queue_depth"));
        backlog.push(q);
        lag.push(Number((await head()) - finalized));
      }
    }
    await Promise.all(inFlight);
    const sent = (performance.now() - t0) / 1000;
    const end = await waitNonces();
    await waitFinal(rpc, end, 60_000);
    polling = false;
    await poll;
    ws.close();
    const lat: number[] = [];
    for (const [n, t] of finalAt) {
      const s = sealedAt.get(n);
      if (s !== undefined && n > start) lat.push(t - s);
    }
    log(
      `prover: soak sent ${total} txs in ${sent.toFixed(1)} s; seal→quorum over ${lat.length} blocks: p50 ${percentile(lat, 50).toFixed(1)} ms, p99 ${percentile(lat, 99).toFixed(1)} ms; finality lag samples (blocks) ${lag.join(",")}; prover queue samples ${backlog.join(",")}`,
    );
    report.emit("prover_soak_tx_per_s", total / sent, "tx/s");
    report.emit("prover_seal_to_quorum_p50", percentile(lat, 50), "ms");
    report.emit("prover_seal_to_quorum_p99", percentile(lat, 99), "ms");
    report.emit("prover_soak_max_finality_lag", lag.length > 0 ? Math.max(...lag) : 0, "blocks");
    report.emit("prover_soak_last_finality_lag", lag.at(-1) ?? 0, "blocks");
    report.emit("prover_soak_max_queue_depth", backlog.length > 0 ? Math.max(...backlog) : 0, "blocks");
    rpc.close();
  } finally {
    for (const d of daemons.reverse()) await stopDaemon(d);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitFinal(rpc: RpcClient, n: bigint, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (BigInt((await rpc.call<{ finalized: string }>("staccato_finality")).finalized) < n) {
    if (Date.now() > deadline) throw new Error(`block ${n} was not finalized within ${ms} ms`);
    await sleep(50);
  }
}

async function contractAddressOf(rpc: RpcClient, key: Key, nonce: number): Promise<`0x${string}`> {
  const { getContractAddress } = await import("viem");
  const address = getContractAddress({ from: key.address, nonce: BigInt(nonce) });
  const code = await rpc.call<string>("eth_getCode", [address, "latest"]);
  if (code === "0x") throw new Error("bench token was not deployed");
  return address;
}

// `node --import tsx bench/prover.ts`: these figures alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const report = new ReportClass();
  await proverFigures(report, nativeSigner, {
    txs: Number(process.env.BENCH_PROVER_TXS ?? 4000),
    rate: Number(process.env.BENCH_PROVER_RATE ?? 1000),
    soakSeconds: Number(process.env.BENCH_PROVER_SOAK_S ?? 60),
    runs: Number(process.env.BENCH_PROVER_RUNS ?? 3),
  });
  process.exit(0);
}
