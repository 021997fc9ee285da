import { bigIntToBytes, concatBytes, setLengthLeft } from "@ethereumjs/util";
import { keccak256 } from "./keccak.ts";
import { recoverSigner, signHash } from "./secp256k1.ts";

/** Signing domains keep a signature over one kind of object from being replayed as another. */
export const SigningDomain = {
  miniBlock: "staccato/mini-block/1",
  block: "staccato/block/1",
  attestation: "staccato/attestation/1",
  daPointer: "staccato/da-pointer/1",
} as const;
export type SigningDomain = (typeof SigningDomain)[keyof typeof SigningDomain];

const domainBytes = new Map<string, Uint8Array>();

/** keccak256(domain ‖ chainId ‖ payloadHash), the digest every signed object signs (DESIGN §3). */
export function signingDigest(domain: SigningDomain, chainId: number, payloadHash: Uint8Array): Uint8Array {
  let d = domainBytes.get(domain);
  if (d === undefined) {
    d = new TextEncoder().encode(domain);
    domainBytes.set(domain, d);
  }
  return keccak256(concatBytes(d, setLengthLeft(bigIntToBytes(BigInt(chainId)), 8), payloadHash));
}

export function signPayload(
  domain: SigningDomain,
  chainId: number,
  payloadHash: Uint8Array,
  privateKey: Uint8Array,
): Uint8Array {
  return signHash(signingDigest(domain, chainId, payloadHash), privateKey);
}

export function recoverPayloadSigner(
  domain: SigningDomain,
  chainId: number,
  payloadHash: Uint8Array,
  signature: Uint8Array,
): Uint8Array {
  return recoverSigner(signingDigest(domain, chainId, payloadHash), signature);
}
