import { createBlockHeaderFromRLP } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex } from "@ethereumjs/util";
import { decodeBlockSeal, decodeSignedMiniBlock } from "../codec/chainCodec.ts";
import { type SequencerIdentity, checkSequencerSignature } from "../crypto/sequencerSignature.ts";
import { SigningDomain } from "../crypto/signing.ts";
import type { BlockSeal, SignedMiniBlock } from "../types/chain.ts";

/**
 * The sequencer's mini-blocks and block seals from the network, decoded and checked the same way
 * wherever they come from (gossip, a peer's answer to a request): each method throws when the
 * bytes do not decode or the chain's sequencer did not sign them.
 */
export class SignedObjects implements SequencerIdentity {
  constructor(
    readonly chainId: number,
    readonly sequencer: string,
    private readonly common: Common,
  ) {}

  /** Decodes a mini-block and checks its signature. */
  miniBlock(encoded: Uint8Array): SignedMiniBlock {
    return this.checkMiniBlock(decodeSignedMiniBlock(encoded));
  }

  checkMiniBlock(mb: SignedMiniBlock): SignedMiniBlock {
    checkSequencerSignature(this, SigningDomain.miniBlock, mb.hash, mb.signature, `mini-block ${mb.number}`);
    return mb;
  }

  /** Decodes a block seal, checks its signature and reads the block number from its header. */
  block(encoded: Uint8Array): { seal: BlockSeal; number: bigint } {
    const seal = decodeBlockSeal(encoded);
    checkSequencerSignature(
      this,
      SigningDomain.block,
      seal.hash,
      seal.signature,
      `block ${bytesToHex(seal.hash)}`,
    );
    const header = createBlockHeaderFromRLP(seal.header, {
      common: this.common,
      skipConsensusFormatValidation: true,
    });
    return { seal, number: header.number };
  }
}
