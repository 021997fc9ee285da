import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Hex, parseEther } from "viem";
import { DEV_CHAIN_ID, devKeyAccount } from "../../sequencer/test/helpers/devChain.ts";
import { SequencerProcess } from "../../sequencer/test/helpers/sequencerProcess.ts";
import {
  FullnodeProcess,
  TempDirs,
  blockNumber,
  fullnodeArgs,
  killAllFullnodes,
  rpc,
  waitFor,
} from "./helpers/fullnodeProcess.ts";

/**
 * Issue 6, the full node's side (DESIGN §7): the sequencer serves no history
 * (`--no-serve-history`) and publishes every block to its DA dir; full nodes given that dir fill
 * what no peer serves from it, check every bundle against what the sequencer signed, and learn
 * where DA ends from any peer's `da-head`, so they still join once the sequencer is gone.
 */

/** Blocks the chain has before the first full node starts. */
const BLOCKS = 500n;
/** A transfer every this many blocks while the chain grows. */
const EVERY = 20n;
/** The block whose DA blob gets a flipped byte. */
const CORRUPT_BLOCK = 250n;

interface Header {
  number: Hex;
  hash: Hex;
  stateRoot: Hex;
}

interface Syncing {
  startingBlock: Hex;
  currentBlock: Hex;
  highestBlock: Hex;
}

const tag = (n: bigint) => `0x${n.toString(16)}`;

