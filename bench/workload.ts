import type { Hex } from "viem";
import type { Chain } from "./chain.ts";
import { transferData } from "./erc20.ts";
import { log } from "./report.ts";
import type { Key, SignedTx, Signer, UnsignedTx } from "./signer.ts";

/**
 * Pre-signed load for one target: N transfers spread evenly over the funded senders, with
 * sequential nonces, interleaved round-robin (nonce k of every sender, then nonce k+1...) so
 * that a sender's transactions reach the target in nonce order even with many requests in
 * flight.
 */

export type TxKind = "eth" | "erc20";

/** A target prepared for load: funded senders and, once deployed, the token. */
export interface LoadEnv {
  chain: Chain;
  signer: Signer;
  senders: Key[];
  recipients: Hex[];
  token: Hex | null;
  /** Gas limit used for each ERC-20 transfer (estimated on this target, plus a margin). */
  erc20Gas: bigint;
  /** Token balance each sender must have once everything sent so far is included. */
  tokenBalance: Map<Hex, bigint>;
}

export interface Workload {
  kind: TxKind | "swap";
  /** In send order. */
  txs: SignedTx[];
  /** Per sender (same order as `LoadEnv.senders`): its highest-nonce transaction. */
  lastHashes: Hex[];
  /** Per sender: the account nonce once the whole workload is included. */
  endNonces: number[];
  gasPerTx: bigint;
}

export const ETH_TRANSFER_VALUE = 1_000_000_000n; // 1 gwei
export const TOKEN_TRANSFER_AMOUNT = 1n;

export function gasPerTx(env: LoadEnv, kind: TxKind): bigint {
  return kind === "eth" ? 21_000n : env.erc20Gas;
}

export async function buildWorkload(env: LoadEnv, kind: TxKind, n: number): Promise<Workload> {
  const t0 = performance.now();
  const { chain, senders, recipients } = env;
  if (kind === "erc20" && env.token === null) throw new Error("no token deployed");
  const gas = gasPerTx(env, kind);
  const fees = await chain.fees(gas * BigInt(n));
  await assertAffordable(env, kind, n, gas, fees.maxFeePerGas);
  const perSender: SignedTx[][] = [];
  const endNonces: number[] = [];
  let r = 0;
  for (let s = 0; s < senders.length; s++) {
    const key = senders[s]!;
    const count = Math.floor(n / senders.length) + (s < n % senders.length ? 1 : 0);
    const first = await chain.reserveNonces(key, count);
    const unsigned: UnsignedTx[] = new Array(count);
    for (let k = 0; k < count; k++) {
      const to = recipients[r++ % recipients.length]!;
      unsigned[k] =
        kind === "eth"
          ? { nonce: first + k, to, value: ETH_TRANSFER_VALUE, data: "0x", gas, ...fees }
          : {
              nonce: first + k,
              to: env.token!,
              value: 0n,
              data: transferData(to, TOKEN_TRANSFER_AMOUNT),
              gas,
              ...fees,
            };
    }
    perSender.push(await env.signer.sign(unsigned, key, chain.chainId));
    endNonces.push(first + count);
    if (kind === "erc20") {
      const before = env.tokenBalance.get(key.address) ?? 0n;
      env.tokenBalance.set(key.address, before - TOKEN_TRANSFER_AMOUNT * BigInt(count));
    }
  }
  const txs: SignedTx[] = [];
  const lastHashes: Hex[] = [];
  const longest = Math.max(...perSender.map((l) => l.length));
  for (let k = 0; k < longest; k++) {
    for (const list of perSender) if (k < list.length) txs.push(list[k]!);
  }
  for (const list of perSender) if (list.length > 0) lastHashes.push(list[list.length - 1]!.hash);
  const ms = performance.now() - t0;
  log(
    `${chain.target.name}: pre-signed ${n} ${kind} transfers in ${ms.toFixed(0)} ms ` +
      `(maxFee ${fees.maxFeePerGas} wei, tip ${fees.maxPriorityFeePerGas} wei, gas ${gas})`,
  );
  return { kind, txs, lastHashes, endNonces, gasPerTx: gas };
}

/**
 * Every sender must be able to pay for its share at the worst-case fee, or the target's pool
 * rightly rejects the load. This fails when the EIP-1559 base fee has compounded over many full
 * blocks (e.g. Anvil at its default 30M gas limit under back-to-back saturating runs), and says so.
 */
async function assertAffordable(
  env: LoadEnv,
  kind: TxKind,
  n: number,
  gas: bigint,
  maxFee: bigint,
): Promise<void> {
  const perSender = BigInt(Math.ceil(n / env.senders.length));
  const value = kind === "eth" ? ETH_TRANSFER_VALUE : 0n;
  const need = perSender * (gas * maxFee + value);
  const balances = await env.chain.rpc.batchOk<Hex>(
    env.senders.map((s) => ({ method: "eth_getBalance", params: [s.address, "latest"] })),
  );
  const poorest = balances.reduce((m, b) => (BigInt(b) < m ? BigInt(b) : m), BigInt(balances[0]!));
  if (poorest < need) {
    throw new Error(
      `senders cannot afford ${perSender} txs at maxFeePerGas ${maxFee} wei (need ${need} wei, poorest has ${poorest}): ` +
        "the base fee compounded over saturated blocks; raise the block gas limit (BENCH_GAS_LIMIT for Anvil alone)",
    );
  }
}
