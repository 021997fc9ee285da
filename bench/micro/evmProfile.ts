/**
 * Where an ERC-20 transfer's execution time goes inside `@ethereumjs/evm`: the bench token's
 * `transfer` as a message call (`evm.runCall`, the EVM alone, without `runTx`'s fee and receipt
 * work), timed plainly, then again under the EVM's own profiler, which reports the time per
 * opcode and the call's set-up ("Initialization": message, checkpoint, account and code loads)
 * and interpreter overhead ("Overhead": jump-destination analysis, the step loop). The profiler
 * adds its own cost to every step, so its figures are for shares, not for totals.
 * Run: node --import tsx bench/micro/evmProfile.ts   (env N = calls per measurement, TOP)
 */
import { Address, bytesToHex } from "@ethereumjs/util";
import type { Hex } from "viem";
import { transferData } from "../erc20.ts";
import { Executor, keccak256 } from "@staccato/common";
import { block, common, deployToken, fundedState, senderKeys } from "./fixtures.ts";

const N = Number(process.env.N ?? 3_000);
const TOP = Number(process.env.TOP ?? 20);
const owner = senderKeys(1)[0]!;
const state = fundedState([owner]);
const ex = await Executor.create(common, state, async () => undefined);
const token = new Address((await deployToken(ex, owner)).token);
const caller = new Address(owner.address);
const calls = Array.from({ length: N }, (_, i) =>
  transferData(bytesToHex(keccak256(Uint8Array.of(3, i & 0xff, i >> 8)).subarray(12)) as Hex, 1n),
);

// biome-ignore lint/suspicious/noExplicitAny: the executor's EVM, for a second one on the same state
const evm = (ex as any).vm.evm;
// biome-ignore lint/suspicious/noExplicitAny: ethereumjs' EVM options, as createEVM passes them
async function transfers(target: any): Promise<number> {
  await state.checkpoint();
  const t0 = performance.now();
  for (const data of calls) {
    const r = await target.runCall({
      caller,
      origin: caller,
      to: token,
      data: hexBytes(data),
      gasLimit: 100_000n,
      block,
    });
    if (r.execResult.exceptionError !== undefined)
      throw new Error(`transfer failed: ${r.execResult.exceptionError.error}`);
  }
  const us = ((performance.now() - t0) * 1000) / N;
  await state.revert();
  return us;
}
const hexBytes = (h: Hex) => Uint8Array.from(Buffer.from(h.slice(2), "hex"));

await transfers(evm); // warm-up
const plain = [await transfers(evm), await transfers(evm), await transfers(evm)].sort((a, b) => a - b)[1]!;
const profiled = new evm.constructor({
  common,
  stateManager: state,
  blockchain: evm.blockchain,
  bn254: evm._optsCached.bn254,
  profiler: { enabled: true },
});
await transfers(profiled); // warm-up, then only the second run's logs
profiled.clearPerformanceLogs();
await transfers(profiled);
const logs = profiled.getPerformanceLogs() as {
  opcodes: { tag: string; calls: number; totalTime: number }[];
};

const emit = (name: string, value: number, unit: string) =>
  process.stdout.write(`${JSON.stringify({ name, value: Math.round(value * 100) / 100, unit })}\n`);
emit("erc20_transfer_run_call_us", plain, "us/call");
const rows = logs.opcodes
  .map((o) => ({ tag: o.tag, perTransfer: (o.totalTime * 1000) / N, callsPerTransfer: o.calls / N }))
  .sort((a, b) => b.perTransfer - a.perTransfer);
const total = rows.reduce((s, r) => s + r.perTransfer, 0);
emit("erc20_transfer_profiled_us", total, "us/call");
for (const r of rows.slice(0, TOP)) emit(`erc20_transfer_share.${r.tag}`, (100 * r.perTransfer) / total, "%");
for (const r of rows.slice(0, TOP)) {
  process.stderr.write(
    `${r.tag.padEnd(16)} ${r.perTransfer.toFixed(1).padStart(6)} us/transfer  ${r.callsPerTransfer.toFixed(0).padStart(3)}x  ${(r.perTransfer / r.callsPerTransfer).toFixed(2)} us each\n`,
  );
}