describe("fullnode / fills from DA what no peer serves", () => {
  let seq: SequencerProcess;
  let daDir: string;
  const dirs = new TempDirs();
  const recipients = Array.from(
    { length: 5 },
    (_, i) => `0x${(0xda0 + i).toString(16).padStart(40, "0")}` as Hex,
  );
  /** The node that joins while the sequencer runs; the others join through it. */
  let first: FullnodeProcess;
  /** The newest block in DA once the sequencer stopped. */
  let daHead: bigint;

  before(async () => {
    // 20 ms blocks: 500 of them in about 10 s. DA is the sequencer's default (`dir`, in its data dir).
    seq = await SequencerProcess.start({ args: ["--block-ms", "20", "--no-serve-history"] });
    daDir = join(seq.dataDir, "da");
  });

  after(async () => {
    await killAllFullnodes();
    await seq?.cleanup();
    dirs.cleanup();
  });

  /** Flags of a fresh full node reading the sequencer's DA dir, dialing `bootnode`. */
  const daNodeArgs = (bootnode?: string): string[] => {
    const args = [...fullnodeArgs(seq, dirs.make()), "--da", "dir", "--da-dir", daDir];
    if (bootnode !== undefined) args[args.indexOf("--bootnodes") + 1] = bootnode;
    return args;
  };

  /** Polls `eth_syncing` until it reports a catch-up; returns that report. */
  const catchUpReport = async (node: FullnodeProcess): Promise<Syncing> => {
    let report: Syncing | undefined;
    await waitFor(
      "eth_syncing to report the catch-up",
      async () => {
        const r = await node.rpc<Syncing | false>("eth_syncing");
        if (r !== false) report = r;
        return r !== false;
      },
      20_000,
    );
    return report!;
  };

  /**
   * Same hash and state root at block `n` on both, and the same recipient balances at their heads
   * (no transfer is sent after the first test).
   */
  const sameChain = async (n: bigint, node: { rpcUrl: string }, want: { rpcUrl: string }) => {
    const [got, exp] = await Promise.all(
      [node, want].map((x) => rpc<Header | null>(x.rpcUrl, "eth_getBlockByNumber", [tag(n), false])),
    );
    assert.ok(exp !== null, `block ${n} exists`);
    assert.equal(got?.hash, exp.hash, `block ${n} hash`);
    assert.equal(got?.stateRoot, exp.stateRoot, `block ${n} state root`);
    for (const r of recipients) {
      const balance = await rpc<Hex>(want.rpcUrl, "eth_getBalance", [r, "latest"]);
      assert.notEqual(balance, "0x0");
      assert.equal(await rpc(node.rpcUrl, "eth_getBalance", [r, "latest"]), balance);
    }
  };

  it("the sequencer, serving no history, seals 500 blocks with transfers and publishes each to DA", async (t) => {
    const sender = devKeyAccount(12);
    let nonce = 0;
    for (let at = await blockNumber(seq.rpcUrl); at < BLOCKS; at = await blockNumber(seq.rpcUrl)) {
      const raw = await sender.signTransaction({
        chainId: DEV_CHAIN_ID,
        type: "eip1559",
        to: recipients[nonce % recipients.length]!,
        value: parseEther("0.001") + BigInt(nonce),
        nonce: nonce++,
        gas: 21_000n,
        maxFeePerGas: 10n ** 11n,
        maxPriorityFeePerGas: 0n,
      });
      await rpc<Hex>(seq.rpcUrl, "eth_sendRawTransaction", [raw]);
      await waitFor(`block ${at + EVERY}`, async () => (await blockNumber(seq.rpcUrl)) >= at + EVERY, 30_000);
    }
    await waitFor(
      `block ${BLOCKS} published to DA`,
      async () => {
        const h = (await (await fetch(new URL("/health", seq.metricsUrl))).json()) as {
          da: { publishedBlock: number };
        };
        return BigInt(h.da.publishedBlock) >= BLOCKS;
      },
      30_000,
    );
    t.diagnostic(`${nonce} transfers over ${BLOCKS} blocks`);
  });

  it("without DA, a full node asked to join from a snapshot that no peer serves stops at once, saying to read DA", async () => {
    const t0 = Date.now();
    await assert.rejects(
      FullnodeProcess.start([...fullnodeArgs(seq, dirs.make()), "--sync", "snapshot"], 60_000),
      (err: Error) => {
        assert.match(err.message, /--sync snapshot: none of the 1 connected peers serves state snapshots/);
        assert.match(err.message, /--no-serve-history/, "the sequencer's reason is passed on");
        assert.match(err.message, /a node that reads DA \(--da dir --da-dir/);
        return true;
      },
    );
    // Not after the whole 30 s join timeout: as soon as the one peer said no.
    assert.ok(Date.now() - t0 < 25_000, `gave up after ${Date.now() - t0} ms`);
  });

  it("a fresh full node asked to join from a snapshot, which no peer serves, joins from genesis and reaches the sequencer's block hash and state root from DA alone", async (t) => {
    const target = await blockNumber(seq.rpcUrl);
    const t0 = Date.now();
    // The sequencer serves no snapshot (--no-serve-history): told so, the node falls back to
    // genesis and DA at once instead of failing after the 30 s join timeout.
    first = await FullnodeProcess.start([...daNodeArgs(), "--sync", "snapshot"]);
    const startedIn = Date.now() - t0;
    const fellBack = first
      .logs()
      .find(
        (l) =>
          l.msg === "--sync snapshot: no snapshot to join from; joining from genesis and catching up from DA",
      );
    assert.ok(fellBack !== undefined, "the fallback is logged");
    assert.equal(fellBack.level, 40, "as a warning");
    assert.match(String(fellBack.reason), /serves state snapshots.*--no-serve-history/);
    assert.ok(!first.logs().some((l) => l.msg === "joined from a verified state snapshot"));
    assert.ok(startedIn < 15_000, `started in ${startedIn} ms`);
    const report = await catchUpReport(first);
    assert.ok(BigInt(report.currentBlock) < BigInt(report.highestBlock), JSON.stringify(report));
    await waitFor(`block ${target}`, async () => (await blockNumber(first.rpcUrl)) >= target, 90_000);
    const took = Date.now() - t0;
    await sameChain(target, first, seq);

    // The sequencer served none of it: every block up to the one it had when the node started
    // came from DA.
    assert.ok(
      (await first.metric("staccato_fullnode_da_blocks_total")) >= Number(target),
      "blocks read from DA",
    );
    assert.ok((await first.metric("staccato_fullnode_da_bytes_total")) > 0);
    assert.equal(await first.metric("staccato_fullnode_da_failures_total"), 0);
    // Each bundle is read once (issue 14): the DA indexes tell where every bundle is, and the few
    // a walk back reads are kept for the reads in order. (A walk back covers at most the blocks
    // after the newest index; of those, the newest may come by gossip first: at most a span.)
    const daBlocks = await first.metric("staccato_fullnode_da_blocks_total");
    const bundleReads = await first.metric("staccato_fullnode_da_reads_total", { kind: "bundle" });
    const indexReads = await first.metric("staccato_fullnode_da_reads_total", { kind: "index" });
    t.diagnostic(`${bundleReads} bundle reads and ${indexReads} index reads for ${daBlocks} blocks from DA`);
    assert.ok(
      bundleReads >= daBlocks && bundleReads <= daBlocks + 64,
      `${bundleReads} bundle reads for ${daBlocks} blocks`,
    );
    assert.ok(indexReads >= 1 && indexReads <= 2 * Math.ceil(daBlocks / 64), `${indexReads} index reads`);
    const located = first.logs().filter((l) => l.msg === "located block in DA");
    assert.ok(located.length > 0, "finding the first block in DA is logged");
    assert.ok(
      located.every((l) => Number(l.bundlesRead) <= 65),
      `a block is located reading at most a span of bundles: ${JSON.stringify(located)}`,
    );
    assert.ok(
      first.logs().some((l) => l.msg === "filled blocks from DA" && typeof l.left === "number"),
      "the catch-up logs how far it has left",
    );
    assert.ok(first.logs().some((l) => l.msg === "catching up from DA: no peer serves these blocks"));
    const filled = first.logs().filter((l) => l.msg === "filled blocks from DA");
    assert.equal(filled[0]?.from, 1, "the first DA batch starts at block 1");
    // Caught up, it follows the sequencer's gossip and says it is not syncing.
    await waitFor("eth_syncing false", async () => (await first.rpc("eth_syncing")) === false, 30_000);
    assert.equal(await first.health(), 200);
    t.diagnostic(
      `started in ${startedIn} ms (fell back from --sync snapshot); ${target} blocks from DA in ${took} ms, in ${filled.length} batches`,
    );
  });

  it("with the sequencer gone, a fresh node learns the DA head from a full node's da-head and reaches it", async (t) => {
    await seq.stop();
    // What the first node heard of last: the pointer to the newest block in DA.
    await waitFor(
      "the first node to settle on the last DA pointer and verify its block",
      async () => {
        const head = BigInt(await first.metric("staccato_fullnode_da_head_block"));
        if (head !== daHead) {
          daHead = head;
          return false;
        }
        return (await blockNumber(first.rpcUrl)) >= head && head >= BLOCKS;
      },
      20_000,
    );
    const t0 = Date.now();
    const joiner = await FullnodeProcess.start(daNodeArgs(first.p2pAddress()));
    const report = await catchUpReport(joiner);
    assert.equal(BigInt(report.highestBlock), daHead, "the highest block is the DA head a peer named");
    await waitFor(`block ${daHead}`, async () => (await blockNumber(joiner.rpcUrl)) >= daHead, 90_000);
    await sameChain(daHead, joiner, first);
    assert.ok((await joiner.metric("staccato_fullnode_da_blocks_total")) >= Number(daHead));
    await waitFor("eth_syncing false", async () => (await joiner.rpc("eth_syncing")) === false, 10_000);
    t.diagnostic(`${daHead} blocks from DA in ${Date.now() - t0} ms, learning the head from a full node`);
    await joiner.kill();
  });

  it("a flipped byte in a DA blob is refused with a clear error and nothing from it is applied; repaired, the node goes on", async () => {
    const file = blobOf(seq, daDir, CORRUPT_BLOCK);
    const original = readFileSync(file);
    const flipped = Buffer.from(original);
    flipped[flipped.length >> 1]! ^= 0x04;
    writeFileSync(file, flipped);
    let node: FullnodeProcess | undefined;
    try {
      node = await FullnodeProcess.start(daNodeArgs(first.p2pAddress()));
      const n = node;
      const refused = await waitForLog(n, (l) => l.msg === "refused a corrupt DA bundle: not applied");
      assert.equal(refused.level, 50, "logged as an error");
      assert.equal(refused.kind, "corrupt");
      assert.match(
        String(refused.err),
        /is corrupt: its content hashes to 0x[0-9a-f]{64}, not to its commitment/,
      );
      assert.ok(String(refused.err).includes(file), "the error names the blob");
      // It keeps refusing (retried with a growing wait). The blocks below it are found through the
      // DA indexes, not through its link, so they are applied; nothing from it or past it is.
      await waitFor(
        "a second refusal",
        async () => (await n.metric("staccato_fullnode_da_failures_total", { kind: "corrupt" })) >= 2,
        15_000,
      );
      await waitFor(
        `block ${CORRUPT_BLOCK - 1n}`,
        async () => (await blockNumber(n.rpcUrl)) >= CORRUPT_BLOCK - 1n,
        30_000,
      );
      assert.equal(await n.rpc("eth_getBlockByNumber", [tag(CORRUPT_BLOCK), false]), null);
      assert.equal(await blockNumber(n.rpcUrl), CORRUPT_BLOCK - 1n);
      assert.equal(await n.metric("staccato_fullnode_da_blocks_total"), Number(CORRUPT_BLOCK - 1n));
      assert.ok(n.running, "a corrupt blob does not stop the node");
    } finally {
      writeFileSync(file, original);
    }
    const repaired = node!;
    await waitFor(
      `block ${daHead} once repaired`,
      async () => (await blockNumber(repaired.rpcUrl)) >= daHead,
      90_000,
    );
    await sameChain(daHead, repaired, first);
    await repaired.kill();
  });
});

/** The file of block `n`'s blob in the directory store at `daDir`, from the sequencer's DA index. */
function blobOf(seq: SequencerProcess, daDir: string, n: bigint): string {
  for (const line of readFileSync(join(seq.dataDir, "da-index.log"), "utf8").split("\n")) {
    if (line === "") continue;
    const e = JSON.parse(line) as { n: number; c: string };
    if (BigInt(e.n) !== n) continue;
    const hex = e.c.slice(4); // "0x", then the store's version byte, then keccak256 of the blob
    return join(daDir, hex.slice(0, 2), `${hex}.blob`);
  }
  throw new Error(`block ${n} is not in da-index.log`);
}

async function waitForLog(
  node: FullnodeProcess,
  match: (l: Record<string, unknown>) => boolean,
  ms = 20_000,
): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitFor(
    "log line",
    async () => {
      found = node.logs().find(match);
      return found !== undefined;
    },
    ms,
  );
  return found!;
}
