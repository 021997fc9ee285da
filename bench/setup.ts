import type { Hex } from "viem";
import type { Chain } from "./chain.ts";
import { balanceOfData, decodeBalance, deployData, transferData } from "./erc20.ts";
import { log } from "./report.ts";
import { METHOD_NOT_FOUND, RpcError } from "./rpc.ts";
import { type Key, type Signer, benchAddress, benchKey, devKey } from "./signer.ts";
import type { LoadEnv } from "./workload.ts";

/**
 * Untimed preparation of one target: fund fresh senders from the dev accounts, deploy the
 * token, give every sender a token balance, and estimate the ERC-20 transfer gas.
 */

const ETHER = 10n ** 18n;
const MAX_FUNDING = 1_000n * ETHER;
const TOKEN_SUPPLY = 2n ** 128n;
const RECIPIENTS = 1_024;
/**
 * Dev accounts 1..9 fund the senders; account 0 deploys and distributes the token. Anvil
 * prefunds only 10 dev accounts by default (Staccato 20), so stay within the first 10.
 */
const FUNDERS = 9;

export async function prepareTarget(chain: Chain, signer: Signer, senderCount: number): Promise<LoadEnv> {
  const t0 = performance.now();
  const senders: Key[] = Array.from({ length: senderCount }, (_, i) => benchKey("sender", i));
  const recipients: Hex[] = Array.from({ length: RECIPIENTS }, (_, i) => benchAddress("recipient", i));
  const deployer = devKey(0);
  const funders = Array.from({ length: FUNDERS }, (_, i) => devKey(i + 1));

  // Fund: sender i from dev account 1 + (i mod 9), at most 1,000 ETH, never more than the
  // funder can spare.
  const perFunder = Math.ceil(senderCount / FUNDERS);
  const funderBalances = await Promise.all(funders.map((f) => chain.balance(f.address)));
  await chain.setupTxs(
    signer,
    senders.map((s, i) => {
      const f = i % FUNDERS;
      const spare = (funderBalances[f]! * 9n) / 10n / BigInt(perFunder);
      const value = spare < MAX_FUNDING ? spare : MAX_FUNDING;
      if (value === 0n) throw new Error(`dev account ${f + 1} (${funders[f]!.address}) has no balance`);
      return { key: funders[f]!, tx: { to: s.address, value, data: "0x" as Hex, gas: 21_000n } };
    }),
  );

  const deploy = deployData(TOKEN_SUPPLY);
  const deployGas = await estimate(chain, { from: deployer.address, data: deploy }, 1_500_000n);
  const [deployed] = await chain.setupTxs(signer, [
    { key: deployer, tx: { to: null, value: 0n, data: deploy, gas: deployGas } },
  ]);
  const token = deployed!.contractAddress;
  if (!token) throw new Error("token deployment receipt has no contractAddress");

  const perSender = TOKEN_SUPPLY / 2n / BigInt(senderCount);
  const distributeGas = await estimate(
    chain,
    { from: deployer.address, to: token, data: transferData(senders[0]!.address, perSender) },
    100_000n,
  );
  await chain.setupTxs(
    signer,
    senders.map((s) => ({
      key: deployer,
      tx: { to: token, value: 0n, data: transferData(s.address, perSender), gas: distributeGas },
    })),
  );
  const tokenBalance = new Map<Hex, bigint>();
  const balances = await chain.rpc.batchOk<Hex>(
    senders.map((s) => ({
      method: "eth_call",
      params: [{ to: token, data: balanceOfData(s.address) }, "latest"],
    })),
  );
  balances.forEach((b, i) => {
    if (decodeBalance(b) !== perSender) throw new Error(`sender ${i} got ${decodeBalance(b)} tokens`);
    tokenBalance.set(senders[i]!.address, perSender);
  });

  // A transfer to a recipient that holds no tokens yet is the most expensive case.
  const erc20Gas = await estimate(
    chain,
    { from: senders[0]!.address, to: token, data: transferData(benchAddress("fresh", 0), 1n) },
    70_000n,
  );
  log(
    `${chain.target.name}: prepared ${senderCount} senders, token ${token}, ERC-20 transfer gas limit ` +
      `${erc20Gas} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  return { chain, signer, senders, recipients, token, erc20Gas, tokenBalance };
}

/** eth_estimateGas plus 10%, or `fallback` when the target does not implement it. */
async function estimate(
  chain: Chain,
  call: { from: Hex; to?: Hex; data: Hex },
  fallback: bigint,
): Promise<bigint> {
  try {
    const gas = BigInt(await chain.rpc.call<Hex>("eth_estimateGas", [call]));
    return (gas * 11n) / 10n;
  } catch (err) {
    if (err instanceof RpcError && err.code === METHOD_NOT_FOUND) {
      log(`${chain.target.name}: no eth_estimateGas, using ${fallback}`);
      return fallback;
    }
    throw err;
  }
}

/** After a failed run: forget local nonces and re-read token balances, so later runs start clean. */
export async function resync(env: LoadEnv): Promise<void> {
  env.chain.forgetNonce();
  if (env.token === null) return;
  const balances = await env.chain.rpc.batchOk<Hex>(
    env.senders.map((s) => ({
      method: "eth_call",
      params: [{ to: env.token, data: balanceOfData(s.address) }, "latest"],
    })),
  );
  balances.forEach((b, i) => {
    env.tokenBalance.set(env.senders[i]!.address, decodeBalance(b));
  });
}
