import os from "node:os";
import { Chain } from "./chain.ts";
import { type TargetName, loadConfig } from "./config.ts";
import { tokenBytecode } from "./erc20.ts";
import { pacedLatency, syncLatency } from "./latency.ts";
import { timedRun } from "./load.ts";
import { MemorySampler, sampleMemory } from "./procStats.ts";
import { Report, errorMessage, log, median } from "./report.ts";
import { resync, prepareTarget } from "./setup.ts";
import { type Signer, chooseSigner, devKey } from "./signer.ts";
import { type Target, installCleanupHandlers, startAnvil, startStaccato } from "./targets.ts";
import { fullnodeFigures } from "./fullnode.ts";
import { proverFigures } from "./prover.ts";
import { historyFigures } from "./history.ts";
import { proverMemoryFigures } from "./proverMemory.ts";
import { type SwapEnv, buildSwapWorkload, checkReserves, prepareSwaps } from "./swap.ts";
import { latestMiniBlock, wireSizes } from "./wireSizes.ts";
import { type LoadEnv, type TxKind, type Workload, buildWorkload } from "./workload.ts";

/**
 * `pnpm bench`: measures the Staccato sequencer and Anvil in one run with one harness. Figures
 * are JSON lines on stdout; progress is on stderr. See bench/README.md for what each figure
 * means. Exit code 1 when any figure could not be measured (its line then carries `error`).
 */

interface Slot {
  name: TargetName;
  target: Target | null;
  /** Known once the target answered eth_getBlockByNumber, even if its preparation failed. */
  blockGasLimit: bigint | null;
  env: LoadEnv | null;
  /** Set once the target cannot be measured any more (failed to start, or exited). */
  dead: string | null;
}

const cfg = loadConfig();
const report = new Report();
installCleanupHandlers();

async function main(): Promise<void> {
  const wallStart = performance.now();
  const cores = os.availableParallelism();
  log(`node ${process.version}, ${cores} cores, ${os.cpus()[0]?.model ?? "unknown cpu"}`);
  log(`config: ${JSON.stringify(cfg, (_, v) => (typeof v === "bigint" ? v.toString() : v))}`);
  report.emit("machine", cores, "cores");

  const signer = await chooseSigner(cfg.signer);
  tokenBytecode();

  const slots: Slot[] = [];
  try {
    for (const name of cfg.targets) slots.push(await startSlot(name, slots, signer));

    for (const kind of cfg.kinds)
      await throughput(slots, transfers(kind, { batch: cfg.sendBatch, concurrency: cfg.sendConcurrency }));
    // Wallets send one transaction per request: the same figures with single requests, 32 in flight.
    if (cfg.sendBatch > 1 && process.env.BENCH_SINGLE !== "0")
      for (const kind of cfg.kinds)
        await throughput(slots, transfers(kind, { batch: 1, concurrency: 32 }, "_single"));
    if (cfg.swapTx > 0) await swaps(slots);
    for (const slot of slots) memory(slot);
    for (const slot of slots) for (const kind of cfg.kinds) await latency(slot, kind);
    for (const slot of slots) await sync(slot);
    if (cfg.targets.includes("staccato") && process.env.BENCH_FULLNODE !== "0") {
      await fullnodeFigures(report, signer, 10_000).catch((err: unknown) => {
        log(`fullnode figures failed: ${(err as Error)?.stack ?? errorMessage(err)}`);
        report.fail("fullnode_propagation_p50", "ms", err);
      });
    }
    if (cfg.targets.includes("staccato") && process.env.BENCH_PROVER !== "0") {
      await proverFigures(report, signer, {
        txs: Number(process.env.BENCH_PROVER_TXS ?? 4000),
        rate: Number(process.env.BENCH_PROVER_RATE ?? 1000),
        soakSeconds: Number(process.env.BENCH_PROVER_SOAK_S ?? 60),
        runs: Number(process.env.BENCH_PROVER_RUNS ?? 3),
      }).catch((err: unknown) => {
        log(`prover figures failed: ${(err as Error)?.stack ?? errorMessage(err)}`);
        report.fail("prover_eth_tx_per_s_1w", "tx/s", err);
      });
    }
    if (cfg.targets.includes("staccato") && process.env.BENCH_PROVER_MEM !== "0") {
      await proverMemoryFigures(report, signer, {
        txs: Number(process.env.BENCH_PROVER_MEM_TXS ?? 200_000),
        round: Number(process.env.BENCH_PROVER_MEM_ROUND ?? 20_000),
        heapMb: Number(process.env.BENCH_PROVER_MEM_HEAP_MB ?? 1024),
        workers: Number(process.env.BENCH_PROVER_MEM_WORKERS ?? 2),
      }).catch((err: unknown) => {
        log(`prover memory figures failed: ${(err as Error)?.stack ?? errorMessage(err)}`);
        report.fail("prover_rss_growth_mb_per_100k_txs", "MB", err);
      });
    }
    if (cfg.targets.includes("staccato") && process.env.BENCH_HISTORY !== "0") {
      await historyFigures(report, signer, Number(process.env.BENCH_HISTORY_TX ?? 200_000)).catch(
        (err: unknown) => {
          log(`history figures failed: ${(err as Error)?.stack ?? errorMessage(err)}`);
          report.fail("history_rss_growth_fullnode_mb_per_100k_txs", "MB", err);
        },
      );
    }
    if (cfg.backlog) {
      for (const slot of slots) await backlog(slot);
    } else {
      log("backlog figures skipped (BENCH_BACKLOG=0)");
    }
  } finally {
    for (const slot of slots) {
      slot.env?.chain.close();
      await slot.target
        ?.stop()
        .catch((err: unknown) => log(`${slot.name}: stop failed: ${errorMessage(err)}`));
    }
  }
  log(`done in ${((performance.now() - wallStart) / 1000).toFixed(0)} s, ${report.failed} figure(s) failed`);
}

