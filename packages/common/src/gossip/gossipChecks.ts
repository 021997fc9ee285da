import { bytesToHex } from "@ethereumjs/util";
import type { FinalityTracker } from "../chain/finality.ts";
import { type Attestation, decodeAttestation } from "../codec/attestationCodec.ts";
import { decodeSignedMiniBlock } from "../codec/chainCodec.ts";
import type { DaPointer } from "../codec/daCodec.ts";
import type { SequencerIdentity } from "../crypto/sequencerSignature.ts";
import { checkDaPointer } from "../da/daReader.ts";
import { decodeEnvelope } from "../p2p/envelope.ts";
import type { GossipCheck, NamedGossipCheck, SeenCache } from "../p2p/gossipValidation.ts";
import type { BlockSeal, SignedMiniBlock } from "../types/chain.ts";
import type { SignedObjects } from "./signedObjects.ts";

/**
 * The checks of every gossip topic (DESIGN §4), in one place. Each builder takes one message's
 * bytes and returns its named checks, each marked REJECT (the sender misbehaved) or IGNORE (not
 * useful now), and `decoded`, which the decoding check fills and the later ones read. A handler
 * lists them cheapest first, adds what only its daemon knows (a full node's "already applied"
 * window), and runs them with `runGossipChecks`: a check that throws rejects the message.
 */

/** Largest decompressed mini-block or block seal accepted from gossip (or from a peer's answer). */
export const MAX_GOSSIP_PAYLOAD = 32 * 1024 * 1024;
/** Largest DA pointer accepted (a commitment of an EigenDA certificate fits well inside). */
export const MAX_DA_POINTER_BYTES = 64 * 1024;
/** Largest attestation accepted. */
export const MAX_ATTESTATION_BYTES = 8192;
/** How far past the node's newest sealed block an attestation may be (the node may be behind). */
const ATTESTATION_AHEAD_WINDOW = 4096n;

const check = (name: string, fn: GossipCheck): NamedGossipCheck => [name, fn];

/** What a message's decoding check produced, for the checks after it. */
export class DecodedMessage<T> {
  private value: T | undefined;

  set(value: T): void {
    this.value = value;
  }

  /** The decoded message; only a check listed after the decoding one may ask. */
  get(): T {
    if (this.value === undefined) throw new Error("gossip message read before it was decoded");
    return this.value;
  }

  /** The decoded message, or undefined when decoding did not run or failed. */
  peek(): T | undefined {
    return this.value;
  }
}

/** `miniBlock` topic: a mini-block and its bytes (the envelope's content, as the store keeps it). */
export function miniBlockChecks(data: Uint8Array, signed: SignedObjects) {
  const decoded = new DecodedMessage<{ mb: SignedMiniBlock; bytes: Uint8Array }>();
  return {
    decoded,
    // REJECT: larger than the cap once decompressed (checked before decoding), or malformed.
    decode: check("decode", () => {
      const bytes = decodeEnvelope(data, MAX_GOSSIP_PAYLOAD);
      decoded.set({ mb: decodeSignedMiniBlock(bytes), bytes });
      return null;
    }),
    // REJECT: not signed by the chain's sequencer.
    signer: check("signer", () => {
      signed.checkMiniBlock(decoded.get().mb);
      return null;
    }),
    // IGNORE: seen already.
    dedup: (seen: SeenCache) =>
      check("dedup", () => (seen.add(bytesToHex(decoded.get().mb.hash)) ? null : "ignore")),
  };
}

/**
 * `block` topic: a block seal and its number. `maxBytes` is the size cap (a daemon that reads
 * only seals may set a tighter one).
 */
export function blockChecks(data: Uint8Array, signed: SignedObjects, maxBytes = MAX_GOSSIP_PAYLOAD) {
  const decoded = new DecodedMessage<{ seal: BlockSeal; number: bigint }>();
  return {
    decoded,
    // REJECT: over the size cap, malformed, or not signed by the chain's sequencer.
    decodeAndSigner: check("decode-and-signer", () => {
      decoded.set(signed.block(decodeEnvelope(data, maxBytes)));
      return null;
    }),
    // IGNORE: seen already.
    dedup: (seen: SeenCache) =>
      check("dedup", () => (seen.add(bytesToHex(decoded.get().seal.hash)) ? null : "ignore")),
  };
}

/** `daPointer` topic: a DA pointer. */
export function daPointerChecks(data: Uint8Array, chain: SequencerIdentity) {
  const decoded = new DecodedMessage<DaPointer>();
  return {
    decoded,
    // REJECT: over the size cap, malformed, or not signed by the chain's sequencer.
    decodeAndSigner: check("decode-and-signer", () => {
      decoded.set(checkDaPointer(decodeEnvelope(data, MAX_DA_POINTER_BYTES), chain.chainId, chain.sequencer));
      return null;
    }),
    // IGNORE: seen already.
    dedup: (seen: SeenCache) =>
      check("dedup", () => (seen.add(bytesToHex(decoded.get().bundleHash)) ? null : "ignore")),
  };
}

/** `attestation` topic: an attestation and its bytes, checked against the node's finality tracker. */
export function attestationChecks(data: Uint8Array, tracker: FinalityTracker) {
  const decoded = new DecodedMessage<{ a: Attestation; bytes: Uint8Array }>();
  return {
    decoded,
    // REJECT: over the size cap, or malformed.
    decode: check("decode", () => {
      const bytes = decodeEnvelope(data, MAX_ATTESTATION_BYTES);
      decoded.set({ a: decodeAttestation(bytes), bytes });
      return null;
    }),
    // REJECT: not by a listed prover, or not signed by it.
    proverAndSignature: check("prover-and-signature", () =>
      tracker.reject(decoded.get().a) === null ? null : "reject",
    ),
    // IGNORE: too far ahead of the newest block this node knows.
    window: check("window", () =>
      decoded.get().a.blockNumber > tracker.latest() + ATTESTATION_AHEAD_WINDOW ? "ignore" : null,
    ),
    // IGNORE: recorded already.
    dedup: check("dedup", () => (tracker.has(decoded.get().a) ? "ignore" : null)),
  };
}
