/**
 * Execution cost on one thread of a plain ETH transfer: the Executor with its plain-transfer
 * shortcut against the same Executor sending every transaction through `@ethereumjs/vm`'s `runTx`,
 * on the same pre-signed transfers (32 senders, fresh recipients), alternating, median of the
 * rounds; and of an ERC-20 transfer (the bench's token, always through `runTx`), for scale.
 * Execution only: no RPC, pool, sealing or log. Asserts that both transfer paths leave the same state.
 * Run: node --import tsx bench/micro/transfer.ts   (env N = transfers per round, ROUNDS)
 */
import { type TypedTransaction, createFeeMarket1559Tx, createTxFromRLP } from "@ethereumjs/tx";
import { bytesToHex } from "@ethereumjs/util";
import type { Hex } from "viem";
import { deployData, transferData } from "../erc20.ts";
import { executionBlock } from "../../packages/common/src/chain/blockHeader.ts";
import { createEthCommon } from "../../packages/common/src/chain/ethCommon.ts";
import { KECCAK256_NULL, keccak256 } from "../../packages/common/src/crypto/keccak.ts";
import { signingKeyFromPrivate } from "../../packages/common/src/crypto/secp256k1.ts";
import { Executor } from "../../packages/common/src/execution/executor.ts";
import { MemoryState } from "../../packages/common/src/state/memoryState.ts";

const N = Number(process.env.N ?? 5_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const common = createEthCommon({ chainId: 1337 });
const senders = Array.from({ length: 32 }, (_, i) => signingKeyFromPrivate(keccak256(Uint8Array.of(1, i))));
const block = executionBlock(
  {
    number: 1n,
    timestamp: 1_700_000_000n,
    baseFee: 7n,
    gasLimit: 2_000_000_000n,
    coinbase: new Uint8Array(20).fill(0xcb),
    prevRandao: new Uint8Array(32),
  },
  common,
);

function transfers(round: number) {
  return Array.from({ length: N }, (_, i) => {
    const s = senders[i % senders.length]!;
    const to = keccak256(Uint8Array.of(2, round, i & 0xff, i >> 8)).subarray(12);
    const signed = createFeeMarket1559Tx(
      {
        chainId: 1337n,
        nonce: BigInt(Math.floor(i / senders.length)),
        maxFeePerGas: 100n,
        maxPriorityFeePerGas: 1n,
        gasLimit: 21_000n,
        to,
        value: 1n,
      },
      { common },
    ).sign(s.privateKey);
    return asPooled(signed);
  });
}

/** A signed transaction as the pool leaves it: decoded unfrozen, its sender recovered once and pinned. */
function asPooled(signed: TypedTransaction): TypedTransaction {
  const tx = createTxFromRLP(signed.serialize(), { common, freeze: false });
  const sender = signed.getSenderAddress();
  tx.getSenderAddress = () => sender;
  return tx;
}

async function run(plainTransfers: boolean, round: number): Promise<{ us: number; root: string }> {
  const state = new MemoryState();
  for (const s of senders)
    state.writeAccount(bytesToHex(s.address), { nonce: 0n, balance: 10n ** 24n, codeHash: KECCAK256_NULL });
  state.takeDiff();
  const ex = await Executor.create(common, state, async () => undefined, { plainTransfers });
  const txs = transfers(round);
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
  const state = new MemoryState();
  state.writeAccount(bytesToHex(owner.address), { nonce: 0n, balance: 10n ** 24n, codeHash: KECCAK256_NULL });
  state.takeDiff();
  const ex = await Executor.create(common, state, async () => undefined);
  const sign = (nonce: number, to: Uint8Array | undefined, data: Hex, gasLimit: bigint) => {
    const signed = createFeeMarket1559Tx(
      { chainId: 1337n, nonce, maxFeePerGas: 100n, maxPriorityFeePerGas: 1n, gasLimit, to, data },
      { common },
    ).sign(owner.privateKey);
    return asPooled(signed);
  };
  const deployed = await ex.execute(sign(0, undefined, deployData(10n ** 30n), 3_000_000n), block, 0n);
  if (!deployed.ok || deployed.receipt.contractAddress === null) throw new Error("token deploy failed");
  const token = deployed.receipt.contractAddress;
  const txs = Array.from({ length: N }, (_, i) => {
    const to = bytesToHex(keccak256(Uint8Array.of(3, round, i & 0xff, i >> 8)).subarray(12)) as Hex;
    return sign(i + 1, token, transferData(to, 1n), 100_000n);
  });
  let gas = deployed.receipt.cumulativeGasUsed;
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
