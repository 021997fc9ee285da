import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { KECCAK256_RLP, bytesToHex } from "@ethereumjs/util";
import {
  DEFAULT_RETAINED_BLOCKS,
  DEFAULT_RETAINED_TXS,
  DEFAULT_STATE_WINDOW,
  genesisArchived,
  ChainEvents,
  type ChainConfig,
  DaReader,
  type DaPointer,
  type DaRef,
  DirectoryDaStore,
  InlineStateTrie,
  type MiniBlock,
  SigningDomain,
  type StateDiff,
  buildGenesis,
  buildHeader,
  createEthCommon,
  createRegistry,
  daBundleHash,
  decodeSignedMiniBlock,
  devAccounts,
  devChainConfig,
  encodeBlockSeal,
  encodeDaBundle,
  encodeSignedMiniBlock,
  keccak256,
  miniBlockHash,
  randomPrivateKey,
  signDaPointer,
  signPayload,
  signingKeyFromPrivate,
  silentLogger,
} from "@staccato/common";
import { metricValue } from "../helpers/daemonProcess.ts";
import type { Follower } from "../../src/chain/follower.ts";
import { type Replica, loadReplica } from "../../src/node/replica.ts";
import { FullnodeMetrics } from "../../src/node/metrics.ts";
import { FullnodeStore } from "../../src/store/fullnodeStore.ts";
import { DaSync } from "../../src/sync/daSync.ts";

const BLOCKS = 40;

interface PublishedChain {
  pointers: DaPointer[];
  /** Each block's state root, as the sequencer would have sealed it. */
  roots: Uint8Array[];
  /** A signed mini-block of block BLOCKS + 1, the block still open at the tip. */
  openMiniBlock: Uint8Array;
}

/**
 * Publishes blocks 1…BLOCKS to `store` as the sequencer does, each bundle linked to the one
 * before: blocks with no mini-blocks, one or two, every mini-block moving a dev account's balance,
 * every header's state root the one those diffs lead to from genesis.
 */
async function publishChain(
  config: ChainConfig,
  genesis: Awaited<ReturnType<typeof buildGenesis>>,
  store: DirectoryDaStore,
  key: Uint8Array,
): Promise<PublishedChain> {
  const common = createEthCommon(config);
  const trie = new InlineStateTrie();
  trie.add(genesis.diff);
  await trie.commit();
  const account = devAccounts(1)[0]!.address;
  const address = Uint8Array.from(Buffer.from(account.slice(2), "hex"));
  let parentHash = genesis.block.hash!;
  let lastMiniBlockHash: Uint8Array = new Uint8Array(32);
  let mbNumber = 1n;
  let prev: DaRef | null = null;
  const pointers: DaPointer[] = [];
  const roots: Uint8Array[] = [];
  const miniBlock = (block: bigint, index: number) => {
    const diff: StateDiff = [{ address, flags: 0, balance: 10n ** 18n + mbNumber, storage: [] }];
    const m: MiniBlock = {
      number: mbNumber++,
      blockNumber: block,
      index,
      parentHash: lastMiniBlockHash,
      timestampUs: block * 1_000_000n + BigInt(index),
      firstTxIndex: 0,
      firstLogIndex: 0,
      txs: [],
      receipts: [],
      diff,
    };
    const hash = miniBlockHash(m);
    lastMiniBlockHash = hash;
    return { ...m, hash, signature: signPayload(SigningDomain.miniBlock, config.chainId, hash, key) };
  };
  for (let b = 1n; b <= BigInt(BLOCKS); b++) {
    const mbs = Array.from({ length: Number(b % 3n) }, (_, i) => miniBlock(b, i));
    for (const m of mbs) trie.add(m.diff);
    const { root } = await trie.commit();
    roots.push(root);
    const header = buildHeader(
      {
        parentHash,
        coinbase: new Uint8Array(20),
        stateRoot: root,
        transactionsRoot: KECCAK256_RLP,
        receiptsRoot: KECCAK256_RLP,
        logsBloom: new Uint8Array(256),
        number: b,
        gasLimit: config.blockGasLimit,
        gasUsed: 0n,
        timestamp: BigInt(config.genesisTimestamp) + b,
        prevRandao: new Uint8Array(32),
        baseFee: config.baseFee.initial,
      },
      common,
    ).serialize();
    const hash = keccak256(header);
    parentHash = hash;
    const encoded = await encodeDaBundle({
      number: b,
      prev,
      sealBytes: encodeBlockSeal({
        header,
        hash,
        miniBlockHashes: mbs.map((m) => m.hash),
        signature: signPayload(SigningDomain.block, config.chainId, hash, key),
      }),
      miniBlocks: mbs.map(encodeSignedMiniBlock),
      witnessCompressed: new Uint8Array(0),
    });
    prev = { commitment: await store.put(encoded), bundleHash: daBundleHash(encoded) };
    pointers.push(signDaPointer({ number: b, blockHash: hash, ...prev }, config.chainId, key));
  }
  return { pointers, roots, openMiniBlock: encodeSignedMiniBlock(miniBlock(BigInt(BLOCKS) + 1n, 0)) };
}

