/**
 * Execution cost per transaction on one thread, fast EVM against `@ethereumjs/vm`'s `runTx`, for
 * four workloads: a plain ETH transfer (through the EVM engine, the plain-transfer shortcut off),
 * the bench token's ERC-20 `transfer`, a swap through the bench's Uniswap-V2-style router and
 * pair (`bench/swap.ts`), and a compute-heavy call (a loop of keccak, multiplications and shifts).
 * Each round builds the same state for both engines, times N pre-signed transactions on each
 * (alternating which goes first), and checks that both left the same state diff. Median of rounds.
 * Execution only: no RPC, pool, sealing or log.
 * Run: node --import tsx bench/micro/evm.ts   (env N = transactions per round, ROUNDS, ONLY=erc20,swap,…,
 *      FAST_ONLY=1 to time the fast path alone, e.g. under --cpu-prof; COMPILE_AFTER=<runs> for the
 *      fast engine's block compiler, Infinity = interpreter only)
 * Allocation (fast path alone, KB of JavaScript heap a transaction; exact and not disturbed by a
 * noisy host, unlike time): ALLOC=1 N=500 node --expose-gc --min-semi-space-size=128
 *      --max-semi-space-size=128 --import tsx bench/micro/evm.ts
 *   The young generation is made big enough that no collection runs inside a round, so the growth
 *   of the used heap is what the round allocated; a round a collection interrupted is refused.
 */
import { getHeapStatistics } from "node:v8";
import { PerformanceObserver } from "node:perf_hooks";
import { bytesToHex } from "@ethereumjs/util";
import solc from "solc";
import { type Hex, encodeAbiParameters, encodeFunctionData, parseAbi } from "viem";
import { transferData } from "../erc20.ts";
import { swapBytecode } from "../swap.ts";
import {
  type ExecutionEngine,
  Executor,
  keccak256,
  type SigningKey,
  type TxFields,
  txFieldsOf,
} from "@staccato/common";
import type { TypedTransaction } from "@ethereumjs/tx";
import { block, common, deployToken, fundedState, freshTransfers, pooledTx, senderKeys } from "./fixtures.ts";

