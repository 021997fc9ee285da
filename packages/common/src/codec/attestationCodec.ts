import { RLP } from "@ethereumjs/rlp";
import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import { keccak256 } from "../crypto/keccak.ts";
import { signingKeyFromPrivate } from "../crypto/secp256k1.ts";
import { SigningDomain, recoverPayloadSigner, signPayload } from "../crypto/signing.ts";
import { DecodeError, type RlpItem, big, bytes, int, list, u, un } from "./rlpUtil.ts";

export type Verdict = "valid" | "invalid";

/**
 * A prover's signed statement about one block (DESIGN §5): it re-executed block `blockHash` from
 * the witness `witnessHash` on the pre-state `preStateRoot`, reached `postStateRoot`, and found
 * the block valid or invalid (with the reason).
 */
export interface AttestationBody {
  blockNumber: bigint;
  blockHash: Uint8Array;
  preStateRoot: Uint8Array;
  postStateRoot: Uint8Array;
  witnessHash: Uint8Array;
  verdict: Verdict;
  /** Empty for a valid block. */
  reason: string;
}

export interface Attestation extends AttestationBody {
  /** The prover's address; the signature must recover to it. */
  prover: Uint8Array;
  /** keccak of the signed fields. */
  hash: Uint8Array;
  signature: Uint8Array;
}

export const ATTESTATION_VERSION = 1;
/** Longest reason kept, in bytes of UTF-8. */
export const MAX_REASON_BYTES = 512;
const VERDICT_CODE: Record<Verdict, number> = { valid: 0, invalid: 1 };

function fields(b: AttestationBody, prover: Uint8Array): RlpItem[] {
  return [
    un(ATTESTATION_VERSION),
    u(b.blockNumber),
    b.blockHash,
    b.preStateRoot,
    b.postStateRoot,
    b.witnessHash,
    un(VERDICT_CODE[b.verdict]),
    truncateReason(b.reason),
    prover,
  ];
}

function truncateReason(reason: string): Uint8Array {
  const enc = new TextEncoder().encode(reason);
  return enc.length <= MAX_REASON_BYTES ? enc : enc.subarray(0, MAX_REASON_BYTES);
}

export function signAttestation(body: AttestationBody, chainId: number, privateKey: Uint8Array): Attestation {
  const prover = signingKeyFromPrivate(privateKey).address;
  const f = fields(body, prover);
  const hash = keccak256(RLP.encode(f));
  const reason = new TextDecoder().decode(f[7] as Uint8Array);
  return {
    ...body,
    reason,
    prover,
    hash,
    signature: signPayload(SigningDomain.attestation, chainId, hash, privateKey),
  };
}

export function encodeAttestation(a: Attestation): Uint8Array {
  return RLP.encode([...fields(a, a.prover), a.signature]);
}

/** Decodes an attestation; its signature is not checked here (`attestationSigner`). */
export function decodeAttestation(data: Uint8Array): Attestation {
  if (data.length > 4096) throw new DecodeError("attestation: too large");
  let d: RlpItem;
  try {
    d = RLP.decode(data) as RlpItem;
  } catch (err) {
    throw new DecodeError(`attestation: bad RLP: ${(err as Error).message}`);
  }
  const f = list(d, "attestation", 10);
  if (int(f[0], "version") !== ATTESTATION_VERSION) throw new DecodeError("attestation: unknown version");
  const code = int(f[6], "verdict");
  if (code !== 0 && code !== 1) throw new DecodeError(`attestation: unknown verdict ${code}`);
  const reasonBytes = bytes(f[7], "reason");
  if (reasonBytes.length > MAX_REASON_BYTES) throw new DecodeError("attestation: reason too long");
  const a: Omit<Attestation, "hash"> = {
    blockNumber: big(f[1], "blockNumber"),
    blockHash: bytes(f[2], "blockHash", 32),
    preStateRoot: bytes(f[3], "preStateRoot", 32),
    postStateRoot: bytes(f[4], "postStateRoot", 32),
    witnessHash: bytes(f[5], "witnessHash", 32),
    verdict: code === 0 ? "valid" : "invalid",
    reason: new TextDecoder().decode(reasonBytes),
    prover: bytes(f[8], "prover", 20),
    signature: bytes(f[9], "signature", 65),
  };
  return { ...a, hash: keccak256(RLP.encode(f.slice(0, 9))) };
}

/** The signer's address, checked against the attestation's `prover`; throws when they differ. */
export function attestationSigner(a: Attestation, chainId: number): string {
  const signer = recoverPayloadSigner(SigningDomain.attestation, chainId, a.hash, a.signature);
  if (!equalsBytes(signer, a.prover))
    throw new Error(`attestation signed by ${bytesToHex(signer)}, not by its prover ${bytesToHex(a.prover)}`);
  return bytesToHex(signer);
}
