/**
 * Trace latency: debug_traceTransaction with the callTracer and with the struct logger, for an
 * ERC-20 transfer and for a Uniswap-V2-style swap (the bench's own contracts, erc20.ts and
 * swap.ts), against a fresh sequencer. Each trace re-executes its block up to the transaction, so
 * every traced transaction is sent alone in its block. Figures as JSON lines (p50 and p99 over
 * BENCH_TRACES requests, default 200, one at a time):
 *
 *   node --import tsx bench/traces.ts
 */
import {
  type Hex,
  createPublicClient,
  createWalletClient,
  encodeAbiParameters,
  encodeFunctionData,
  http,
  parseAbi,
} from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { deployData, transferData } from "./erc20.ts";
import { Report, log, percentile } from "./report.ts";
import { swapBytecode } from "./swap.ts";
import { installCleanupHandlers, startStaccato } from "./targets.ts";

const N = Number(process.env.BENCH_TRACES ?? 200);
const ABI = parseAbi([
  "function approve(address spender, uint256 amount) returns (bool)",
  "function token0() view returns (address)",
  "function addLiquidity(address pair, uint256 amount0, uint256 amount1, address to) returns (uint256)",
  "function swapExactTokensForTokens(address pair, uint256 amountIn, uint256 amountOutMin, bool zeroForOne, address to) returns (uint256)",
]);

async function main(): Promise<number> {
  installCleanupHandlers();
  const report = new Report();
  const target = await startStaccato(false);
  try {
    const account = mnemonicToAccount("test test test test test test test test test test test junk");
    const transport = http(target.rpcUrl);
    const pub = createPublicClient({ transport, pollingInterval: 20 });
    const chainId = await pub.getChainId();
    const chain = {
      id: chainId,
      name: "staccato",
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [target.rpcUrl] } },
    } as const;
    const wallet = createWalletClient({ chain, transport, account });
    const send = async (to: Hex | null, data: Hex, gas = 3_000_000n) => {
      const hash = await wallet.sendTransaction({ to, data, gas, chain, account });
      const r = await pub.waitForTransactionReceipt({ hash, pollingInterval: 20 });
      if (r.status !== "success") throw new Error(`setup transaction ${hash} failed`);
      return r;
    };
    const rpc = async (method: string, params: unknown[]) => {
      const res = await fetch(target.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      });
      const j = (await res.json()) as { result?: unknown; error?: { message: string } };
      if (j.error !== undefined) throw new Error(`${method}: ${j.error.message}`);
      return j.result;
    };

    log("setting up the ERC-20 and the swap pair");
    const token = (await send(null, deployData(10n ** 30n))).contractAddress!;
    const transfer = (await send(token, transferData(`0x${"12".repeat(20)}`, 1000n), 100_000n))
      .transactionHash;
    const code = swapBytecode();
    const supply = encodeAbiParameters([{ type: "uint256" }], [10n ** 30n]).slice(2);
    const a = (await send(null, `${code.SwapToken}${supply}`)).contractAddress!;
    const b = (await send(null, `${code.SwapToken}${supply}`)).contractAddress!;
    const router = (await send(null, code.BenchRouter)).contractAddress!;
    const pairArgs = encodeAbiParameters([{ type: "address" }, { type: "address" }], [a, b]).slice(2);
    const pair = (await send(null, `${code.BenchPair}${pairArgs}`)).contractAddress!;
    const max = 2n ** 256n - 1n;
    for (const t of [a, b])
      await send(t, encodeFunctionData({ abi: ABI, functionName: "approve", args: [router, max] }), 100_000n);
    await send(
      router,
      encodeFunctionData({
        abi: ABI,
        functionName: "addLiquidity",
        args: [pair, 10n ** 24n, 10n ** 24n, account.address],
      }),
      500_000n,
    );
    const swap = (
      await send(
        router,
        encodeFunctionData({
          abi: ABI,
          functionName: "swapExactTokensForTokens",
          args: [pair, 10n ** 18n, 0n, true, account.address],
        }),
        300_000n,
      )
    ).transactionHash;

    const cases = [
      ["erc20_transfer", transfer],
      ["swap", swap],
    ] as const;
    const tracers = [
      ["call_tracer", { tracer: "callTracer" }],
      ["struct_logger", {}],
    ] as const;
    for (const [txName, hash] of cases) {
      for (const [tracerName, config] of tracers) {
        const name = `trace_latency.${tracerName}.${txName}`;
        try {
          for (let i = 0; i < 5; i++) await rpc("debug_traceTransaction", [hash, config]);
          const ms: number[] = [];
          for (let i = 0; i < N; i++) {
            const t0 = performance.now();
            await rpc("debug_traceTransaction", [hash, config]);
            ms.push(performance.now() - t0);
          }
          report.emit(`${name}.p50`, percentile(ms, 50), "ms");
          report.emit(`${name}.p99`, percentile(ms, 99), "ms");
        } catch (err) {
          report.fail(`${name}.p50`, "ms", err);
        }
      }
    }
    return report.failed === 0 ? 0 : 1;
  } finally {
    await target.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(`bench failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