async function startSlot(name: TargetName, started: readonly Slot[], signer: Signer): Promise<Slot> {
  const slot: Slot = { name, target: null, blockGasLimit: null, env: null, dead: null };
  try {
    if (name === "staccato") {
      slot.target = await startStaccato(cfg.verbose, cfg.cpuProfDir);
    } else {
      // Anvil runs with Staccato's block gas limit so both have the same block capacity.
      const staccato = started.find((s) => s.name === "staccato")?.blockGasLimit ?? null;
      const gasLimit = staccato ?? cfg.gasLimit;
      log(
        `anvil block gas limit: ${gasLimit}${staccato !== null ? " (Staccato's)" : " (BENCH_GAS_LIMIT or default)"}`,
      );
      slot.target = await startAnvil(gasLimit, cfg.verbose);
    }
    const chain = await Chain.connect(slot.target);
    slot.blockGasLimit = chain.blockGasLimit;
    slot.env = await prepareTarget(chain, signer, cfg.senders);
  } catch (err) {
    slot.dead = `${name} could not be prepared: ${errorMessage(err)}`;
    log(slot.dead);
  }
  return slot;
}

/**
 * Runs `fn` against a live target. On failure the target is marked dead if its process
 * exited; otherwise its local nonce/balance bookkeeping is re-read so later figures start clean.
 */
async function attempt<T>(slot: Slot, what: string, fn: (env: LoadEnv) => Promise<T>): Promise<T> {
  if (slot.dead !== null || slot.env === null) throw new Error(slot.dead ?? `${slot.name} is not prepared`);
  const env = slot.env;
  try {
    env.chain.assertAlive();
    return await fn(env);
  } catch (err) {
    log(`${slot.name}: ${what} failed: ${errorMessage(err)}`);
    const exited = slot.target?.exitReason() ?? null;
    if (exited !== null) slot.dead = exited;
    else await resync(env).catch((e: unknown) => log(`${slot.name}: resync failed: ${errorMessage(e)}`));
    throw err;
  }
}

