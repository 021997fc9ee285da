import { createRequire } from "node:module";
import { type Hex, bytesToHex, keccak256 as viemKeccak } from "viem";
import { mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import type { SignerChoice } from "./config.ts";
import { log } from "./report.ts";

/**
 * Pre-signing EIP-1559 transactions. Two implementations that must produce identical bytes
 * (RFC 6979 signatures are deterministic): viem's `signTransaction` (pure-JS noble secp256k1,
 * ~2.6k tx/s here) and a minimal encoder on the native libsecp256k1 binding plus WebAssembly
 * keccak (an order of magnitude faster). The bench measures both at start, checks they agree and
 * signs with the faster one.
 *
 * The native pieces are the ones `packages/common` already depends on; they are loaded through
 * that package's resolution rather than added to the root.
 */

interface NativeSecp256k1 {
  ecdsaSign(msg32: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
  publicKeyCreate(privateKey: Uint8Array, compressed?: boolean): Uint8Array;
  privateKeyVerify(privateKey: Uint8Array): boolean;
}
type RlpInput = Uint8Array | bigint | number | RlpInput[];
interface Rlp {
  encode(input: RlpInput): Uint8Array;
}
interface Keccak {
  init(): unknown;
  update(data: Uint8Array): unknown;
  digest(format: "binary"): Uint8Array;
}
interface HashWasm {
  createKeccak(bits: 256): Promise<Keccak>;
}

const commonRequire = createRequire(new URL("../packages/common/package.json", import.meta.url));
const secp = commonRequire("secp256k1") as NativeSecp256k1;
const { RLP } = commonRequire("@ethereumjs/rlp") as { RLP: Rlp };
const hasher = await (commonRequire("hash-wasm") as HashWasm).createKeccak(256);

export function keccak(data: Uint8Array): Uint8Array {
  hasher.init();
  hasher.update(data);
  return hasher.digest("binary");
}

const toHexFast = (b: Uint8Array): string =>
  `0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")}`;

export interface Key {
  privateKey: Uint8Array;
  /** Lower-case 0x address. */
  address: Hex;
}

export function keyFromPrivate(privateKey: Uint8Array): Key {
  if (!secp.privateKeyVerify(privateKey)) throw new Error("invalid private key");
  const pub = secp.publicKeyCreate(privateKey, false).subarray(1);
  return { privateKey, address: toHexFast(keccak(pub).subarray(12)) as Hex };
}

export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

export function devKey(index: number): Key {
  const pk = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: index }).getHdKey().privateKey;
  if (pk === null) throw new Error("mnemonic derivation gave no private key");
  return keyFromPrivate(pk);
}

/** Deterministic bench keys: every bench run starts fresh targets, so reuse is harmless. */
export function benchKey(label: string, index: number): Key {
  for (let salt = 0; ; salt++) {
    const pk = keccak(new TextEncoder().encode(`staccato-bench/${label}/${index}/${salt}`));
    if (secp.privateKeyVerify(pk)) return keyFromPrivate(pk);
  }
}

export function benchAddress(label: string, index: number): Hex {
  return toHexFast(
    keccak(new TextEncoder().encode(`staccato-bench-addr/${label}/${index}`)).subarray(12),
  ) as Hex;
}

