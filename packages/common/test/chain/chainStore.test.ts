import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bytesToHex } from "@ethereumjs/util";
import { ClassicLevel } from "classic-level";
import {
  ChainArchive,
  type ChainBlock,
  ChainStore,
  MIN_RETAINED_BLOCKS,
  type TxEntry,
  ZERO_BLOOM,
  blockSealOf,
  buildHeader,
  createEthCommon,
  devChainConfig,
  genesisArchived,
  keccak256,
  openChainBlock,
  sealedChainBlock,
} from "../../src/index.ts";

/**
 * The chain store's memory is bounded by blocks and by transactions: under load (thousands of
 * transactions a block) the block window alone would hold millions of receipts. Blocks whose
 * transactions leave memory keep their hash and header there, within BLOCKHASH's reach, and are
 * read from the archive (a real LevelDB) otherwise.
 */

const config = devChainConfig({ sequencer: `0x${"11".repeat(20)}` });
const common = createEthCommon(config);
const dir = mkdtempSync(join(tmpdir(), "staccato-chainstore-"));
let db: ClassicLevel<Uint8Array, Uint8Array>;
let archive: ChainArchive;

before(async () => {
  db = new ClassicLevel(join(dir, "db"), { keyEncoding: "view", valueEncoding: "view" });
  await db.open();
  archive = new ChainArchive(db, common);
});
after(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

const txHash = (block: bigint, i: number) =>
  bytesToHex(keccak256(Uint8Array.of(Number(block & 255n), Number(block >> 8n), i)));

function entry(block: bigint, index: number): TxEntry {
  return {
    hashHex: txHash(block, index),
    raw: new Uint8Array(100),
    sender: new Uint8Array(20),
    type: 2,
    blockNumber: block,
    index,
    miniBlockNumber: block,
    receipt: {
      status: 1,
      cumulativeGasUsed: 0n,
      gasUsed: 21_000n,
      effectiveGasPrice: 1n,
      contractAddress: null,
      logs: [],
    },
    firstLogIndex: 0,
    bloom: ZERO_BLOOM,
  };
}

/** Seals `b` (a header of its own) and archives it, as the sequencer's history writer does. */
async function sealAndArchive(chain: ChainStore, b: ChainBlock, parent: Uint8Array): Promise<void> {
  b.header = buildHeader(
    {
      parentHash: parent,
      coinbase: b.coinbase,
      stateRoot: new Uint8Array(32),
      transactionsRoot: new Uint8Array(32),
      receiptsRoot: new Uint8Array(32),
      logsBloom: new Uint8Array(256),
      number: b.number,
      gasLimit: b.gasLimit,
      gasUsed: 0n,
      timestamp: b.timestamp,
      prevRandao: b.prevRandao,
      baseFee: b.baseFee,
    },
    common,
  );
  b.hash = b.header.hash();
  b.signature = new Uint8Array(65);
  chain.markSealed(b);
  await db.batch(
    archive.blockOps({
      block: b,
      seal: blockSealOf(b),
      withMiniBlocks: false,
      withSenders: false,
      firstMiniBlock: b.number,
    }),
  );
  chain.archived(b.number);
}

const env = (n: bigint) => ({
  number: n,
  timestamp: n,
  baseFee: 1n,
  gasLimit: 30_000_000n,
  coinbase: new Uint8Array(20),
  prevRandao: new Uint8Array(32),
});

describe("chain store / memory bounded by blocks and transactions", () => {
  const BLOCKS = 400n;
  const TXS_PER_BLOCK = 50;
  const RETAIN_TXS = 500;
  let chain: ChainStore;
  const hashes = new Map<bigint, Uint8Array>();

  before(async () => {
    chain = new ChainStore(0n, { archive, retain: MIN_RETAINED_BLOCKS, retainTxs: RETAIN_TXS });
    const genesis = openChainBlock(env(0n));
    chain.addBlock(genesis);
    await sealAndArchive(chain, genesis, new Uint8Array(32));
    await db.batch(archive.blockOps(genesisArchived(genesis)));
    hashes.set(0n, genesis.hash!);
    for (let n = 1n; n <= BLOCKS; n++) {
      const b = openChainBlock(env(n));
      chain.addBlock(b);
      const entries = Array.from({ length: TXS_PER_BLOCK }, (_, i) => entry(n, i));
      chain.addMiniBlock(
        b,
        { number: n, hash: keccak256(Uint8Array.of(1, Number(n & 255n))), encoded: new Uint8Array(1) },
        entries,
      );
      await sealAndArchive(chain, b, hashes.get(n - 1n)!);
      hashes.set(n, b.hash!);
      assert.ok(
        chain.txsInMemory <= RETAIN_TXS + TXS_PER_BLOCK,
        `${chain.txsInMemory} txs held at block ${n}`,
      );
    }
  });

  it("keeps transactions of only the newest blocks that fit the bound, the newest sealed always", () => {
    assert.ok(chain.txsInMemory <= RETAIN_TXS, `${chain.txsInMemory}`);
    const kept = RETAIN_TXS / TXS_PER_BLOCK;
    for (let n = BLOCKS - BigInt(kept) + 1n; n <= BLOCKS; n++) {
      assert.ok(chain.block(n) !== undefined, `block ${n} in memory`);
      assert.ok(chain.tx(txHash(n, 3)) !== undefined, `a transaction of block ${n}`);
    }
    const gone = BLOCKS - BigInt(kept);
    assert.equal(chain.block(gone), undefined);
    assert.equal(chain.tx(txHash(gone, 3)), undefined);
    assert.equal(chain.miniBlockRef(gone), undefined);
    assert.equal(chain.latest.number, BLOCKS);
  });

  it("keeps the hash and header of the last `retain` sealed blocks, whatever the transactions", async () => {
    for (let n = BLOCKS - BigInt(MIN_RETAINED_BLOCKS) + 1n; n <= BLOCKS; n++) {
      assert.deepEqual(chain.sealedHash(n), hashes.get(n), `hash of ${n}`);
      assert.deepEqual(chain.sealedHeader(n)?.hash(), hashes.get(n), `header of ${n}`);
    }
    const older = BLOCKS - BigInt(MIN_RETAINED_BLOCKS);
    assert.equal(chain.sealedHash(older), undefined);
    // Older hashes and blocks come from the archive.
    assert.deepEqual(await chain.getSealedHash(older), hashes.get(older));
    assert.deepEqual((await archive.header(older))?.hash(), hashes.get(older));
    assert.equal(await chain.getSealedHash(BLOCKS + 1n), undefined);
  });

  it("a restart that loads only the newest block reads the recent hashes and headers back from the archive", async () => {
    const seal = (await archive.seal(BLOCKS))!;
    const latest = sealedChainBlock(archive.headerOf(seal), seal.hash, seal.signature);
    const restarted = new ChainStore(0n, {
      archive,
      retain: MIN_RETAINED_BLOCKS,
      retainTxs: RETAIN_TXS,
      first: BLOCKS,
      before: await archive.lastMiniBlockBefore(BLOCKS),
    });
    restarted.addBlock(latest);
    restarted.archived(BLOCKS);
    assert.equal(restarted.sealedHash(BLOCKS - 1n), undefined);
    await restarted.loadSealedRefs();
    for (let n = BLOCKS - BigInt(MIN_RETAINED_BLOCKS) + 1n; n <= BLOCKS; n++) {
      assert.deepEqual(restarted.sealedHash(n), hashes.get(n), `hash of ${n}`);
      assert.equal(restarted.sealedHeader(n)?.number, n);
    }
    assert.equal(restarted.sealedHash(BLOCKS - BigInt(MIN_RETAINED_BLOCKS)), undefined);
    // New blocks push the oldest out, in order.
    const b = openChainBlock(env(BLOCKS + 1n));
    restarted.addBlock(b);
    await sealAndArchive(restarted, b, hashes.get(BLOCKS)!);
    assert.equal(restarted.sealedHash(BLOCKS - BigInt(MIN_RETAINED_BLOCKS) + 1n), undefined);
    assert.deepEqual(restarted.sealedHash(BLOCKS + 1n), b.hash);
  });
});

describe("chain store / archived blocks read in bursts", () => {
  // Empty blocks, so they leave memory by count (after MIN_RETAINED_BLOCKS) and rebuild cheaply.
  const BLOCKS = BigInt(MIN_RETAINED_BLOCKS) + 20n;
  let chain: ChainStore;
  const hashes = new Map<bigint, Uint8Array>();

  before(async () => {
    chain = new ChainStore(1000n, { archive, retain: MIN_RETAINED_BLOCKS, retainTxs: 100 });
    let parent: Uint8Array = new Uint8Array(32);
    for (let n = 1000n; n <= 1000n + BLOCKS; n++) {
      const b = openChainBlock(env(n));
      chain.addBlock(b);
      await sealAndArchive(chain, b, parent);
      parent = b.hash!;
      hashes.set(n, b.hash!);
    }
  });

  it("rebuilds an archived block once for a burst of reads, and keeps only a few rebuilt", async () => {
    const old = 1005n;
    assert.equal(chain.block(old), undefined, "the block left memory");
    // Concurrent reads (a batch of receipts of one block) share one rebuild.
    const [a, b] = await Promise.all([chain.getBlock(old), chain.getBlock(old)]);
    assert.ok(a !== undefined && a === b);
    assert.equal(a.number, old);
    assert.deepEqual(a.hash, hashes.get(old));
    assert.equal(await chain.getBlock(old), a, "read again: not rebuilt");
    // Reading four other archived blocks pushes it out: the next read rebuilds it.
    for (let n = old + 1n; n <= old + 4n; n++) assert.equal((await chain.getBlock(n))?.number, n);
    const again = await chain.getBlock(old);
    assert.ok(again !== undefined && again !== a, "rebuilt after it left the cache");
    assert.deepEqual(again.hash, hashes.get(old));
  });
});