const FIGURE: Record<TxKind, string> = { eth: "eth_transfer_throughput", erc20: "erc20_transfer_throughput" };

/** A throughput figure: what one run sends, and how. */
interface ThroughputFigure {
  /** The figure's name without its target (e.g. `erc20_transfer_throughput_single`). */
  base: string;
  send: { batch: number; concurrency: number };
  /** Transactions for one run, signed ahead (untimed). */
  build(env: LoadEnv, slot: Slot): Promise<Workload>;
  /** Staccato's first run: the wire sizes of the mini-blocks since `before`. */
  wire?(env: LoadEnv, before: number): Promise<void>;
  /** After every run: throws when the run left a state it should not have. */
  check?(env: LoadEnv, slot: Slot): Promise<void>;
}

function transfers(
  kind: TxKind,
  send: { batch: number; concurrency: number },
  suffix = "",
): ThroughputFigure {
  return {
    base: `${FIGURE[kind]}${suffix}`,
    send,
    build: (env) => buildWorkload(env, kind, cfg.txPerRun),
    ...(suffix === ""
      ? { wire: (env: LoadEnv, before: number) => wireSizes(report, env, kind, before) }
      : {}),
  };
}

/**
 * `cfg.runs` timed runs of a figure on every target, interleaved (run 1 on each, then run 2...)
 * so slow drifts of a shared machine hit every target alike; reports the medians (tx/s, CPU per
 * transaction) and the ratio.
 */
async function throughput(slots: readonly Slot[], fig: ThroughputFigure): Promise<void> {
  const { base } = fig;
  const runs = new Map<TargetName, number[]>();
  const cpuRuns = new Map<TargetName, { total: number[]; main: number[] }>();
  const errors = new Map<TargetName, unknown>();
  for (let r = 1; r <= cfg.runs; r++) {
    for (const slot of slots) {
      if (errors.has(slot.name)) continue;
      try {
        const res = await attempt(slot, `${base} run ${r}`, async (env) => {
          const work = await fig.build(env, slot);
          const before = slot.name === "staccato" ? await latestMiniBlock(env) : 0;
          const timed = await timedRun(env, work, {
            ...fig.send,
            pollMs: cfg.pollMs,
            stallMs: cfg.stallSeconds * 1000,
          });
          await fig.check?.(env, slot);
          if (slot.name === "staccato" && r === 1) await fig.wire?.(env, before);
          return timed;
        });
        log(
          `${slot.name}: ${base} run ${r}/${cfg.runs}: ${res.txPerSecond.toFixed(0)} tx/s ` +
            `(${res.txs} txs in ${res.seconds.toFixed(2)} s; accepted at ${res.submitTxPerSecond.toFixed(0)} tx/s, ` +
            `bench CPU while sending ${(res.benchCpu * 100).toFixed(0)}% of a core; target CPU ` +
            `${res.cpuUsPerTx.toFixed(0)} µs/tx, main thread ${res.mainCpuUsPerTx.toFixed(0)} µs/tx)`,
        );
        const list = runs.get(slot.name) ?? [];
        list.push(res.txPerSecond);
        runs.set(slot.name, list);
        const c = cpuRuns.get(slot.name) ?? { total: [], main: [] };
        c.total.push(res.cpuUsPerTx);
        c.main.push(res.mainCpuUsPerTx);
        cpuRuns.set(slot.name, c);
      } catch (err) {
        errors.set(slot.name, err);
      }
    }
  }
  for (const slot of slots) {
    const name = `${base}.${slot.name}`;
    if (errors.has(slot.name)) report.fail(name, "tx/s", errors.get(slot.name));
    else report.emit(name, median(runs.get(slot.name)!), "tx/s");
    // CPU per transaction: steadier than tx/s on a shared machine, so the figure to A/B with.
    const c = cpuRuns.get(slot.name);
    if (c === undefined) continue;
    report.emit(`${base}_cpu_per_tx.${slot.name}`, median(c.total), "µs");
    // Staccato's execution thread; Anvil spreads its work over a thread pool.
    if (slot.name === "staccato")
      report.emit(`${base}_main_thread_cpu_per_tx.${slot.name}`, median(c.main), "µs");
  }
  ratio(`${base}.ratio_staccato_vs_anvil`, `${base}.staccato`, `${base}.anvil`);
  // Anvil's CPU per transaction over Staccato's (above 1: Staccato spends less). Where both
  // saturate the machine (single requests on 2 cores) throughput follows it; in batches Staccato's
  // execution thread is the limit instead, and its other threads use idle cores.
  ratio(
    `${base}_cpu_per_tx.ratio_anvil_vs_staccato`,
    `${base}_cpu_per_tx.anvil`,
    `${base}_cpu_per_tx.staccato`,
  );
}