export interface UnsignedTx {
  nonce: number;
  /** null creates a contract. */
  to: Hex | null;
  value: bigint;
  data: Hex;
  gas: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

export interface SignedTx {
  /** 0x-prefixed raw EIP-2718 bytes. */
  raw: Hex;
  /** Transaction hash, computed locally. */
  hash: Hex;
}

export interface Signer {
  readonly name: "native" | "viem";
  sign(txs: readonly UnsignedTx[], key: Key, chainId: bigint): Promise<SignedTx[]>;
}

export const nativeSigner: Signer = {
  name: "native",
  async sign(txs, key, chainId) {
    const out: SignedTx[] = new Array(txs.length);
    for (let i = 0; i < txs.length; i++) out[i] = signNative(txs[i]!, key.privateKey, chainId);
    return out;
  },
};

function signNative(tx: UnsignedTx, privateKey: Uint8Array, chainId: bigint): SignedTx {
  const fields: RlpInput[] = [
    chainId,
    tx.nonce,
    tx.maxPriorityFeePerGas,
    tx.maxFeePerGas,
    tx.gas,
    tx.to === null ? EMPTY : hexBytes(tx.to),
    tx.value,
    hexBytes(tx.data),
    [],
  ];
  const sigHash = keccak(typed(RLP.encode(fields)));
  const { signature, recid } = secp.ecdsaSign(sigHash, privateKey);
  fields.push(recid, bytesToBigint(signature.subarray(0, 32)), bytesToBigint(signature.subarray(32, 64)));
  const raw = typed(RLP.encode(fields));
  return { raw: toHexFast(raw) as Hex, hash: toHexFast(keccak(raw)) as Hex };
}

const EMPTY = new Uint8Array(0);
const hexBytes = (h: Hex): Uint8Array => new Uint8Array(Buffer.from(h.slice(2), "hex"));

function typed(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = 0x02;
  out.set(payload, 1);
  return out;
}

function bytesToBigint(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(toHexFast(b));
}

export const viemSigner: Signer = {
  name: "viem",
  async sign(txs, key, chainId) {
    const account = privateKeyToAccount(bytesToHex(key.privateKey));
    const out: SignedTx[] = new Array(txs.length);
    for (let i = 0; i < txs.length; i++) {
      const tx = txs[i]!;
      const raw = await account.signTransaction({
        type: "eip1559",
        chainId: Number(chainId),
        nonce: tx.nonce,
        to: tx.to ?? undefined,
        value: tx.value,
        data: tx.data === "0x" ? undefined : tx.data,
        gas: tx.gas,
        maxFeePerGas: tx.maxFeePerGas,
        maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
      });
      out[i] = { raw, hash: viemKeccak(raw) };
    }
    return out;
  },
};

/**
 * Signs the same sample with both signers, fails if any byte differs, and returns the faster one
 * (or the one `BENCH_SIGNER` names).
 */
export async function chooseSigner(choice: SignerChoice): Promise<Signer> {
  const key = benchKey("signer-check", 0);
  const sample: UnsignedTx[] = [];
  for (let i = 0; i < 400; i++) {
    sample.push({
      nonce: i,
      value: BigInt(i) * 1_000_000_007n,
      to: i === 7 ? null : benchAddress("signer-check", i),
      data: i % 2 === 0 ? "0x" : "0xa9059cbb00000000000000000000000000000000000000000000000000000000000000ff",
      gas: 21_000n + BigInt(i),
      maxFeePerGas: 2_000_000_000n + BigInt(i),
      maxPriorityFeePerGas: BigInt(i % 3),
    });
  }
  const rates: Record<Signer["name"], number> = { native: 0, viem: 0 };
  const results: Partial<Record<Signer["name"], SignedTx[]>> = {};
  for (const s of [nativeSigner, viemSigner]) {
    await s.sign(sample.slice(0, 20), key, 31337n); // warm up
    const t0 = performance.now();
    results[s.name] = await s.sign(sample, key, 31337n);
    rates[s.name] = sample.length / ((performance.now() - t0) / 1000);
  }
  for (let i = 0; i < sample.length; i++) {
    const a = results.native![i]!;
    const b = results.viem![i]!;
    if (a.raw !== b.raw || a.hash !== b.hash) {
      throw new Error(`native and viem signers disagree on sample tx ${i}: ${a.raw} vs ${b.raw}`);
    }
  }
  const picked = choice === "auto" ? (rates.native >= rates.viem ? "native" : "viem") : choice;
  log(
    `signing: native ${rates.native.toFixed(0)} tx/s, viem ${rates.viem.toFixed(0)} tx/s ` +
      `(identical bytes on ${sample.length} txs); using ${picked}`,
  );
  return picked === "native" ? nativeSigner : viemSigner;
}
