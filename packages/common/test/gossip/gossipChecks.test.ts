import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createBlockHeader } from "@ethereumjs/block";
import { bytesToHex } from "@ethereumjs/util";
import { createEthCommon } from "../../src/chain/ethCommon.ts";
import { encodeBlockSeal, encodeSignedMiniBlock, miniBlockHash } from "../../src/codec/chainCodec.ts";
import { encodeDaPointer, signDaPointer } from "../../src/codec/daCodec.ts";
import { keccak256 } from "../../src/crypto/keccak.ts";
import { randomPrivateKey, signingKeyFromPrivate } from "../../src/crypto/secp256k1.ts";
import { SigningDomain, signPayload } from "../../src/crypto/signing.ts";
import {
  MAX_GOSSIP_PAYLOAD,
  blockChecks,
  daPointerChecks,
  miniBlockChecks,
} from "../../src/gossip/gossipChecks.ts";
import { SignedObjects } from "../../src/gossip/signedObjects.ts";
import { encodeEnvelope } from "../../src/p2p/envelope.ts";
import {
  type GossipVerdict,
  type NamedGossipCheck,
  SeenCache,
  runGossipChecks,
} from "../../src/p2p/gossipValidation.ts";

const CHAIN_ID = 4242;
const common = createEthCommon({ chainId: CHAIN_ID });
const sequencerKey = randomPrivateKey();
const otherKey = randomPrivateKey();
const sequencer = bytesToHex(signingKeyFromPrivate(sequencerKey).address);
const signed = new SignedObjects(CHAIN_ID, sequencer, common);

function miniBlockGossip(number: bigint, key: Uint8Array): Uint8Array {
  const m = {
    number,
    blockNumber: 1n,
    index: 0,
    parentHash: new Uint8Array(32),
    timestampUs: number * 1000n,
    firstTxIndex: 0,
    firstLogIndex: 0,
    txs: [],
    receipts: [],
    diff: [],
  };
  const hash = miniBlockHash(m);
  return encodeEnvelope(
    encodeSignedMiniBlock({
      ...m,
      hash,
      signature: signPayload(SigningDomain.miniBlock, CHAIN_ID, hash, key),
    }),
  );
}

function blockGossip(number: bigint, key: Uint8Array): Uint8Array {
  const header = createBlockHeader({ number, gasLimit: 30_000_000n }, { common }).serialize();
  const hash = keccak256(header);
  const signature = signPayload(SigningDomain.block, CHAIN_ID, hash, key);
  return encodeEnvelope(encodeBlockSeal({ header, hash, miniBlockHashes: [], signature }));
}

/** Runs `checks`; returns the verdict and the failing check's name. */
function run(checks: readonly NamedGossipCheck[]): [GossipVerdict, string | null] {
  let failed: string | null = null;
  const verdict = runGossipChecks(checks, undefined, undefined, (check) => {
    failed = check;
  });
  return [verdict, failed];
}

describe("gossip checks / mini-block", () => {
  it("accepts the sequencer's, rejects another key's at `signer`, ignores a duplicate", () => {
    const seen = new SeenCache(10);
    const list = (data: Uint8Array) => {
      const c = miniBlockChecks(data, signed);
      return { c, checks: [c.decode, c.dedup(seen), c.signer] };
    };
    const good = list(miniBlockGossip(5n, sequencerKey));
    assert.deepEqual(run(good.checks), ["accept", null]);
    assert.equal(good.c.decoded.get().mb.number, 5n);
    assert.deepEqual(run(list(miniBlockGossip(5n, sequencerKey)).checks), ["ignore", "dedup"]);
    assert.deepEqual(run(list(miniBlockGossip(6n, otherKey)).checks), ["reject", "signer"]);
  });

  it("rejects bytes that are not a mini-block, or too large, at `decode` before the signature", () => {
    const c = miniBlockChecks(encodeEnvelope(new Uint8Array([1, 2, 3])), signed);
    assert.deepEqual(run([c.decode, c.signer]), ["reject", "decode"]);
    assert.equal(c.decoded.peek(), undefined);
    const huge = miniBlockChecks(encodeEnvelope(new Uint8Array(MAX_GOSSIP_PAYLOAD + 1)), signed);
    assert.deepEqual(run([huge.decode, huge.signer]), ["reject", "decode"]);
  });
});

describe("gossip checks / block", () => {
  it("accepts the sequencer's seal with its number, rejects another key's, honours a tighter cap", () => {
    const seen = new SeenCache(10);
    const good = blockChecks(blockGossip(9n, sequencerKey), signed);
    assert.deepEqual(run([good.decodeAndSigner, good.dedup(seen)]), ["accept", null]);
    assert.equal(good.decoded.get().number, 9n);
    const again = blockChecks(blockGossip(9n, sequencerKey), signed);
    assert.deepEqual(run([again.decodeAndSigner, again.dedup(seen)]), ["ignore", "dedup"]);
    const forged = blockChecks(blockGossip(10n, otherKey), signed);
    assert.deepEqual(run([forged.decodeAndSigner, forged.dedup(seen)]), ["reject", "decode-and-signer"]);
    const capped = blockChecks(blockGossip(11n, sequencerKey), signed, 16);
    assert.deepEqual(run([capped.decodeAndSigner]), ["reject", "decode-and-signer"]);
  });
});

describe("gossip checks / DA pointer", () => {
  it("accepts the sequencer's pointer and rejects another key's", () => {
    const pointer = (key: Uint8Array) =>
      encodeEnvelope(
        encodeDaPointer(
          signDaPointer(
            {
              number: 4n,
              blockHash: new Uint8Array(32).fill(4),
              commitment: new Uint8Array([1, 2, 3]),
              bundleHash: new Uint8Array(32).fill(key === sequencerKey ? 5 : 6),
            },
            CHAIN_ID,
            key,
          ),
        ),
      );
    const seen = new SeenCache(10);
    const chain = { chainId: CHAIN_ID, sequencer };
    const good = daPointerChecks(pointer(sequencerKey), chain);
    assert.deepEqual(run([good.decodeAndSigner, good.dedup(seen)]), ["accept", null]);
    assert.equal(good.decoded.get().number, 4n);
    const forged = daPointerChecks(pointer(otherKey), chain);
    assert.deepEqual(run([forged.decodeAndSigner, forged.dedup(seen)]), ["reject", "decode-and-signer"]);
  });
});
