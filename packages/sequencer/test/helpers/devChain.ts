import { randomBytes } from "node:crypto";
import { HDNodeWallet, JsonRpcProvider, Network } from "ethers";
import { type Chain, type Hex, defineChain } from "viem";
import {
  type HDAccount,
  mnemonicToAccount,
  type PrivateKeyAccount,
  privateKeyToAccount,
} from "viem/accounts";

/** The dev chain `--dev` generates (DESIGN §8, README). */
export const DEV_CHAIN_ID = 21364;
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";
/** Each of the mnemonic's first 20 accounts starts with this balance. */
export const DEV_BALANCE = 10_000n * 10n ** 18n;
export const ZERO_HASH = `0x${"00".repeat(32)}` as const;
export const GWEI = 1_000_000_000n;

export function devChain(rpcUrl: string, wsUrl?: string): Chain {
  return defineChain({
    id: DEV_CHAIN_ID,
    name: "Staccato dev",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl], ...(wsUrl === undefined ? {} : { webSocket: [wsUrl] }) } },
  });
}

const hdCache = new Map<number, HDAccount>();

/** Dev account `i` (m/44'/60'/0'/0/i) as a viem account. */
export function devAccount(i: number): HDAccount {
  let a = hdCache.get(i);
  if (a === undefined) {
    a = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i });
    hdCache.set(i, a);
  }
  return a;
}

export function devPrivateKey(i: number): Hex {
  const pk = devAccount(i).getHdKey().privateKey;
  if (pk === null) throw new Error("mnemonic derivation gave no private key");
  return `0x${Buffer.from(pk).toString("hex")}`;
}

/** A viem local account signing with dev key `i` (privateKeyToAccount: cheaper to sign with in bulk). */
export function devKeyAccount(i: number): PrivateKeyAccount {
  return privateKeyToAccount(devPrivateKey(i));
}

/** An ethers provider polling every 50 ms, pinned to the dev network (no chain-id probing). */
export function ethersProvider(rpcUrl: string): JsonRpcProvider {
  return new JsonRpcProvider(rpcUrl, Network.from(DEV_CHAIN_ID), {
    staticNetwork: true,
    pollingInterval: 50,
    batchMaxCount: 1,
    cacheTimeout: -1,
  });
}

/** Dev account `i` as an ethers wallet (HDNodeWallet.fromPhrase, path m/44'/60'/0'/0/i). */
export function ethersWallet(i: number, provider: JsonRpcProvider): HDNodeWallet {
  return HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).connect(provider);
}

/** A fresh random address no one has touched (a recipient whose balance starts at zero). */
export function freshAddress(): Hex {
  return `0x${randomBytes(20).toString("hex")}`;
}
