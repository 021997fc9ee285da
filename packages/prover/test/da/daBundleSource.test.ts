import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BlockHeader } from "@ethereumjs/block";
import { bytesToHex } from "@ethereumjs/util";
import {
  type ChainConfig,
  DaReader,
  type DaRef,
  type DaStore,
  DirectoryDaStore,
  KECCAK256_RLP,
  type MiniBlock,
  SigningDomain,
  buildGenesis,
  buildHeader,
  compressWitness,
  createEthCommon,
  daBundleHash,
  decodeBundle,
  devChainConfig,
  encodeBlockSeal,
  encodeDaBundle,
  encodeSignedMiniBlock,
  encodeWitness,
  miniBlockHash,
  nextBaseFee,
  orderedTrieRoot,
  randomPrivateKey,
  signDaPointer,
  signPayload,
  signingKeyFromPrivate,
} from "@staccato/common";
import { DaBundleSource, type DaFetchResult, blockBundleFromDa } from "../../src/da/daBundleSource.ts";
import { verifyBundle } from "../../src/validation/verifyBlock.ts";

/** The real directory store, counting reads: how many blobs a fetch cost. */
class CountingStore implements DaStore {
  gets = 0;
  constructor(private readonly inner: DirectoryDaStore) {}
  get description(): string {
    return this.inner.description;
  }
  put(blob: Uint8Array): Promise<Uint8Array> {
    return this.inner.put(blob);
  }
  get(commitment: Uint8Array): Promise<Uint8Array> {
    this.gets++;
    return this.inner.get(commitment);
  }
}

interface Published {
  number: bigint;
  header: BlockHeader;
  hash: Uint8Array;
  ref: DaRef;
  txs: Uint8Array[];
  witnessCompressed: Uint8Array;
  sealBytes: Uint8Array;
}

const ok = (r: DaFetchResult) => {
  if (!("bundle" in r)) throw new Error(`expected a bundle, got ${r.failure}: ${r.reason}`);
  return r;
};

/**
 * A chain published to a DA directory as the sequencer publishes it, signed with the sequencer's
 * key: blocks 1–3 empty (two or three empty mini-blocks each), block 4 with five transaction
 * payloads spread over three mini-blocks (2, 0, 3).
 */