const N = Number(process.env.N ?? 2_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const ONLY = process.env.ONLY?.split(",");
/** FAST_ONLY=1: time the fast path alone (for a CPU profile of it: no comparison is made). */
const FAST_ONLY = process.env.FAST_ONLY === "1";
/**
 * The block compiler's threshold for the fast rounds. Default: never, as in the daemons. The
 * compute call is also timed compiled from its first run, below.
 */
const COMPILE_AFTER = Number(process.env.COMPILE_AFTER ?? Number.POSITIVE_INFINITY);
/** ALLOC=1: the fast path's heap allocation per transaction instead of its time (see above). */
const ALLOC = process.env.ALLOC === "1";
const gc = (globalThis as { gc?: () => void }).gc;
if (ALLOC && gc === undefined) throw new Error("ALLOC=1 needs node --expose-gc (see the header)");
/** Garbage collections seen (any kind), to refuse an allocation figure one interrupted. */
let collections = 0;
if (ALLOC)
  new PerformanceObserver((l) => (collections += l.getEntries().length)).observe({ entryTypes: ["gc"] });

const COMPUTE_SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
contract Compute {
    uint256 public last;
    function work(uint256 n) external returns (uint256 x) {
        x = last;
        unchecked {
            for (uint256 i = 0; i < n; i++) {
                x = uint256(keccak256(abi.encodePacked(x, i))) ^ ((x * 0x9e3779b97f4a7c15) >> 7) ^ (x << 3);
            }
        }
        last = x;
    }
}`;

function computeBytecode(): Hex {
  const input = {
    language: "Solidity",
    sources: { "Compute.sol": { content: COMPUTE_SOURCE } },
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
      outputSelection: { "*": { "*": ["evm.bytecode.object"] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)) as string);
  return `0x${out.contracts["Compute.sol"].Compute.evm.bytecode.object}`;
}

const ABI = parseAbi([
  "function approve(address spender, uint256 amount) returns (bool)",
  "function addLiquidity(address pair, uint256 amount0, uint256 amount1, address to) returns (uint256)",
  "function swapExactTokensForTokens(address pair, uint256 amountIn, uint256 amountOutMin, bool zeroForOne, address to) returns (uint256)",
  "function work(uint256 n) returns (uint256)",
]);
const hexBytes = (h: Hex) => Uint8Array.from(Buffer.from(h.slice(2), "hex"));

interface Workload {
  /** Untimed set-up on a fresh executor; returns the timed transactions. */
  prepare(ex: Executor, round: number): Promise<TypedTransaction[]>;
  gasLimitCheck?: (gasUsed: bigint) => void;
}

const owner = senderKeys(1)[0]!;
const transferSenders = senderKeys(32);
let nonce = 0;

/** Runs `tx`s in order; all must succeed with status 1. */
async function runAll(
  ex: Executor,
  txs: readonly (TxFields | TypedTransaction)[],
  gas0: bigint,
): Promise<bigint> {
  let gas = gas0;
  for (const tx of txs) {
    const out = await ex.execute(tx, block, gas);
    if (!out.ok) throw new Error(`transaction rejected: ${out.reason}`);
    if (out.receipt.status !== 1) throw new Error("transaction failed");
    gas = out.receipt.cumulativeGasUsed;
  }
  return gas;
}

async function deploy(ex: Executor, key: SigningKey, data: Hex, gas = 5_000_000n): Promise<Hex> {
  const tx = pooledTx(key, { nonce: nonce++, data, gasLimit: gas });
  const out = await ex.execute(tx, block, 0n);
  if (!out.ok || out.receipt.contractAddress === null || out.receipt.status !== 1)
    throw new Error("deploy failed");
  return bytesToHex(out.receipt.contractAddress) as Hex;
}

const call = (ex: Executor, to: Hex, data: Hex, gasLimit = 1_000_000n) =>
  runAll(ex, [pooledTx(owner, { nonce: nonce++, to: hexBytes(to), data, gasLimit })], 0n);

const workloads: Record<string, Workload> = {
  transfer: {
    async prepare(_ex, round) {
      return freshTransfers(transferSenders, N, round);
    },
  },
  erc20: {
    async prepare(ex, round) {
      nonce = 0;
      const { token } = await deployToken(ex, owner);
      nonce = 1;
      return Array.from({ length: N }, (_, i) =>
        pooledTx(owner, {
          nonce: nonce++,
          to: token,
          data: transferData(
            bytesToHex(keccak256(Uint8Array.of(3, round, i & 0xff, i >> 8)).subarray(12)) as Hex,
            1n,
          ),
          gasLimit: 100_000n,
        }),
      );
    },
  },
  swap: {
    async prepare(ex) {
      nonce = 0;
      const code = swapBytecode();
      const supply = encodeAbiParameters([{ type: "uint256" }], [10n ** 30n]).slice(2);
      const a = await deploy(ex, owner, `${code.SwapToken}${supply}`);
      const b = await deploy(ex, owner, `${code.SwapToken}${supply}`);
      const router = await deploy(ex, owner, code.BenchRouter);
      const pairArgs = encodeAbiParameters([{ type: "address" }, { type: "address" }], [a, b]).slice(2);
      const pair = await deploy(ex, owner, `${code.BenchPair}${pairArgs}`);
      for (const t of [a, b])
        await call(
          ex,
          t,
          encodeFunctionData({ abi: ABI, functionName: "approve", args: [router, 2n ** 256n - 1n] }),
        );
      await call(
        ex,
        router,
        encodeFunctionData({
          abi: ABI,
          functionName: "addLiquidity",
          args: [pair, 10n ** 28n, 10n ** 28n, bytesToHex(owner.address) as Hex],
        }),
      );
      return Array.from({ length: N }, (_, i) =>
        pooledTx(owner, {
          nonce: nonce++,
          to: hexBytes(router),
          data: encodeFunctionData({
            abi: ABI,
            functionName: "swapExactTokensForTokens",
            args: [pair, 10n ** 18n + BigInt(i), 1n, i % 2 === 0, bytesToHex(owner.address) as Hex],
          }),
          gasLimit: 300_000n,
        }),
      );
    },
  },
  compute: {
    async prepare(ex) {
      nonce = 0;
      const c = await deploy(ex, owner, computeBytecode());
      return Array.from({ length: Math.ceil(N / 10) }, () =>
        pooledTx(owner, {
          nonce: nonce++,
          to: hexBytes(c),
          data: encodeFunctionData({ abi: ABI, functionName: "work", args: [500n] }),
          gasLimit: 2_000_000n,
        }),
      );
    },
  },
};

async function round(
  name: string,
  w: Workload,
  engine: ExecutionEngine,
  r: number,
  compileAfter = COMPILE_AFTER,
): Promise<{ us: number; diff: string; allocKb: number }> {
  const state = fundedState(name === "transfer" ? transferSenders : [owner]);
  const ex = await Executor.create(common, state, async () => undefined, {
    engine,
    plainTransfers: false,
    compileAfter,
  });
  // As the sequencer's pool hands them over: fields decoded once on arrival (`TxDecoder`), not
  // an `@ethereumjs/tx` object whose intrinsic gas would be worked out again inside the timing.
  const txs = (await w.prepare(ex, r)).map(txFieldsOf);
  state.takeDiff();
  let heap0 = 0;
  let seen = 0;
  if (ALLOC) {
    gc!();
    await new Promise((r) => setTimeout(r, 10));
    seen = collections;
    heap0 = getHeapStatistics().used_heap_size;
  }
  const t0 = performance.now();
  await runAll(ex, txs, 0n);
  const us = ((performance.now() - t0) * 1000) / txs.length;
  let allocKb = Number.NaN;
  if (ALLOC) {
    allocKb = (getHeapStatistics().used_heap_size - heap0) / 1024 / txs.length;
    await new Promise((r) => setTimeout(r, 10));
    if (collections !== seen)
      throw new Error(`${name}: a collection ran inside the round: lower N or raise --min-semi-space-size`);
  }
  // The same state, whatever order the engines first touched the accounts in.
  const diff = state.takeDiff().diff.sort((a, b) => Buffer.compare(a.address, b.address));
  const digest = bytesToHex(
    keccak256(
      new TextEncoder().encode(
        JSON.stringify(diff, (_, v) =>
          typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? bytesToHex(v) : v,
        ),
      ),
    ),
  );
  return { us, diff: digest, allocKb };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const emit = (name: string, value: number, unit: string) =>
  process.stdout.write(`${JSON.stringify({ name, value: Math.round(value * 100) / 100, unit })}\n`);

for (const [name, w] of Object.entries(workloads)) {
  if (ONLY !== undefined && !ONLY.includes(name)) continue;
  const fast: number[] = [];
  const ref: number[] = [];
  /** Each round's state after `runTx`, for the compiled rounds to match too. */
  const want: string[] = [];
  await round(name, w, "fast", 99);
  if (ALLOC) {
    const kb: number[] = [];
    for (let r = 0; r < ROUNDS; r++) kb.push((await round(name, w, "fast", r)).allocKb);
    emit(`evm_alloc_kb.${name}.fast`, median(kb), "KB/tx");
    continue;
  }
  if (FAST_ONLY) {
    for (let r = 0; r < ROUNDS; r++) fast.push((await round(name, w, "fast", r)).us);
    emit(`evm_execute_us.${name}.fast`, median(fast), "us/tx");
    continue;
  }
  await round(name, w, "reference", 99);
  for (let r = 0; r < ROUNDS; r++) {
    const order: ExecutionEngine[] = r % 2 === 0 ? ["fast", "reference"] : ["reference", "fast"];
    const res: Partial<Record<ExecutionEngine, { us: number; diff: string }>> = {};
    for (const e of order) res[e] = await round(name, w, e, r);
    if (res.fast!.diff !== res.reference!.diff)
      throw new Error(`${name} round ${r}: the engines left different states`);
    fast.push(res.fast!.us);
    ref.push(res.reference!.us);
    want.push(res.reference!.diff);
  }
  emit(`evm_execute_us.${name}.fast`, median(fast), "us/tx");
  emit(`evm_execute_us.${name}.run_tx`, median(ref), "us/tx");
  emit(`evm_execute_speedup.${name}`, median(ref) / median(fast), "x");
  // The block compiler (blockCompiler.ts) from the first run of the code: pays off for loops.
  // Each round's code is new, so its compilation and warm-up are inside the figure.
  if (name === "compute") {
    const compiled: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const res = await round(name, w, "fast", r, 0);
      if (res.diff !== want[r])
        throw new Error(`compute round ${r}: compiled blocks left a different state than runTx`);
      compiled.push(res.us);
    }
    emit(`evm_execute_us.${name}.fast_compiled`, median(compiled), "us/tx");
  }
}