/** The blob file of `ref` in the directory store at `dir`. */
function blobFile(dir: string, ref: DaRef): string {
  const hex = bytesToHex(ref.commitment).slice(4);
  return join(
    dir,
    readdirSync(dir, { recursive: true })
      .map(String)
      .find((p) => p.includes(hex))!,
  );
}

describe("fullnode sync / filling from DA", () => {
  const key = randomPrivateKey();
  const sequencer = bytesToHex(signingKeyFromPrivate(key).address);
  const config = devChainConfig({ sequencer });
  const common = createEthCommon(config);
  let genesis: Awaited<ReturnType<typeof buildGenesis>>;
  let tmp: string;
  let daDir: string;
  let chain: PublishedChain;
  let node: {
    replica: Replica;
    store: FullnodeStore;
    metrics: FullnodeMetrics;
    registry: ReturnType<typeof createRegistry>;
  };
  let now = 0;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "staccato-fn-da-"));
    daDir = join(tmp, "da");
    genesis = await buildGenesis(config, common);
    chain = await publishChain(config, genesis, new DirectoryDaStore(daDir), key);
  });

  /** A fresh node: an empty store initialized from genesis, its replica loaded as at start. */
  beforeEach(async () => {
    if (node !== undefined) {
      await node.replica.trie.close();
      await node.store.close();
    }
    const store = await FullnodeStore.open(mkdtempSync(join(tmp, "db-")), common);
    await store.resetToSnapshot(
      genesis.diff,
      { verifiedBlock: 0n, lastMiniBlockNumber: 0n, lastMiniBlockHash: new Uint8Array(32), baseBlock: 0n },
      genesisArchived(genesis.block),
    );
    const registry = createRegistry();
    const metrics = new FullnodeMetrics(registry);
    const replica = await loadReplica({
      config,
      common,
      genesis: genesis.block,
      store,
      events: new ChainEvents(),
      metrics,
      logger: silentLogger(),
      stateWindow: DEFAULT_STATE_WINDOW,
      retainBlocks: DEFAULT_RETAINED_BLOCKS,
      retainTxs: DEFAULT_RETAINED_TXS,
      onMismatch: (err) => assert.fail(`block does not verify: ${err.message}`),
    });
    node = { replica, store, metrics, registry };
    now = 0;
  });
  after(async () => {
    await node?.replica.trie.close();
    await node?.store.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const daSync = (reader: DaReader, batchBlocks = 16) =>
    new DaSync(
      { batchBlocks, batchBytes: 64 << 20, retryMs: 1_000, maxRetryMs: 4_000 },
      { reader, metrics: node.metrics, logger: silentLogger(), now: () => now },
    );
  const metric = async (name: string, labels: Record<string, string> = {}) =>
    metricValue(await node.registry.metrics(), name, labels);

  /** Fills until a pass brings nothing; the blocks each pass offered. */
  async function fillAll(sync: DaSync, f: Follower): Promise<number[]> {
    const passes: number[] = [];
    for (let n = await sync.fill(f); n > 0; n = await sync.fill(f)) {
      passes.push(n);
      await f.settle();
      if (passes.length > BLOCKS) assert.fail(`no end to filling: ${passes.join(", ")}`);
    }
    await f.settle();
    return passes;
  }

  it("reaches the newest pointer's block from that pointer alone, in bounded batches, every block verified", async () => {
    const reader = new DaReader(new DirectoryDaStore(daDir), config.chainId, sequencer);
    reader.addPointer(chain.pointers.at(-1)!);
    const f = node.replica.follower;
    f.heardOfSealedBlock(reader.headNumber);
    assert.equal(f.wants().behind, true);
    const sync = daSync(reader);
    assert.deepEqual(await fillAll(sync, f), [16, 16, 8]);
    assert.equal(f.verifiedBlock, BigInt(BLOCKS));
    assert.equal(f.appliedMiniBlock, 40n, "blocks 1…40 hold 0, 1 or 2 mini-blocks: 40 in all");
    assert.deepEqual(node.replica.chain.block(BigInt(BLOCKS))!.header!.stateRoot, chain.roots.at(-1));
    assert.equal((await node.store.meta())!.verifiedBlock, BigInt(BLOCKS), "stored as verified");
    assert.equal(await metric("staccato_fullnode_da_blocks_total"), BLOCKS);
    assert.ok((await metric("staccato_fullnode_da_bytes_total")) > 0);
    assert.equal(await metric("staccato_fullnode_da_failures_total"), 0);
    assert.equal(f.wants().behind, false);
    assert.equal(await sync.fill(f), 0, "nothing beyond the newest pointer");

    // The block open at the tip is not a block the node is behind on.
    f.offerMiniBlock(decodeSignedMiniBlock(chain.openMiniBlock), false, chain.openMiniBlock);
    assert.equal(f.appliedMiniBlock, 41n);
    assert.equal(f.highestBlock, BigInt(BLOCKS) + 1n);
    assert.equal(f.highestSealedBlock, BigInt(BLOCKS));
    assert.equal(f.wants().behind, false);
  });

  it("refuses a bundle with a flipped byte, applies nothing beneath it, and retries with a doubling wait until it is repaired", async () => {
    const file = blobFile(daDir, chain.pointers[24]!); // block 25
    const original = readFileSync(file);
    const flipped = Buffer.from(original);
    flipped[flipped.length >> 1]! ^= 0x01;
    writeFileSync(file, flipped);
    try {
      const reader = new DaReader(new DirectoryDaStore(daDir), config.chainId, sequencer);
      // Pointers for blocks 20 and 40: blocks 1…20 are reached from block 20's, the rest only
      // through block 25's bundle.
      reader.addPointer(chain.pointers[19]!);
      reader.addPointer(chain.pointers.at(-1)!);
      const f = node.replica.follower;
      f.heardOfSealedBlock(reader.headNumber);
      const sync = daSync(reader);
      assert.deepEqual(await fillAll(sync, f), [16, 4]);
      assert.equal(f.verifiedBlock, 20n);
      assert.equal(await metric("staccato_fullnode_da_failures_total", { kind: "corrupt" }), 1);
      assert.equal(sync.readyIn(), 1_000);
      assert.equal(await sync.fill(f), 0, "no read while waiting");
      now += 1_000;
      assert.equal(await sync.fill(f), 0);
      assert.equal(await metric("staccato_fullnode_da_failures_total", { kind: "corrupt" }), 2);
      assert.equal(sync.readyIn(), 2_000, "the wait doubles");
      await f.settle();
      assert.equal(f.verifiedBlock, 20n, "block 25 and everything after it stay unapplied");
      assert.equal(f.appliedMiniBlock, 21n, "only blocks 1…20's mini-blocks are applied");
      assert.equal(node.replica.chain.block(21n), undefined);

      writeFileSync(file, original);
      now += 2_000;
      assert.deepEqual(await fillAll(sync, f), [16, 4]);
      assert.equal(f.verifiedBlock, BigInt(BLOCKS));
      assert.deepEqual(node.replica.chain.block(BigInt(BLOCKS))!.header!.stateRoot, chain.roots.at(-1));
    } finally {
      writeFileSync(file, original);
    }
  });

  it("an unreadable DA is retried with a doubling wait, capped, and read once it is back", async () => {
    // The store's directory is a plain file: every read fails with ENOTDIR, "unavailable".
    const gone = join(tmp, "da-unreadable");
    writeFileSync(gone, "not a directory");
    const reader = new DaReader(new DirectoryDaStore(gone), config.chainId, sequencer);
    reader.addPointer(chain.pointers.at(-1)!);
    const f = node.replica.follower;
    const sync = daSync(reader);
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      assert.equal(await sync.fill(f), 0);
      waits.push(sync.readyIn());
      now += sync.readyIn();
    }
    assert.deepEqual(waits, [1_000, 2_000, 4_000, 4_000, 4_000]);
    assert.equal(await metric("staccato_fullnode_da_failures_total", { kind: "unavailable" }), 5);
    assert.equal(f.verifiedBlock, 0n);

    rmSync(gone);
    renameSync(daDir, gone);
    try {
      assert.deepEqual(await fillAll(sync, f), [16, 16, 8]);
      assert.equal(f.verifiedBlock, BigInt(BLOCKS));
    } finally {
      renameSync(gone, daDir);
    }
  });
});
