import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createBlockHeader } from "@ethereumjs/block";
import { bytesToHex } from "@ethereumjs/util";
import { createEthCommon } from "../../src/chain/ethCommon.ts";
import { encodeBlockSeal, encodeSignedMiniBlock, miniBlockHash } from "../../src/codec/chainCodec.ts";
import { keccak256 } from "../../src/crypto/keccak.ts";
import { randomPrivateKey, signingKeyFromPrivate } from "../../src/crypto/secp256k1.ts";
import {
  type SequencerSigningDomain,
  SequencerSignatureError,
  checkSequencerSignature,
} from "../../src/crypto/sequencerSignature.ts";
import { SigningDomain, signPayload } from "../../src/crypto/signing.ts";
import { SignedObjects } from "../../src/gossip/signedObjects.ts";
import type { MiniBlock } from "../../src/types/chain.ts";

const CHAIN_ID = 4242;
const common = createEthCommon({ chainId: CHAIN_ID });
const sequencerKey = randomPrivateKey();
const otherKey = randomPrivateKey();
const chain = { chainId: CHAIN_ID, sequencer: bytesToHex(signingKeyFromPrivate(sequencerKey).address) };
const DOMAINS: { [K in keyof typeof SigningDomain]: SequencerSigningDomain | null } = {
  miniBlock: SigningDomain.miniBlock,
  block: SigningDomain.block,
  daPointer: SigningDomain.daPointer,
  attestation: null, // signed by provers, not the sequencer
};

function miniBlock(timestampUs: bigint): MiniBlock {
  return {
    number: 7n,
    blockNumber: 2n,
    index: 0,
    parentHash: new Uint8Array(32).fill(1),
    timestampUs,
    firstTxIndex: 0,
    firstLogIndex: 0,
    txs: [],
    receipts: [],
    diff: [],
  };
}

function signedMiniBlockBytes(m: MiniBlock, key: Uint8Array): Uint8Array {
  const hash = miniBlockHash(m);
  return encodeSignedMiniBlock({
    ...m,
    hash,
    signature: signPayload(SigningDomain.miniBlock, CHAIN_ID, hash, key),
  });
}

function sealBytes(gasLimit: bigint, key: Uint8Array, signedHeader?: Uint8Array): Uint8Array {
  const header = createBlockHeader({ number: 3n, gasLimit }, { common }).serialize();
  const signature = signPayload(SigningDomain.block, CHAIN_ID, keccak256(signedHeader ?? header), key);
  return encodeBlockSeal({ header, hash: keccak256(header), miniBlockHashes: [], signature });
}

describe("sequencer signature / the one check", () => {
  const payload = keccak256(new TextEncoder().encode("a payload"));

  it("accepts the sequencer's signature in each of its domains, whatever the address's case", () => {
    for (const domain of Object.values(DOMAINS)) {
      if (domain === null) continue;
      const signature = signPayload(domain, CHAIN_ID, payload, sequencerKey);
      checkSequencerSignature(chain, domain, payload, signature, "payload");
      checkSequencerSignature(
        { ...chain, sequencer: `0x${chain.sequencer.slice(2).toUpperCase()}` },
        domain,
        payload,
        signature,
        "payload",
      );
    }
  });

  it("rejects a payload signed by another key, naming the signer", () => {
    const signature = signPayload(SigningDomain.block, CHAIN_ID, payload, otherKey);
    const other = bytesToHex(signingKeyFromPrivate(otherKey).address);
    assert.throws(
      () => checkSequencerSignature(chain, SigningDomain.block, payload, signature, "block 0xab"),
      (err: Error) =>
        err instanceof SequencerSignatureError &&
        err.message === `block 0xab is signed by ${other}, not the sequencer`,
    );
  });

  it("rejects a tampered payload, and the signature replayed in another domain or chain", () => {
    const signature = signPayload(SigningDomain.miniBlock, CHAIN_ID, payload, sequencerKey);
    const tampered = payload.slice();
    tampered[0]! ^= 1;
    const cases: [string, () => void][] = [
      ["tampered", () => checkSequencerSignature(chain, SigningDomain.miniBlock, tampered, signature, "x")],
      ["other domain", () => checkSequencerSignature(chain, SigningDomain.block, payload, signature, "x")],
      [
        "other chain",
        () =>
          checkSequencerSignature(
            { ...chain, chainId: CHAIN_ID + 1 },
            SigningDomain.miniBlock,
            payload,
            signature,
            "x",
          ),
      ],
    ];
    for (const [name, run] of cases) assert.throws(run, /not the sequencer/, name);
  });

  it("rejects a signature that recovers no key", () => {
    const signature = signPayload(SigningDomain.block, CHAIN_ID, payload, sequencerKey);
    signature[64] = 7; // no such recovery id
    assert.throws(
      () => checkSequencerSignature(chain, SigningDomain.block, payload, signature, "block 1"),
      (err: Error) => err instanceof SequencerSignatureError && /block 1 has a signature/.test(err.message),
    );
  });
});

describe("sequencer signature / signed objects from the network", () => {
  const signed = new SignedObjects(chain.chainId, chain.sequencer, common);

  it("accepts the sequencer's mini-block and block seal", () => {
    const mb = signed.miniBlock(signedMiniBlockBytes(miniBlock(1_000n), sequencerKey));
    assert.equal(mb.number, 7n);
    const { seal, number } = signed.block(sealBytes(30_000_000n, sequencerKey));
    assert.equal(number, 3n);
    assert.equal(seal.miniBlockHashes.length, 0);
  });

  it("rejects a mini-block and a seal signed by another key", () => {
    assert.throws(
      () => signed.miniBlock(signedMiniBlockBytes(miniBlock(1_000n), otherKey)),
      /mini-block 7 is signed by/,
    );
    assert.throws(() => signed.block(sealBytes(30_000_000n, otherKey)), /not the sequencer/);
  });

  it("rejects a tampered mini-block and a tampered seal (the sequencer's signature over other contents)", () => {
    // The sequencer signed timestamp 1000; the bytes say 2000, with that signature.
    const genuine = miniBlockHash(miniBlock(1_000n));
    const forged = encodeSignedMiniBlock({
      ...miniBlock(2_000n),
      hash: genuine,
      signature: signPayload(SigningDomain.miniBlock, CHAIN_ID, genuine, sequencerKey),
    });
    assert.throws(() => signed.miniBlock(forged), /not the sequencer/);
    const original = createBlockHeader({ number: 3n, gasLimit: 30_000_000n }, { common }).serialize();
    assert.throws(() => signed.block(sealBytes(40_000_000n, sequencerKey, original)), /not the sequencer/);
  });
});
