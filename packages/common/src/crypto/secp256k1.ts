import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { bigIntToBytes, setLengthLeft } from "@ethereumjs/util";
import secp from "secp256k1";
import { keccak256 } from "./keccak.ts";

/** The addon in `native/secp256k1` (libsecp256k1 0.5.0): `recover` writes 0x04 ‖ x ‖ y to `out`. */
interface NativeRecovery {
  readonly version: string;
  recover(signature: Uint8Array, recid: number, hash: Uint8Array, out: Uint8Array): boolean;
}

/**
 * The addon, if `pnpm install` built it (`native/secp256k1/build.mjs`) and
 * `STACCATO_SECP256K1=package` does not ask for the package instead.
 */
function loadNative(): NativeRecovery | null {
  if (process.env.STACCATO_SECP256K1 === "package") return null;
  try {
    return createRequire(import.meta.url)(
      "../../native/secp256k1/build/Release/staccato_secp256k1.node",
    ) as NativeRecovery;
  } catch {
    return null;
  }
}

const native = loadNative();

/**
 * What recovers public keys here: the vendored libsecp256k1 0.5.0 addon, or the `secp256k1`
 * package (libsecp256k1 as of 2019, ~40 % slower) where the addon was not built.
 */
export const secp256k1Backend: string =
  native === null
    ? "secp256k1 package (the libsecp256k1 0.5.0 addon is not built)"
    : `${native.version} addon`;

/** A 32-byte secp256k1 private key and the address it controls. */
export interface SigningKey {
  readonly privateKey: Uint8Array;
  readonly address: Uint8Array;
}

export function publicKeyToAddress(uncompressed64: Uint8Array): Uint8Array {
  return keccak256(uncompressed64).subarray(12);
}

export function signingKeyFromPrivate(privateKey: Uint8Array): SigningKey {
  if (privateKey.length !== 32 || !secp.privateKeyVerify(privateKey)) {
    throw new Error("invalid secp256k1 private key");
  }
  const pub = secp.publicKeyCreate(privateKey, false).subarray(1);
  return { privateKey, address: publicKeyToAddress(pub) };
}

/**
 * ecrecover in the shape ethereumjs expects (`Common({ customCrypto: { ecrecover } })`), backed by
 * native libsecp256k1 (`secp256k1Backend`): ~25k/s with the addon, ~17k/s with the package,
 * against ~900/s for the pure-JS default (FACTS.md).
 * Returns the 64-byte uncompressed public key without its 0x04 prefix.
 */
export function ecrecover(
  msgHash: Uint8Array,
  v: bigint,
  r: Uint8Array,
  s: Uint8Array,
  chainId?: bigint,
): Uint8Array {
  // ethereumjs' own ecrecover keeps the low 32 bytes of an over-long r or s (`setLengthLeft`).
  return recoverPublicKey(msgHash, lowWord(r), lowWord(s), recoveryId(v, chainId));
}

const lowWord = (b: Uint8Array): Uint8Array => (b.length > 32 ? b.subarray(b.length - 32) : b);

/**
 * The uncompressed public key (64 bytes, without its 0x04 prefix) that signed `hash`; r and s
 * big-endian, at most 32 bytes each. Throws when the signature does not recover.
 */
function recoverPublicKey(hash: Uint8Array, r: Uint8Array, s: Uint8Array, recid: number): Uint8Array {
  const sig = new Uint8Array(64);
  sig.set(r, 32 - r.length);
  sig.set(s, 64 - s.length);
  if (native === null) return recoverPublicKeyWithPackage(hash, sig, recid);
  const out = new Uint8Array(65);
  if (hash.length !== 32 || !native.recover(sig, recid, hash, out))
    throw new Error("public key could not be recovered");
  return out.subarray(1);
}

/**
 * The public key as the `secp256k1` package recovers it: the fallback where the addon is not
 * built, and the reference it is tested against.
 */
export function recoverPublicKeyWithPackage(hash: Uint8Array, sig64: Uint8Array, recid: number): Uint8Array {
  return secp.ecdsaRecover(sig64, recid, hash, false).subarray(1);
}

function recoveryId(v: bigint, chainId?: bigint): number {
  let rec: bigint;
  if (v === 0n || v === 1n) rec = v;
  else if (chainId === undefined) rec = v - 27n;
  else rec = v - (chainId * 2n + 35n);
  if (rec !== 0n && rec !== 1n) throw new Error("invalid signature v value");
  return Number(rec);
}

/**
 * The address that signed `hash` with (r, s, recovery id), r and s unpadded big-endian (at most
 * 32 bytes each). Throws when the signature does not recover.
 */
export function recoverAddress(hash: Uint8Array, r: Uint8Array, s: Uint8Array, recid: number): Uint8Array {
  if (r.length > 32 || s.length > 32 || (recid !== 0 && recid !== 1)) throw new Error("invalid signature");
  return publicKeyToAddress(recoverPublicKey(hash, r, s, recid));
}

/** A recoverable signature: 65 bytes r ‖ s ‖ recovery id. */
export function signHash(hash: Uint8Array, privateKey: Uint8Array): Uint8Array {
  const { signature, recid } = secp.ecdsaSign(hash, privateKey);
  const out = new Uint8Array(65);
  out.set(signature, 0);
  out[64] = recid;
  return out;
}

/** Recovers the signer address of a 65-byte r ‖ s ‖ recid signature. Throws on a bad signature. */
export function recoverSigner(hash: Uint8Array, sig65: Uint8Array): Uint8Array {
  if (sig65.length !== 65) throw new Error("signature must be 65 bytes");
  const recid = sig65[64]!;
  if (recid > 1) throw new Error("invalid recovery id");
  return publicKeyToAddress(recoverPublicKey(hash, sig65.subarray(0, 32), sig65.subarray(32, 64), recid));
}

export function randomPrivateKey(): Uint8Array {
  for (;;) {
    const k = crypto.getRandomValues(new Uint8Array(32));
    if (secp.privateKeyVerify(k)) return k;
  }
}

export const bigintToWord = (v: bigint): Uint8Array => setLengthLeft(bigIntToBytes(v), 32);

/**
 * The signing key in a key file (a 32-byte private key as hex, `0x` optional). Throws an Error
 * naming the file when it does not hold one; whether a missing file may be generated is the
 * caller's decision.
 */
export function readSigningKeyFile(path: string): SigningKey {
  const text = readFileSync(path, "utf8").trim();
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(text))
    throw new Error(`key file ${path} must hold a 32-byte hex private key`);
  try {
    return signingKeyFromPrivate(Uint8Array.from(Buffer.from(text.replace(/^0x/, ""), "hex")));
  } catch (err) {
    throw new Error(`key file ${path}: ${(err as Error).message}`);
  }
}
