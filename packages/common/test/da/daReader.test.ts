import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createBlockHeader } from "@ethereumjs/block";
import { bytesToHex } from "@ethereumjs/util";
import { encodeBlockSeal, encodeSignedMiniBlock, miniBlockHash } from "../../src/codec/chainCodec.ts";
import {
  type DaPointer,
  type DaRef,
  daBundleHash,
  encodeDaBundle,
  encodeDaPointer,
  signDaPointer,
} from "../../src/codec/daCodec.ts";
import { createEthCommon } from "../../src/chain/ethCommon.ts";
import { keccak256 } from "../../src/crypto/keccak.ts";
import { randomPrivateKey, signingKeyFromPrivate } from "../../src/crypto/secp256k1.ts";
import { SigningDomain, signPayload } from "../../src/crypto/signing.ts";
import { DaReader, checkDaPointer } from "../../src/da/daReader.ts";
import { DaError, DirectoryDaStore } from "../../src/da/daStore.ts";
import type { MiniBlock } from "../../src/types/chain.ts";

const CHAIN_ID = 4242;
const common = createEthCommon({ chainId: CHAIN_ID });

/** Publishes blocks 1…n as the sequencer does: each bundle linked to the one before. */
async function publishChain(store: DirectoryDaStore, key: Uint8Array, n: number): Promise<DaPointer[]> {
  const pointers: DaPointer[] = [];
  let prev: DaRef | null = null;
  let mbNumber = 1n;
  for (let b = 1n; b <= BigInt(n); b++) {
    const miniBlocks = [];
    for (let i = 0; i < 2; i++) {
      const m: MiniBlock = {
        number: mbNumber++,
        blockNumber: b,
        index: i,
        parentHash: new Uint8Array(32),
        timestampUs: b * 1_000_000n + BigInt(i),
        firstTxIndex: 0,
        firstLogIndex: 0,
        txs: [],
        receipts: [],
        diff: [],
      };
      const hash = miniBlockHash(m);
      miniBlocks.push({ ...m, hash, signature: signPayload(SigningDomain.miniBlock, CHAIN_ID, hash, key) });
    }
    const header = createBlockHeader({ number: b, gasLimit: 30_000_000n }, { common }).serialize();
    const hash = keccak256(header);
    const sealBytes = encodeBlockSeal({
      header,
      hash,
      miniBlockHashes: miniBlocks.map((m) => m.hash),
      signature: signPayload(SigningDomain.block, CHAIN_ID, hash, key),
    });
    const encoded = await encodeDaBundle({
      number: b,
      prev,
      sealBytes,
      miniBlocks: miniBlocks.map(encodeSignedMiniBlock),
      witnessCompressed: new TextEncoder().encode(`witness of ${b}`),
    });
    prev = { commitment: await store.put(encoded), bundleHash: daBundleHash(encoded) };
    pointers.push(signDaPointer({ number: b, blockHash: hash, ...prev }, CHAIN_ID, key));
  }
  return pointers;
}

describe("DA / reader", () => {
  let dir: string;
  let store: DirectoryDaStore;
  const key = randomPrivateKey();
  const sequencer = bytesToHex(signingKeyFromPrivate(key).address);
  let pointers: DaPointer[];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "staccato-da-reader-"));
    store = new DirectoryDaStore(dir);
    pointers = await publishChain(store, key, 12);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reaches every earlier block from the newest pointer alone", async () => {
    const reader = new DaReader(store, CHAIN_ID, sequencer);
    assert.equal(
      reader.addPointer(checkDaPointer(encodeDaPointer(pointers[11]!), CHAIN_ID, sequencer)),
      true,
    );
    assert.equal(reader.addPointer(pointers[5]!), false, "an older pointer does not move the head");
    assert.equal(reader.headNumber, 12n);
    for (const n of [1n, 7n, 12n, 2n]) {
      const got = await reader.bundle(n);
      assert.equal(got.bundle.number, n);
      assert.deepEqual(got.bundle.seal.hash, pointers[Number(n) - 1]!.blockHash);
      assert.equal(got.miniBlocks.length, 2);
      assert.equal(got.miniBlocks[0]!.blockNumber, n);
      assert.equal(new TextDecoder().decode(got.bundle.witnessCompressed), `witness of ${n}`);
    }
    await assert.rejects(
      reader.bundle(13n),
      (e: unknown) => e instanceof DaError && /no DA pointer reaches block 13/.test(e.message),
    );
  });

  it("forgets old references, and still reaches their blocks through later ones", async () => {
    const reader = new DaReader(store, CHAIN_ID, sequencer, { keepRefs: 3n, pruneEvery: 4n });
    for (const p of pointers) reader.addPointer(p);
    // Pruned at block 12 below block 9: blocks 1…8 are reached by walking back from block 9.
    const reads: bigint[] = [];
    const counting = {
      description: "counting",
      put: store.put.bind(store),
      get: (c: Uint8Array) => {
        reads.push(BigInt(pointers.findIndex((p) => bytesToHex(p.commitment) === bytesToHex(c)) + 1));
        return store.get(c);
      },
    };
    const r2 = new DaReader(counting, CHAIN_ID, sequencer, { keepRefs: 3n, pruneEvery: 4n });
    for (const p of pointers) r2.addPointer(p);
    assert.equal((await r2.bundle(7n)).bundle.number, 7n);
    assert.deepEqual(reads, [9n, 8n, 7n]);
    reads.length = 0;
    assert.equal((await r2.bundle(11n)).bundle.number, 11n);
    assert.deepEqual(reads, [11n], "a kept reference is read directly");
    assert.equal((await reader.bundle(1n)).bundle.number, 1n);
  });

  it("refuses a pointer the sequencer did not sign", () => {
    const other = signDaPointer({ ...pointers[0]! }, CHAIN_ID, randomPrivateKey());
    assert.throws(() => checkDaPointer(encodeDaPointer(other), CHAIN_ID, sequencer), /not the sequencer/);
    assert.throws(
      () => checkDaPointer(encodeDaPointer(pointers[0]!), CHAIN_ID + 1, sequencer),
      /not the sequencer/,
    );
  });

  it("refuses a bundle with a flipped byte, naming the block", async () => {
    const reader = new DaReader(store, CHAIN_ID, sequencer);
    reader.addPointer(pointers[11]!);
    const victim = pointers[9]!; // block 10, reached through block 11's and 12's links
    const hex = bytesToHex(victim.commitment).slice(4);
    const file = join(
      dir,
      readdirSync(dir, { recursive: true })
        .map(String)
        .find((p) => p.includes(hex))!,
    );
    const original = readFileSync(file);
    const flipped = Buffer.from(original);
    flipped[flipped.length >> 1]! ^= 0x80;
    writeFileSync(file, flipped);
    try {
      await assert.rejects(reader.bundle(9n), (e: unknown) => {
        assert.ok(e instanceof DaError);
        assert.equal(e.kind, "corrupt");
        assert.match(e.message, /corrupt/);
        return true;
      });
      // Behind the directory store's own check, the reader checks the hash the sequencer signed.
      const lying = {
        description: "a store that ignores its commitments",
        put: store.put.bind(store),
        get: async () => flipped,
      };
      const r2 = new DaReader(lying, CHAIN_ID, sequencer);
      r2.addPointer(victim);
      await assert.rejects(
        r2.bundle(10n),
        /DA bundle of block 10 .* hashes to 0x[0-9a-f]{64}, not to the 0x[0-9a-f]{64} the sequencer signed/,
      );
    } finally {
      writeFileSync(file, original);
    }
    assert.equal((await reader.bundle(10n)).bundle.number, 10n);
  });
});
