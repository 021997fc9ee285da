import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createBlockHeader } from "@ethereumjs/block";
import { RLP } from "@ethereumjs/rlp";
import { bytesToHex } from "@ethereumjs/util";
import { encodeBlockSeal, encodeSignedMiniBlock, miniBlockHash } from "../../src/codec/chainCodec.ts";
import {
  DA_INDEX_SPAN,
  type DaIndexRef,
  type DaPointer,
  type DaRef,
  daBundleHash,
  decodeDaBundle,
  decodeDaIndex,
  encodeDaBundle,
  encodeDaIndex,
  signDaPointer,
} from "../../src/codec/daCodec.ts";
import { createEthCommon } from "../../src/chain/ethCommon.ts";
import { keccak256 } from "../../src/crypto/keccak.ts";
import { randomPrivateKey, signingKeyFromPrivate } from "../../src/crypto/secp256k1.ts";
import { SigningDomain, signPayload } from "../../src/crypto/signing.ts";
import { DaReader, type DaReadKind } from "../../src/da/daReader.ts";
import { DaError, DirectoryDaStore, type DaStore } from "../../src/da/daStore.ts";
import type { MiniBlock } from "../../src/types/chain.ts";

const CHAIN_ID = 4242;
const common = createEthCommon({ chainId: CHAIN_ID });
const SPAN = Number(DA_INDEX_SPAN);

/**
 * Publishes blocks 1…n as the sequencer's DA publisher does: each bundle linked to the one before
 * and naming the newest index; an index of each span once its last block is out. Blocks up to
 * `v1Through` are version-1 bundles (no index field), as a sequencer from before indexes wrote
 * them; the first index after them has no previous one, as the upgraded publisher writes it.
 */
async function publishChain(
  store: DaStore,
  key: Uint8Array,
  n: number,
  v1Through = 0,
): Promise<{ pointers: DaPointer[]; indexes: DaIndexRef[] }> {
  const pointers: DaPointer[] = [];
  const refs: DaRef[] = [];
  const indexes: DaIndexRef[] = [];
  let prev: DaRef | null = null;
  let mbNumber = 1n;
  for (let b = 1n; b <= BigInt(n); b++) {
    const m: MiniBlock = {
      number: mbNumber++,
      blockNumber: b,
      index: 0,
      parentHash: new Uint8Array(32),
      timestampUs: b * 1_000_000n,
      firstTxIndex: 0,
      firstLogIndex: 0,
      txs: [],
      receipts: [],
      diff: [],
    };
    const mbHash = miniBlockHash(m);
    const mb = { ...m, hash: mbHash, signature: signPayload(SigningDomain.miniBlock, CHAIN_ID, mbHash, key) };
    const header = createBlockHeader({ number: b, gasLimit: 30_000_000n }, { common }).serialize();
    const hash = keccak256(header);
    const sealBytes = encodeBlockSeal({
      header,
      hash,
      miniBlockHashes: [mbHash],
      signature: signPayload(SigningDomain.block, CHAIN_ID, hash, key),
    });
    const through = ((b - 1n) / DA_INDEX_SPAN) * DA_INDEX_SPAN;
    if (b > BigInt(v1Through) && through > 0n && indexes.at(-1)?.through !== through) {
      const last = indexes.at(-1);
      const blob = encodeDaIndex({
        through,
        refs: refs.slice(Number(through) - SPAN, Number(through)),
        prev: last !== undefined && last.through === through - DA_INDEX_SPAN ? last : null,
      });
      indexes.push({ through, commitment: await store.put(blob), bundleHash: daBundleHash(blob) });
    }
    const fields: Parameters<typeof encodeDaBundle>[0] = {
      number: b,
      prev,
      sealBytes,
      miniBlocks: [encodeSignedMiniBlock(mb)],
      witnessCompressed: new TextEncoder().encode(`witness of ${b}`),
    };
    const encoded: Uint8Array =
      b <= BigInt(v1Through)
        ? await encodeV1(fields)
        : await encodeDaBundle({ ...fields, index: indexes.at(-1) ?? null });
    prev = { commitment: await store.put(encoded), bundleHash: daBundleHash(encoded) };
    refs.push(prev);
    pointers.push(signDaPointer({ number: b, blockHash: hash, ...prev }, CHAIN_ID, key));
  }
  return { pointers, indexes };
}

/** A version-1 bundle: the version-2 encoding without the index field. */
async function encodeV1(b: Parameters<typeof encodeDaBundle>[0]): Promise<Uint8Array> {
  const v2 = RLP.decode(await encodeDaBundle({ ...b, index: null })) as Uint8Array[];
  return RLP.encode([Uint8Array.of(1), ...v2.slice(1, 7)]);
}

