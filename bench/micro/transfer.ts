/**
 * Execution cost on one thread of a plain ETH transfer: the Executor with its plain-transfer
 * shortcut against the same Executor sending every transaction through `@ethereumjs/vm`'s `runTx`,
 * on the same pre-signed transfers (32 senders, fresh recipients), alternating, median of the
 * rounds; and of an ERC-20 transfer (the bench's token, always through `runTx`), for scale.
 * Execution only: no RPC, pool, sealing or log. Asserts that both transfer paths leave the same state.
 * Run: node --import tsx bench/micro/transfer.ts   (env N = transfers per round, ROUNDS)
 */
import { bytesToHex } from "@ethereumjs/util";
import type { Hex } from "viem";
import { transferData } from "../erc20.ts";
import { Executor, keccak256 } from "@staccato/common";
import { block, common, deployToken, fundedState, freshTransfers, pooledTx, senderKeys } from "./fixtures.ts";

const N = Number(process.env.N ?? 5_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const senders = senderKeys(32);

async function run(plainTransfers: boolean, round: number): Promise<{ us: number; root: string }> {
  const state = fundedState(senders);
  const ex = await Executor.create(common, state, async () => undefined, { plainTransfers });
  const txs = freshTransfers(senders, N, round);
  let gas = 0n;
  const t0 = performance.now();
  for (const tx of txs) {
    const out = await ex.execute(tx, block, gas);
    if (!out.ok) throw new Error(`transfer failed: ${out.reason}`);
    gas = out.receipt.cumulativeGasUsed;
  }
  const us = ((performance.now() - t0) * 1000) / N;
  const { diff } = state.takeDiff();
  const root = bytesToHex(
    keccak256(
      new TextEncoder().encode(
        JSON.stringify(diff, (_, v) =>
          typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? bytesToHex(v) : v,
        ),
      ),
    ),
  );
  return { us, root };
}

/** One sender deploys the token, then sends it to fresh addresses. */
async function erc20Round(round: number): Promise<number> {
  const owner = senders[0]!;
  const ex = await Executor.create(common, fundedState([owner]), async () => undefined);
  const deployed = await deployToken(ex, owner);
  const txs = Array.from({ length: N }, (_, i) => {
    const to = bytesToHex(keccak256(Uint8Array.of(3, round, i & 0xff, i >> 8)).subarray(12)) as Hex;
    return pooledTx(owner, {
      nonce: i + 1,
      to: deployed.token,
      data: transferData(to, 1n),
      gasLimit: 100_000n,
    });
  });
  let gas = deployed.gasUsed;
  const t0 = performance.now();
  for (const tx of txs) {
    const out = await ex.execute(tx, block, gas);
    if (!out.ok || out.receipt.status !== 1) throw new Error("token transfer failed");
    gas = out.receipt.cumulativeGasUsed;
  }
  return ((performance.now() - t0) * 1000) / N;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fast: number[] = [];
const full: number[] = [];
await run(true, 99);
await run(false, 99);
for (let r = 0; r < ROUNDS; r++) {
  const a = await run(true, r);
  const b = await run(false, r);
  if (a.root !== b.root) throw new Error(`round ${r}: the two paths left different states`);
  fast.push(a.us);
  full.push(b.us);
}
const erc20: number[] = [];
await erc20Round(99);
for (let r = 0; r < ROUNDS; r++) erc20.push(await erc20Round(r));
const emit = (name: string, value: number, unit: string) =>
  process.stdout.write(`${JSON.stringify({ name, value: Math.round(value * 100) / 100, unit })}\n`);
emit("execute_eth_transfer_us.plain_transfer_path", median(fast), "us/tx");
emit("execute_eth_transfer_us.run_tx", median(full), "us/tx");
emit("execute_eth_transfer_speedup", median(full) / median(fast), "x");
emit("execute_erc20_transfer_us.run_tx", median(erc20), "us/tx");
