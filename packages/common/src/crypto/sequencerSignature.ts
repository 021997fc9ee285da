import { bytesToHex } from "@ethereumjs/util";
import { ErrorCode, StaccatoError } from "../errors.ts";
import { type SigningDomain, recoverPayloadSigner } from "./signing.ts";

/** The objects only the chain's sequencer signs (attestations are signed by provers). */
export type SequencerSigningDomain = (typeof SigningDomain)["miniBlock" | "block" | "daPointer"];

/** Whose signature a node accepts: the chain (its id is in every digest) and its sequencer. */
export interface SequencerIdentity {
  readonly chainId: number;
  /** The sequencer's 0x-prefixed address. */
  readonly sequencer: string;
}

/** A payload that claims to come from the sequencer and does not (the sender is at fault). */
export class SequencerSignatureError extends StaccatoError {
  constructor(message: string) {
    super(ErrorCode.SequencerSignature, message, undefined);
  }
}

/**
 * The one check that a payload was signed by the chain's sequencer (DESIGN §3): `signature` over
 * `payloadHash` in `domain` must recover to `chain.sequencer`. Mini-blocks and seals from gossip or
 * a peer's answer, DA pointers, DA bundles and the prover's block bundles all pass through here.
 * Throws a `SequencerSignatureError` naming `what` (e.g. "mini-block 12") otherwise.
 */
export function checkSequencerSignature(
  chain: SequencerIdentity,
  domain: SequencerSigningDomain,
  payloadHash: Uint8Array,
  signature: Uint8Array,
  what: string,
): void {
  let signer: string;
  try {
    signer = bytesToHex(recoverPayloadSigner(domain, chain.chainId, payloadHash, signature));
  } catch (err) {
    throw new SequencerSignatureError(
      `${what} has a signature that recovers no key: ${(err as Error).message}`,
    );
  }
  if (signer !== chain.sequencer.toLowerCase())
    throw new SequencerSignatureError(`${what} is signed by ${signer}, not the sequencer`);
}