/** The store, counting reads of each blob. */
function counting(store: DaStore): DaStore & { reads: Map<string, number> } {
  const reads = new Map<string, number>();
  return {
    description: store.description,
    reads,
    put: (b) => store.put(b),
    get: (c) => {
      const k = bytesToHex(c);
      reads.set(k, (reads.get(k) ?? 0) + 1);
      return store.get(c);
    },
  };
}

describe("DA / index: joining a long chain reads each bundle once", () => {
  let dir: string;
  let store: DirectoryDaStore;
  const key = randomPrivateKey();
  const sequencer = bytesToHex(signingKeyFromPrivate(key).address);
  let chain: { pointers: DaPointer[]; indexes: DaIndexRef[] };
  const N = 300;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "staccato-da-index-"));
    store = new DirectoryDaStore(dir);
    chain = await publishChain(store, key, N);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("bundles name the newest index; an index lists its span and the index before it", async () => {
    assert.equal(chain.indexes.length, Math.floor((N - 1) / SPAN));
    const b = decodeDaBundle(await store.get(chain.pointers[N - 1]!.commitment));
    assert.equal(b.index?.through, BigInt(Math.floor((N - 1) / SPAN) * SPAN));
    const ix = decodeDaIndex(await store.get(chain.indexes[1]!.commitment));
    assert.equal(ix.through, 2n * DA_INDEX_SPAN);
    assert.equal(ix.refs.length, SPAN);
    assert.deepEqual(ix.refs[0]!.commitment, chain.pointers[SPAN]!.commitment);
    assert.deepEqual(ix.prev?.commitment, chain.indexes[0]!.commitment);
    assert.equal(decodeDaBundle(await store.get(chain.pointers[SPAN - 1]!.commitment)).index, null);
  });

  it("from the head pointer alone, reading blocks 1…300 in order reads each bundle once", async () => {
    const s = counting(store);
    const kinds: DaReadKind[] = [];
    const reader = new DaReader(s, CHAIN_ID, sequencer, { onRead: (k) => kinds.push(k) });
    reader.addPointer(chain.pointers[N - 1]!);
    for (let n = 1n; n <= BigInt(N); n++) assert.equal((await reader.bundle(n)).bundle.number, n);
    for (const p of chain.pointers)
      assert.equal(s.reads.get(bytesToHex(p.commitment)), 1, `bundle ${p.number} read once`);
    const indexReads = kinds.filter((k) => k === "index").length;
    // Every index once walking back from the newest, and again when its span is read in order.
    assert.ok(indexReads <= 2 * chain.indexes.length, `${indexReads} index reads`);
    assert.equal(reader.reads.bundles, N);
    assert.equal(reader.reads.indexes, indexReads);
  });

  it("a block in the middle is found through the indexes, not by walking back every bundle", async () => {
    const s = counting(store);
    const reader = new DaReader(s, CHAIN_ID, sequencer);
    reader.addPointer(chain.pointers[N - 1]!);
    assert.equal((await reader.bundle(70n)).bundle.number, 70n);
    // The head's bundle (it names the newest index), the indexes down to 70's span, block 70.
    assert.equal(reader.reads.bundles, 2);
    assert.equal(reader.reads.indexes, chain.indexes.length - 1);
  });

  it("a chain whose first blocks predate indexes: those are reached through their links", async () => {
    const dir2 = mkdtempSync(join(tmpdir(), "staccato-da-index-v1-"));
    try {
      const s2 = new DirectoryDaStore(dir2);
      const mixed = await publishChain(s2, key, 250, 150);
      assert.equal(mixed.indexes[0]!.through, 128n, "the first index after the upgrade");
      const s = counting(s2);
      const reader = new DaReader(s, CHAIN_ID, sequencer);
      reader.addPointer(mixed.pointers.at(-1)!);
      for (let n = 1n; n <= 250n; n++) assert.equal((await reader.bundle(n)).bundle.number, n);
      // Blocks 1…64 have no index (index 128, the first, reaches down to 65): they are read
      // walking back through the links from block 65, and kept for the reads in order.
      for (const p of mixed.pointers)
        assert.equal(s.reads.get(bytesToHex(p.commitment)), 1, `bundle ${p.number} read once`);
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  });

  it("a corrupt index is refused, naming it", async () => {
    const victim = chain.indexes[2]!;
    const lying: DaStore = {
      description: "a store that corrupts one index",
      put: (b) => store.put(b),
      get: async (c) => {
        const blob = await store.get(c);
        if (bytesToHex(c) !== bytesToHex(victim.commitment)) return blob;
        const bad = blob.slice();
        bad[bad.length >> 1]! ^= 1;
        return bad;
      },
    };
    const reader = new DaReader(lying, CHAIN_ID, sequencer);
    reader.addPointer(chain.pointers[N - 1]!);
    await assert.rejects(reader.bundle(1n), (e: unknown) => {
      assert.ok(e instanceof DaError);
      assert.equal(e.kind, "corrupt");
      assert.match(e.message, /DA index of blocks 129…192 .* hashes to/);
      return true;
    });
  });
});
