import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { bytesToHex } from "@ethereumjs/util";
import { chainConfigToJson, devChainConfig, randomPrivateKey, signingKeyFromPrivate } from "@staccato/common";
import type { Hex } from "viem";
import { ProverProcess } from "../../prover/test/helpers/proverProcess.ts";
import { readDaIndex } from "@staccato/sequencer";
import { SequencerProcess } from "../../sequencer/test/helpers/sequencerProcess.ts";
import {
  FullnodeProcess,
  TempDirs,
  blockNumber,
  fullnodeArgs,
  killAllFullnodes,
  rpcBatch,
  waitFor,
} from "./helpers/fullnodeProcess.ts";
import { mixedWorkload } from "./helpers/workload.ts";

/**
 * Issue 6's recovery scenario with every daemon at once (DESIGN §7): a sequencer, a full node and
 * a prover's chain share one DA dir. After 500 blocks (mixed transactions: deploys, slot writes
 * and deletes, reverts) the sequencer stops for good. A fresh full node then reaches the same
 * block hash and state root from DA alone, and a fresh prover attests every block from DA alone;
 * neither has any peer that serves history, and both learn where DA ends from the first full
 * node's `da-head`. The prover's attestations finalize the blocks on both full nodes.
 */

const BLOCKS = 500;

interface Header {
  hash: Hex;
  stateRoot: Hex;
}

const tag = (n: bigint) => `0x${n.toString(16)}`;

describe("DA recovery / the sequencer gone, a fresh full node and a fresh prover from DA alone", () => {
  const dirs = new TempDirs();
  const procs: { kill(signal?: NodeJS.Signals): Promise<void> }[] = [];
  let seq: SequencerProcess | undefined;
  after(async () => {
    for (const p of procs) await p.kill("SIGKILL").catch(() => undefined);
    await killAllFullnodes();
    await seq?.cleanup();
    dirs.cleanup();
  });

  it("rebuilds the chain and attests it from the shared DA dir", async () => {
    // A chain with one registered prover (quorum 1), whose key only the fresh prover will use.
    const seqKey = randomPrivateKey();
    const proverKey = randomPrivateKey();
    const seqDir = dirs.make();
    writeFileSync(join(seqDir, "sequencer.key"), bytesToHex(seqKey));
    writeFileSync(
      join(seqDir, "chain.json"),
      chainConfigToJson(
        devChainConfig({
          sequencer: bytesToHex(signingKeyFromPrivate(seqKey).address),
          provers: [bytesToHex(signingKeyFromPrivate(proverKey).address)],
          proverQuorum: 1,
        }),
      ),
    );
    const daDir = join(seqDir, "da");
    const da = ["--da", "dir", "--da-dir", daDir];

    seq = await SequencerProcess.start({ dataDir: seqDir, args: ["--block-ms", "20"] });
    const first = await FullnodeProcess.start([...fullnodeArgs(seq, dirs.make()), ...da]);
    procs.push(first);

    const work = await mixedWorkload({ senders: [1, 2], startNonces: [0, 0], perSender: 60, viaOf: () => 0 });
    const sent = await rpcBatch<Hex>(
      seq.rpcUrl,
      work.txs.map((t) => ({ method: "eth_sendRawTransaction", params: [t.raw] })),
    );
    assert.equal(sent.length, work.txs.length);
    assert.ok(work.txs.some((t) => t.kind === "drop") && work.txs.some((t) => t.kind === "revert"));
    const seqUrl = seq.metricsUrl;
    await waitFor(
      `${BLOCKS} blocks published to DA`,
      async () => {
        const h = (await (await fetch(new URL("/health", seqUrl))).json()) as {
          da: { publishedBlock: number };
        };
        return h.da.publishedBlock >= BLOCKS;
      },
      90_000,
    );
    const receipts = await rpcBatch<{ status: Hex } | null>(
      first.rpcUrl,
      work.txs.map((t) => ({ method: "eth_getTransactionReceipt", params: [t.hash] })),
    );
    assert.ok(
      receipts.every((r) => r !== null),
      "the first full node has every receipt",
    );
    assert.ok(
      receipts.some((r) => r!.status === "0x0"),
      "some transactions reverted",
    );

    // The sequencer stops for good. DA ends at the last block it published before stopping.
    await seq.stop();
    const daHead = [...readDaIndex(join(seqDir, "da-index.log")).refs.keys()].reduce((a, b) =>
      a > b ? a : b,
    );
    assert.ok(daHead >= BigInt(BLOCKS));
    await waitFor(
      "the first full node at the DA head",
      async () => (await blockNumber(first.rpcUrl)) >= daHead,
    ).catch(async (err: Error) => {
      const at = await blockNumber(first.rpcUrl);
      const heard = await first.metric("staccato_fullnode_da_head_block");
      throw new Error(`${err.message}: it is at block ${at}, heard of DA up to ${heard}, DA holds ${daHead}`);
    });
    const want = await first.rpc<Header>("eth_getBlockByNumber", [tag(daHead), false]);

    // A fresh full node whose only peer is the first full node (which serves no history).
    const joiner = await FullnodeProcess.start([
      ...fullnodeArgs(seq, dirs.make()).map((a) => (a.includes("/p2p/") ? first.p2pAddress() : a)),
      ...da,
    ]);
    procs.push(joiner);
    await waitFor(
      `the fresh full node at block ${daHead}`,
      async () => (await blockNumber(joiner.rpcUrl)) >= daHead,
      60_000,
    );
    const got = await joiner.rpc<Header>("eth_getBlockByNumber", [tag(daHead), false]);
    assert.equal(got.hash, want.hash, "block hash at the DA head");
    assert.equal(got.stateRoot, want.stateRoot, "state root at the DA head");
    for (const [addr, balance] of work.recipientBalances)
      assert.equal(
        BigInt(await joiner.rpc<Hex>("eth_getBalance", [addr, "latest"])),
        balance,
        `balance of ${addr}`,
      );
    assert.ok(
      (await joiner.metric("staccato_fullnode_da_blocks_total")) >= Number(daHead),
      "every block came from DA",
    );

    // A fresh prover whose only peer is the first full node: it learns the DA head from it.
    const proverDir = dirs.make();
    const keyFile = join(proverDir, "prover.key");
    writeFileSync(keyFile, bytesToHex(proverKey));
    const prover = await ProverProcess.start([
      ...ProverProcess.args({
        chain: join(seqDir, "chain.json"),
        keyFile,
        dataDir: join(proverDir, "data"),
        bootnode: first.p2pAddress(),
      }),
      ...da,
    ]);
    procs.push(prover);
    for (const node of [first, joiner])
      await waitFor(
        `block ${daHead} finalized by the fresh prover's attestations`,
        async () => BigInt((await node.rpc<{ finalized: Hex }>("staccato_finality")).finalized) >= daHead,
        120_000,
      );
    assert.ok(
      (await prover.metric("staccato_prover_bundles_fetched_total", { source: "da" })) >= Number(daHead),
    );
    assert.equal(await prover.metric("staccato_prover_bundles_fetched_total", { source: "peer" }), 0);
    assert.equal(await prover.metric("staccato_prover_blocks_verified_total", { verdict: "invalid" }), 0);
    const finalized = await first.rpc<Header & { number: Hex }>("eth_getBlockByNumber", ["finalized", false]);
    assert.ok(BigInt(finalized.number) >= daHead);
  });
});
