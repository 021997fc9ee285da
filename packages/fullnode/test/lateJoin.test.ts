import assert from "node:assert/strict";
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
  rpcBatch,
  waitFor,
} from "./helpers/fullnodeProcess.ts";

/** Blocks the chain has before the new nodes start. */
const BLOCKS = 1_000n;
/** A transfer every this many blocks while the chain grows. */
const EVERY = 25n;

interface Header {
  number: Hex;
  hash: Hex;
  stateRoot: Hex;
}

describe("fullnode / joins after 1,000 blocks", () => {
  let seq: SequencerProcess;
  const nodes: FullnodeProcess[] = [];
  const dirs = new TempDirs();
  const recipients = Array.from(
    { length: 5 },
    (_, i) => `0x${(0xa11 + i).toString(16).padStart(40, "0")}` as Hex,
  );
  const transfers: Hex[] = [];

  before(async () => {
    // 20 ms blocks: 1,000 of them in about 20 s.
    seq = await SequencerProcess.start({ args: ["--block-ms", "20"] });
  });

  after(async () => {
    for (const n of nodes) await n.kill("SIGKILL");
    await killAllFullnodes();
    await seq?.cleanup();
    dirs.cleanup();
  });

  it("the sequencer seals 1,000 blocks, 20 ms apart, with transfers spread over them", async (t) => {
    const sender = devKeyAccount(11);
    const started = Date.now();
    for (let at = await blockNumber(seq.rpcUrl); at < BLOCKS; at = await blockNumber(seq.rpcUrl)) {
      const raw = await sender.signTransaction({
        chainId: DEV_CHAIN_ID,
        type: "eip1559",
        to: recipients[transfers.length % recipients.length]!,
        value: parseEther("0.001") + BigInt(transfers.length),
        nonce: transfers.length,
        gas: 21_000n,
        maxFeePerGas: 10n ** 11n,
        maxPriorityFeePerGas: 0n,
      });
      transfers.push(await rpc<Hex>(seq.rpcUrl, "eth_sendRawTransaction", [raw]));
      await waitFor(`block ${at + EVERY}`, async () => (await blockNumber(seq.rpcUrl)) >= at + EVERY, 30_000);
    }
    assert.ok(transfers.length >= 20, `only ${transfers.length} transfers`);
    t.diagnostic(`${BLOCKS} blocks and ${transfers.length} transfers in ${Date.now() - started} ms`);
  });

  it("a node from genesis and a node from a verified snapshot reach the same head hash and state root", async (t) => {
    const target = await blockNumber(seq.rpcUrl);
    const t0 = Date.now();
    const [genesis, snapshot] = await Promise.all([
      FullnodeProcess.start(fullnodeArgs(seq, dirs.make())),
      FullnodeProcess.start([...fullnodeArgs(seq, dirs.make()), "--sync", "snapshot"]),
    ]);
    nodes.push(genesis, snapshot);
    // While it replays, the genesis node says so.
    let syncing: { currentBlock: Hex; highestBlock: Hex } | undefined;
    await waitFor(
      "eth_syncing to report the catch-up",
      async () => {
        const r = await genesis.rpc<{ currentBlock: Hex; highestBlock: Hex } | false>("eth_syncing");
        if (r !== false) syncing = r;
        return r !== false;
      },
      15_000,
    );
    assert.ok(BigInt(syncing!.currentBlock) < BigInt(syncing!.highestBlock), JSON.stringify(syncing));

    const joined = snapshot.logs().find((l) => l.msg === "joined from a verified state snapshot");
    assert.ok(joined !== undefined, "the snapshot node joined from a snapshot");
    assert.ok(
      BigInt(joined.block as number) >= target,
      `snapshot of block ${joined.block}, head was ${target}`,
    );
    const took: Record<string, number> = {};
    await Promise.all(
      Object.entries({ genesis, snapshot }).map(async ([name, n]) => {
        await waitFor(
          `the ${name} node at block ${target}`,
          async () => (await blockNumber(n.rpcUrl)) >= target,
          90_000,
        );
        took[name] = Date.now() - t0;
      }),
    );
    await waitFor("eth_syncing false", async () => (await genesis.rpc("eth_syncing")) === false, 30_000);

    // The same head: the newest block all three have; and the block each node started from (a
    // snapshot node's history begins at its snapshot's block).
    const head = [await blockNumber(genesis.rpcUrl), await blockNumber(snapshot.rpcUrl)].reduce((a, b) =>
      a < b ? a : b,
    );
    const checks: [FullnodeProcess, bigint][] = [
      [genesis, target],
      [genesis, head],
      [snapshot, BigInt(joined.block as number)],
      [snapshot, head],
    ];
    for (const [node, n] of checks) {
      const tag = `0x${n.toString(16)}`;
      const want = await rpc<Header>(seq.rpcUrl, "eth_getBlockByNumber", [tag, false]);
      const got = await node.rpc<Header | null>("eth_getBlockByNumber", [tag, false]);
      assert.equal(got?.hash, want.hash, `block ${n} hash`);
      assert.equal(got?.stateRoot, want.stateRoot, `block ${n} state root`);
    }
    // The genesis node holds the whole history: every block, every transfer's receipt.
    const tags = Array.from({ length: Number(target) + 1 }, (_, n) => `0x${n.toString(16)}`);
    const calls = tags.map((tag) => ({ method: "eth_getBlockByNumber", params: [tag, false] }));
    const [mine, theirs] = await Promise.all([
      rpcBatch<Header>(genesis.rpcUrl, calls),
      rpcBatch<Header>(seq.rpcUrl, calls),
    ]);
    for (let n = 0; n < tags.length; n++) {
      assert.equal(mine[n]!.hash, theirs[n]!.hash, `block ${n} hash`);
      assert.equal(mine[n]!.stateRoot, theirs[n]!.stateRoot, `block ${n} state root`);
    }
    const receipts = await rpcBatch<{ status: Hex } | null>(
      genesis.rpcUrl,
      transfers.map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })),
    );
    assert.ok(receipts.every((r) => r?.status === "0x1"));
    // Both end with the same balances as the sequencer.
    for (const r of recipients) {
      const want = await rpc<Hex>(seq.rpcUrl, "eth_getBalance", [r, "latest"]);
      assert.notEqual(want, "0x0");
      for (const node of [genesis, snapshot])
        assert.equal(await node.rpc("eth_getBalance", [r, "latest"]), want);
    }
    for (const node of [genesis, snapshot]) assert.equal(await node.health(), 200);
    t.diagnostic(
      `caught up ${target} blocks: from genesis in ${took.genesis} ms, from a snapshot in ${took.snapshot} ms`,
    );
  });
});
