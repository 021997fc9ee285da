/** Every environment knob the bench reads, in one place (documented in bench/README.md). */

export const TARGET_NAMES = ["staccato", "anvil"] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export const SIGNERS = ["auto", "native", "viem"] as const;
export type SignerChoice = (typeof SIGNERS)[number];

export interface BenchConfig {
  /** Targets to measure, in start order (Staccato first: Anvil copies its block gas limit). */
  targets: TargetName[];
  /** Throughput workloads to run, in order (BENCH_KINDS, default both). */
  kinds: ("eth" | "erc20")[];
  /** Runs per throughput figure; the median is reported. */
  runs: number;
  /** Transactions per throughput run. */
  txPerRun: number;
  /** Swaps in the swap workload run (Staccato only; 0 skips it). */
  swapTx: number;
  /** Funded sender accounts that the load is spread over. */
  senders: number;
  /** Raw transactions per JSON-RPC batch when sending load. */
  sendBatch: number;
  /** HTTP requests in flight when sending load. */
  sendConcurrency: number;
  /** Receipt poll interval (ms) while waiting for inclusion. */
  pollMs: number;
  /** Offered load (tx/s) and duration (s) of the latency figure. */
  latencyRate: number;
  latencySeconds: number;
  /** Sequential eth_sendRawTransactionSync calls, capped by a per-target time budget. */
  syncTx: number;
  syncMaxSeconds: number;
  /** Backlog figure: on/off and size. */
  backlog: boolean;
  backlogTx: number;
  /** Block gas limit for Anvil when Staccato's is unknown (Staccato not measured or not up). */
  gasLimit: bigint;
  /** Give up on a run when no transaction is included for this long. */
  stallSeconds: number;
  signer: SignerChoice;
  /** Forward the targets' stdout/stderr to ours. */
  verbose: boolean;
  /** Directory for a V8 CPU profile of the Staccato sequencer (`--cpu-prof`); null: none. */
  cpuProfDir: string | null;
}

function int(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw.replaceAll("_", ""));
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

function oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new Error(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}

function targetList(): TargetName[] {
  const raw = process.env.BENCH_TARGETS ?? "staccato,anvil";
  const names = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const n of names) {
    if (!(TARGET_NAMES as readonly string[]).includes(n)) {
      throw new Error(`BENCH_TARGETS: unknown target "${n}" (known: ${TARGET_NAMES.join(", ")})`);
    }
  }
  if (names.length === 0) throw new Error("BENCH_TARGETS is empty");
  // Staccato always starts first so Anvil can copy its block gas limit.
  return TARGET_NAMES.filter((t) => names.includes(t));
}

function kindList(): ("eth" | "erc20")[] {
  // Empty (BENCH_KINDS=) runs no transfer kind: e.g. the swap figures alone.
  const names = (process.env.BENCH_KINDS ?? "eth,erc20")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const n of names)
    if (n !== "eth" && n !== "erc20") throw new Error(`BENCH_KINDS: unknown kind "${n}" (known: eth, erc20)`);
  return (["eth", "erc20"] as const).filter((k) => names.includes(k));
}

/**
 * Staccato's dev-mode block gas limit when this was written. Anvil alone runs with it too, so
 * its figures match a two-target run; Anvil's own 30M default saturates blocks under this load
 * and the EIP-1559 base fee then compounds until the senders cannot pay.
 */
export const DEFAULT_GAS_LIMIT = 2_000_000_000n;

export function loadConfig(): BenchConfig {
  const gasLimit = process.env.BENCH_GAS_LIMIT;
  const sendBatch = int("BENCH_SEND_BATCH", 50, 1);
  return {
    targets: targetList(),
    kinds: kindList(),
    runs: int("BENCH_RUNS", 3, 1),
    txPerRun: int("BENCH_TX", 20_000, 1),
    swapTx: int("BENCH_SWAP_TX", 5_000, 0),
    senders: int("BENCH_SENDERS", 32, 1),
    sendBatch,
    // ~200 transactions in flight by default: 4 batches of 50, or 96 single requests.
    sendConcurrency: int("BENCH_SEND_CONCURRENCY", sendBatch === 1 ? 96 : 4, 1),
    pollMs: int("BENCH_POLL_MS", 3, 1),
    latencyRate: int("BENCH_LATENCY_RATE", 1_000, 1),
    latencySeconds: int("BENCH_LATENCY_S", 10, 1),
    syncTx: int("BENCH_SYNC_TX", 200, 0),
    syncMaxSeconds: int("BENCH_SYNC_MAX_S", 20, 1),
    backlog: process.env.BENCH_BACKLOG !== "0",
    backlogTx: int("BENCH_BACKLOG_TX", 50_000, 1),
    gasLimit: gasLimit === undefined || gasLimit === "" ? DEFAULT_GAS_LIMIT : BigInt(gasLimit),
    stallSeconds: int("BENCH_STALL_S", 30, 1),
    signer: oneOf("BENCH_SIGNER", SIGNERS, "auto"),
    verbose: process.env.BENCH_VERBOSE === "1",
    cpuProfDir: process.env.BENCH_CPU_PROF_DIR || null,
  };
}