/** Emits `name` = figure `over` / figure `under`, when both targets ran; fails naming a missing one. */
function ratio(name: string, over: string, under: string): void {
  if (!(cfg.targets.includes("staccato") && cfg.targets.includes("anvil"))) return;
  const o = report.get(over);
  const u = report.get(under);
  if (o === null || u === null || u === 0)
    report.fail(name, "x", `missing figure ${o === null ? over : under}`);
  else report.emit(name, o / u, "x");
}

function memory(slot: Slot): void {
  try {
    if (slot.dead !== null || slot.target === null) throw new Error(slot.dead ?? "not started");
    const m = sampleMemory(slot.target.pid);
    report.emit(`rss_mb.${slot.name}`, m.rssMb, "MB");
    report.emit(`rss_peak_mb.${slot.name}`, m.peakMb, "MB");
  } catch (err) {
    report.fail(`rss_mb.${slot.name}`, "MB", err);
    report.fail(`rss_peak_mb.${slot.name}`, "MB", err);
  }
}

/**
 * Swaps through the V2-style router: the pair is deployed and funded on every target first
 * (untimed), then `cfg.swapTx` swaps a run, `cfg.runs` runs as the transfer figures.
 */
async function swaps(slots: readonly Slot[]): Promise<void> {
  const pairs = new Map<TargetName, SwapEnv>();
  for (const slot of slots) {
    try {
      pairs.set(slot.name, await attempt(slot, "swap setup", (env) => prepareSwaps(env, devKey(0))));
    } catch (err) {
      report.fail(`swap_throughput.${slot.name}`, "tx/s", err);
    }
  }
  const ready = slots.filter((s) => pairs.has(s.name));
  if (ready.length === 0) return;
  await throughput(ready, {
    base: "swap_throughput",
    send: { batch: cfg.sendBatch, concurrency: cfg.sendConcurrency },
    build: (env, slot) => buildSwapWorkload(env, pairs.get(slot.name)!, cfg.swapTx),
    wire: (env, before) => wireSizes(report, env, "swap", before),
    check: (env, slot) => checkReserves(env, pairs.get(slot.name)!),
  });
}

