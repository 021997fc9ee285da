/**
 * What the micro-benchmarks share: a chain (id 1337), one block to execute in, deterministic
 * sender keys, and signed transactions as the sequencer's pool leaves them.
 */
import { type TypedTransaction, createFeeMarket1559Tx, createTxFromRLP } from "@ethereumjs/tx";
import { bytesToHex } from "@ethereumjs/util";
import {
  createEthCommon,
  executionBlock,
  type Executor,
  keccak256,
  KECCAK256_NULL,
  MemoryState,
  type SigningKey,
  signingKeyFromPrivate,
} from "@staccato/common";
import { deployData } from "../erc20.ts";

export const CHAIN_ID = 1337;
export const common = createEthCommon({ chainId: CHAIN_ID });

/** Block 1's header fields as execution reads them (base fee 7 wei, 2 G gas). */
export const blockEnv = {
  number: 1n,
  timestamp: 1_700_000_000n,
  baseFee: 7n,
  gasLimit: 2_000_000_000n,
  coinbase: new Uint8Array(20).fill(0xcb),
  prevRandao: new Uint8Array(32),
};
export const block = executionBlock(blockEnv, common);

/** Deterministic keys: `keccak256(1, i)`. */
export const senderKeys = (n: number): SigningKey[] =>
  Array.from({ length: n }, (_, i) => signingKeyFromPrivate(keccak256(Uint8Array.of(1, i))));

/** A state holding only `keys`' accounts, each with 10^24 wei, its diff taken. */
export function fundedState(keys: readonly SigningKey[]): MemoryState {
  const state = new MemoryState();
  for (const k of keys)
    state.writeAccount(bytesToHex(k.address), { nonce: 0n, balance: 10n ** 24n, codeHash: KECCAK256_NULL });
  state.takeDiff();
  return state;
}

/** An EIP-1559 transaction (fee cap 100 wei, tip 1), signed, as the pool leaves it. */
export function pooledTx(
  key: SigningKey,
  fields: { nonce: number | bigint; to?: Uint8Array; value?: bigint; data?: `0x${string}`; gasLimit: bigint },
): TypedTransaction {
  const signed = createFeeMarket1559Tx(
    {
      chainId: BigInt(CHAIN_ID),
      maxFeePerGas: 100n,
      maxPriorityFeePerGas: 1n,
      ...fields,
      nonce: BigInt(fields.nonce),
    },
    { common },
  ).sign(key.privateKey);
  // Decoded unfrozen, its sender recovered once and pinned, as the pool leaves it.
  const tx = createTxFromRLP(signed.serialize(), { common, freeze: false });
  const sender = signed.getSenderAddress();
  tx.getSenderAddress = () => sender;
  return tx;
}

/** `owner` (nonce 0) deploys the bench token with 10^30 units to itself. */
export async function deployToken(
  ex: Executor,
  owner: SigningKey,
): Promise<{ token: Uint8Array; gasUsed: bigint }> {
  const tx = pooledTx(owner, { nonce: 0, data: deployData(10n ** 30n), gasLimit: 3_000_000n });
  const out = await ex.execute(tx, block, 0n);
  if (!out.ok || out.receipt.contractAddress === null) throw new Error("token deploy failed");
  return { token: out.receipt.contractAddress, gasUsed: out.receipt.cumulativeGasUsed };
}

/** `n` plain transfers of 1 wei to fresh recipients, round-robin over `keys` (nonces from 0). */
export function freshTransfers(keys: readonly SigningKey[], n: number, round: number): TypedTransaction[] {
  return Array.from({ length: n }, (_, i) =>
    pooledTx(keys[i % keys.length]!, {
      nonce: Math.floor(i / keys.length),
      gasLimit: 21_000n,
      to: keccak256(Uint8Array.of(2, round, i & 0xff, i >> 8)).subarray(12),
      value: 1n,
    }),
  );
}