describe("prover / DA bundle source", () => {
  const seqKey = randomPrivateKey();
  const config: ChainConfig = devChainConfig({
    sequencer: bytesToHex(signingKeyFromPrivate(seqKey).address),
  });
  const common = createEthCommon(config);
  const dir = mkdtempSync(join(tmpdir(), "staccato-prover-da-"));
  const store = new DirectoryDaStore(dir);
  const blocks: Published[] = [];
  let miniNumber = 1n;

  const miniBlock = (blockNumber: bigint, index: number, txs: Uint8Array[]) => {
    const m: MiniBlock = {
      number: miniNumber++,
      blockNumber,
      index,
      parentHash: new Uint8Array(32),
      timestampUs: 1_000_000n * blockNumber + BigInt(index),
      firstTxIndex: 0,
      firstLogIndex: 0,
      txs,
      receipts: txs.map((_, i) => ({
        status: 1,
        cumulativeGasUsed: 21_000n * BigInt(i + 1),
        gasUsed: 21_000n,
        effectiveGasPrice: 1n,
        contractAddress: null,
        logs: [],
      })),
      diff: [],
    };
    const hash = miniBlockHash(m);
    const signature = signPayload(SigningDomain.miniBlock, config.chainId, hash, seqKey);
    return { hash, encoded: encodeSignedMiniBlock({ ...m, hash, signature }) };
  };

  async function publish(parent: BlockHeader, perMiniBlock: Uint8Array[][]): Promise<Published> {
    const number = parent.number + 1n;
    const txs = perMiniBlock.flat();
    const header = buildHeader(
      {
        parentHash: parent.hash(),
        coinbase: new Uint8Array(20),
        stateRoot: parent.stateRoot,
        transactionsRoot: orderedTrieRoot(txs),
        receiptsRoot: KECCAK256_RLP,
        logsBloom: new Uint8Array(256),
        number,
        gasLimit: config.blockGasLimit,
        gasUsed: 0n,
        timestamp: parent.timestamp + 1n,
        prevRandao: new Uint8Array(32),
        baseFee: nextBaseFee(
          { baseFee: parent.baseFeePerGas!, gasUsed: parent.gasUsed, gasLimit: parent.gasLimit },
          config.baseFee,
        ),
      },
      common,
    );
    const hash = header.hash();
    const minis = perMiniBlock.map((t, i) => miniBlock(number, i, t));
    const sealBytes = encodeBlockSeal({
      header: header.serialize(),
      hash,
      miniBlockHashes: minis.map((m) => m.hash),
      signature: signPayload(SigningDomain.block, config.chainId, hash, seqKey),
    });
    const witnessCompressed = await compressWitness(
      encodeWitness({ nodes: [], codes: [], headers: [parent.serialize()] }),
    );
    const blob = await encodeDaBundle({
      number,
      prev: blocks.at(-1)?.ref ?? null,
      sealBytes,
      miniBlocks: minis.map((m) => m.encoded),
      witnessCompressed,
    });
    const ref = { commitment: await store.put(blob), bundleHash: daBundleHash(blob) };
    const b = { number, header, hash, ref, txs, witnessCompressed, sealBytes };
    blocks.push(b);
    return b;
  }

  /** A fresh source that knows only the sequencer's pointer to the newest block. */
  const freshSource = (s: DaStore = store) => {
    const reader = new DaReader(s, config.chainId, config.sequencer);
    const top = blocks.at(-1)!;
    reader.addPointer(
      signDaPointer({ number: top.number, blockHash: top.hash, ...top.ref }, config.chainId, seqKey),
    );
    return new DaBundleSource(reader);
  };

  const payload = (i: number) => Uint8Array.from({ length: 40 + i }, (_, j) => (i * 31 + j) & 0xff);

  before(async () => {
    let parent = (await buildGenesis(config, common)).block.header!;
    for (const shape of [[[], []], [[], [], []], [[]]] as Uint8Array[][][])
      parent = (await publish(parent, shape)).header;
    await publish(parent, [[payload(0), payload(1)], [], [payload(2), payload(3), payload(4)]]);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it("builds the bundle witness-by-number serves: the seal, every mini-block's transactions in order, the witness", async () => {
    const b = blocks[3]!;
    const got = ok(await freshSource().fetch(b.number, b.hash));
    const bundle = decodeBundle(got.bundle);
    assert.deepEqual(bundle.sealBytes, b.sealBytes);
    assert.deepEqual(bundle.txs, [0, 1, 2, 3, 4].map(payload));
    assert.deepEqual(bundle.witnessCompressed, b.witnessCompressed);
    // The verifier accepts it as this block's data (the transactions match transactionsRoot) and
    // goes on to execute them: these payloads are no transactions, so the block is invalid.
    const out = await verifyBundle(got.bundle, { config, common, expectedHash: b.hash });
    assert.equal(out.kind, "invalid");
    assert.match((out as { reason: string }).reason, /transaction 0 is malformed/);
  });

  it("from the newest pointer alone, every earlier block is read and verifies valid", async () => {
    const source = freshSource();
    for (const b of blocks.slice(0, 3)) {
      const got = ok(await source.fetch(b.number, b.hash));
      const out = await verifyBundle(got.bundle, { config, common, expectedHash: b.hash });
      assert.equal(out.kind, "valid", `block ${b.number}: ${"reason" in out ? out.reason : out.kind}`);
      assert.deepEqual(out.blockHash, b.hash);
      assert.equal(out.blockNumber, b.number);
    }
    // With no hash named (a block picked up as a gap), any block DA holds at that height.
    ok(await source.fetch(2n, null));
  });

  it("another block at that height is other-block; a height past the newest pointer is not-found", async () => {
    const source = freshSource();
    const r = await source.fetch(2n, blocks[0]!.hash);
    assert.ok("failure" in r && r.failure === "other-block", JSON.stringify(r));
    assert.match(r.reason, new RegExp(`not ${bytesToHex(blocks[0]!.hash)}`));
    const past = await source.fetch(5n, null);
    assert.ok("failure" in past && past.failure === "not-found", JSON.stringify(past));
  });

  it("a corrupt blob is a corrupt result, for the block and for every block only reachable through it, until repaired", async () => {
    const hex = bytesToHex(blocks[2]!.ref.commitment.subarray(1)).slice(2);
    const path = join(dir, hex.slice(0, 2), `${hex}.blob`);
    const good = readFileSync(path);
    const bad = Buffer.from(good);
    bad[bad.length >> 1]! ^= 0x01;
    writeFileSync(path, bad);
    try {
      const source = freshSource();
      for (const n of [3n, 1n]) {
        const r = await source.fetch(n, null);
        assert.ok("failure" in r && r.failure === "corrupt", `block ${n}: ${JSON.stringify(r)}`);
        assert.match(r.reason, /corrupt/);
      }
      ok(await source.fetch(4n, null));
    } finally {
      writeFileSync(path, good);
    }
    const source = freshSource();
    ok(await source.fetch(3n, blocks[2]!.hash));
    ok(await source.fetch(1n, blocks[0]!.hash));
  });

  it("concurrent fetches read one at a time: the first walks the links back, the rest take what it read", async () => {
    const counting = new CountingStore(store);
    const source = freshSource(counting);
    const results = await Promise.all(blocks.slice(0, 3).map((b) => source.fetch(b.number, b.hash)));
    for (const r of results) ok(r);
    // Block 1: blocks 4, 3 and 2 for their links, then its own; blocks 2 and 3 were kept from the
    // walk, so no bundle is read twice.
    assert.equal(counting.gets, 4);
    const bundle = blockBundleFromDa(await source.reader.bundle(1n));
    assert.deepEqual(bundle, ok(await source.fetch(1n, blocks[0]!.hash)).bundle);
  });
});