/** Send → receipt latency at a paced rate: ETH transfers (`send_to_receipt_latency_*`) and ERC-20 ones (`…_erc20`). */
async function latency(slot: Slot, kind: TxKind): Promise<void> {
  const n = cfg.latencyRate * cfg.latencySeconds;
  const suffix = kind === "eth" ? "" : `_${kind}`;
  const p50 = `send_to_receipt_latency${suffix}_p50.${slot.name}`;
  const p99 = `send_to_receipt_latency${suffix}_p99.${slot.name}`;
  try {
    const res = await attempt(slot, `latency (${kind})`, async (env) => {
      const work = await buildWorkload(env, kind, n);
      return pacedLatency(env, work, {
        rate: cfg.latencyRate,
        pollMs: cfg.pollMs,
        warmupSeconds: Math.min(1, cfg.latencySeconds / 10),
        stallMs: cfg.stallSeconds * 1000,
      });
    });
    log(
      `${slot.name}: latency (${kind}) at ${res.offeredTxPerSecond.toFixed(0)} tx/s offered: ` +
        `p50 ${res.p50.toFixed(1)} ms, p99 ${res.p99.toFixed(1)} ms over ${res.samples} txs`,
    );
    report.emit(p50, res.p50, "ms");
    report.emit(p99, res.p99, "ms");
  } catch (err) {
    report.fail(p50, "ms", err);
    report.fail(p99, "ms", err);
  }
}

async function sync(slot: Slot): Promise<void> {
  if (cfg.syncTx === 0) return;
  try {
    const res = await attempt(slot, "sync latency", (env) =>
      syncLatency(env, { count: cfg.syncTx, maxSeconds: cfg.syncMaxSeconds }),
    );
    if (res === null) {
      // Staccato must implement EIP-7966; for anyone else it is optional.
      if (slot.name === "staccato") throw new Error("eth_sendRawTransactionSync: method not found");
      log(`${slot.name}: eth_sendRawTransactionSync not supported; skipped`);
      return;
    }
    log(
      `${slot.name}: sync latency p50 ${res.p50.toFixed(1)} ms, p99 ${res.p99.toFixed(1)} ms over ${res.samples} calls`,
    );
    report.emit(`send_raw_tx_sync_latency_p50.${slot.name}`, res.p50, "ms");
    report.emit(`send_raw_tx_sync_latency_p99.${slot.name}`, res.p99, "ms");
  } catch (err) {
    report.fail(`send_raw_tx_sync_latency_p50.${slot.name}`, "ms", err);
    report.fail(`send_raw_tx_sync_latency_p99.${slot.name}`, "ms", err);
  }
}

async function backlog(slot: Slot): Promise<void> {
  try {
    const res = await attempt(slot, "backlog", async (env) => {
      const work = await buildWorkload(env, "eth", cfg.backlogTx);
      const sampler = new MemorySampler(env.chain.target.pid, 100);
      sampler.start();
      try {
        const run = await timedRun(env, work, {
          batch: cfg.sendBatch,
          concurrency: cfg.sendConcurrency,
          pollMs: cfg.pollMs,
          stallMs: cfg.stallSeconds * 1000,
        });
        return { ...run, peakRssMb: sampler.maxRssMb };
      } finally {
        sampler.stop();
      }
    });
    log(
      `${slot.name}: backlog of ${cfg.backlogTx} accepted at ${res.submitTxPerSecond.toFixed(0)} tx/s, ` +
        `drained at ${res.txPerSecond.toFixed(0)} tx/s (${res.seconds.toFixed(1)} s), peak RSS ${res.peakRssMb.toFixed(0)} MB`,
    );
    report.emit(`backlog_drain_tx_per_s.${slot.name}`, res.txPerSecond, "tx/s");
    report.emit(`backlog_submit_tx_per_s.${slot.name}`, res.submitTxPerSecond, "tx/s");
    report.emit(`backlog_rss_peak_mb.${slot.name}`, res.peakRssMb, "MB");
  } catch (err) {
    for (const [f, unit] of [
      ["backlog_drain_tx_per_s", "tx/s"],
      ["backlog_submit_tx_per_s", "tx/s"],
      ["backlog_rss_peak_mb", "MB"],
    ] as const) {
      report.fail(`${f}.${slot.name}`, unit, err);
    }
  }
}

try {
  await main();
} catch (err) {
  log(`bench aborted: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 2;
}
if (process.exitCode === undefined) process.exitCode = report.failed > 0 ? 1 : 0;
// Exit explicitly: the "exit" handler kills any target still running and removes temp dirs.
process.exit();
