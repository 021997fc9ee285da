import { encodeBlockSeal } from "../codec/chainCodec.ts";
import type { BlockSeal } from "../types/chain.ts";
import type { ChainBlock } from "./chainStore.ts";

/** What a block's seal is made of: a sealed `ChainBlock`, or the parts about to be put on one. */
export type SealParts = Pick<ChainBlock, "header" | "hash" | "signature" | "miniBlocks">;

/** A sealed block's seal: its header, hash, mini-block hashes and signature. */
export function blockSealOf(b: SealParts): BlockSeal {
  return {
    header: b.header!.serialize(),
    hash: b.hash!,
    miniBlockHashes: b.miniBlocks.map((m) => m.hash),
    signature: b.signature!,
  };
}

/**
 * A sealed block's seal as bytes, the one encoding of it: what the sequencer's WAL logs, block
 * gossip publishes, `block-by-number` serves and a witness or DA bundle carries.
 */
export function blockSealBytes(b: SealParts): Uint8Array {
  return encodeBlockSeal(blockSealOf(b));
}
