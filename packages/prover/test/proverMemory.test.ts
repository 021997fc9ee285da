import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { bytesToHex } from "@ethereumjs/util";
import { chainConfigToJson, devChainConfig, randomPrivateKey, signingKeyFromPrivate } from "@staccato/common";
import type { TransactionSerializable } from "viem";
import { TempDirs, rpcBatch, waitFor } from "../../fullnode/test/helpers/fullnodeProcess.ts";
import { DEV_CHAIN_ID, GWEI, devKeyAccount } from "../../sequencer/test/helpers/devChain.ts";
import { rpc } from "../../sequencer/test/helpers/rpcClient.ts";
import { SequencerProcess } from "../../sequencer/test/helpers/sequencerProcess.ts";
import { ProverProcess } from "./helpers/proverProcess.ts";

interface Held {
  queuedPeak: number;
  backfilling: number;
  openBlocks: number;
  waiting: number;
  attestedRemembered: number;
  progressAbove: number;
  network: { seenBlocks: number; ownAttestationBlocks: number; attestationsQueued: number; outbox: number };
  workers: ({ heapUsedBytes: number; commonListeners: number } | null)[];
}
interface ProverHealth {
  attestedThrough: number;
  highestSeen: number;
  queued: number;
  held: Held;
}

/** Blocks sealed before the prover starts: it must catch up on all of them. */
const HISTORY = 100;

/**
 * Issue 14: a prover's memory is bounded by its work queue, never by the chain's length. A real
 * sequencer seals HISTORY blocks (with transfers in them) before a one-worker prover starts; the
 * prover attests every one of them and the blocks after, and its `/health` shows that it never
 * queued more than a few blocks at once (it used to queue one job per block of history at once),
 * and that its worker keeps no EVM subscribed to its shared `Common` (every block's EVM, and its
 * witness, used to stay reachable from there).
 */
describe("prover / memory bounded by the work queue, not the chain", { timeout: 240_000 }, () => {
  const dirs = new TempDirs();
  const seqKey = randomPrivateKey();
  const proverKey = randomPrivateKey();
  let seq: SequencerProcess;
  let prover: ProverProcess;
  let sending = true;
  let sender: Promise<void> = Promise.resolve();

  before(async () => {
    const dir = dirs.make();
    const config = devChainConfig({
      sequencer: bytesToHex(signingKeyFromPrivate(seqKey).address),
      provers: [bytesToHex(signingKeyFromPrivate(proverKey).address)],
      proverQuorum: 1,
    });
    writeFileSync(join(dir, "sequencer.key"), bytesToHex(seqKey));
    writeFileSync(join(dir, "chain.json"), chainConfigToJson(config));
    writeFileSync(join(dir, "prover.key"), bytesToHex(proverKey));
    seq = await SequencerProcess.start({
      dataDir: dir,
      args: ["--block-ms", "200", "--p2p-listen", "/ip4/127.0.0.1/tcp/0"],
    });
    // Transfers into most blocks, for as long as the test runs.
    const acct = devKeyAccount(3);
    sender = (async () => {
      let nonce = 0;
      while (sending) {
        const raws = await Promise.all(
          Array.from({ length: 5 }, () =>
            acct.signTransaction({
              chainId: DEV_CHAIN_ID,
              type: "eip1559",
              nonce: nonce++,
              to: `0x${(0xbe00 + (nonce % 64)).toString(16).padStart(40, "0")}`,
              value: 1n,
              gas: 21_000n,
              maxFeePerGas: 100n * GWEI,
              maxPriorityFeePerGas: 1n,
            } as TransactionSerializable),
          ),
        );
        await rpcBatch(
          seq.rpcUrl,
          raws.map((r) => ({ method: "eth_sendRawTransaction", params: [r] })),
        );
        await sleep(150);
      }
    })();
    await waitFor(
      `${HISTORY} blocks sealed`,
      async () => BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber")) >= BigInt(HISTORY),
      120_000,
    );
    const bootnode = (seq.logs().find((l) => l.msg === "sequencer started")!.p2p as string[])[0]!;
    prover = await ProverProcess.start(
      ProverProcess.args({
        chain: join(dir, "chain.json"),
        keyFile: join(dir, "prover.key"),
        dataDir: join(dir, "prover"),
        bootnode,
        workers: 1,
      }),
    );
  });

  after(async () => {
    sending = false;
    await sender.catch(() => {});
    await prover?.kill("SIGKILL");
    await seq?.cleanup();
    dirs.cleanup();
  });

  it("catches up on the history a few blocks at a time and keeps no block's EVM", async (t) => {
    const healthUrl = prover.metricsUrl.replace(/\/metrics$/, "/health");
    const health = async () => (await (await fetch(healthUrl)).json()) as ProverHealth;
    const startHead = Number(BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber")));
    const target = startHead + 20;
    let h = await health();
    let maxQueued = h.queued;
    let maxBackfilling = 0;
    const deadline = Date.now() + 180_000;
    while (h.attestedThrough < target) {
      assert.ok(Date.now() < deadline, `the prover attested through ${h.attestedThrough}, not ${target}`);
      await sleep(50);
      h = await health();
      maxQueued = Math.max(maxQueued, h.queued);
      maxBackfilling = Math.max(maxBackfilling, h.held?.backfilling ?? h.queued);
    }
    // Every block, the history included, is final on the sequencer through this prover alone.
    await waitFor(
      `block ${target} final on the sequencer`,
      async () =>
        BigInt((await rpc<{ finalized: string }>(seq.rpcUrl, "staccato_finality")).finalized) >=
        BigInt(target),
      30_000,
    );
    const sealedMeanwhile = Number(BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"))) - startHead;
    t.diagnostic(
      `queued at most ${maxQueued} (polled), ${sealedMeanwhile} blocks sealed during the catch-up; held ${JSON.stringify(h.held)}`,
    );
    // The backfill keeps at most four blocks of the history queued (one worker: two verifying);
    // the rest of a queue is blocks announced during the catch-up, one job each. It used to be one
    // job per block of the history, all at once.
    const bound = 5 + sealedMeanwhile;
    assert.ok(h.held.queuedPeak >= maxQueued);
    assert.ok(
      h.held.queuedPeak <= bound,
      `the prover queued ${h.held.queuedPeak} blocks at once for a history of ${HISTORY} (${sealedMeanwhile} sealed meanwhile)`,
    );
    assert.ok(maxBackfilling <= 4, `${maxBackfilling} backfill jobs at once`);
    // Caught up: what is open or attested past a block still in flight is the newest few blocks.
    assert.ok(h.held.progressAbove <= bound, `attested past a gap: ${h.held.progressAbove}`);
    assert.ok(h.held.openBlocks <= bound && h.held.waiting <= bound, JSON.stringify(h.held));
    // Caps that do not depend on the chain: a 10,000-block dedup window on each.
    assert.ok(h.held.attestedRemembered <= 10_000 && h.held.network.seenBlocks <= 10_000);
    assert.equal(h.held.network.outbox, 0, "every attestation was published");
    const [worker] = h.held.workers;
    assert.ok(worker, "the worker reported what it holds");
    assert.equal(
      worker.commonListeners,
      0,
      `${worker.commonListeners} EVMs (with their blocks' witnesses) are still reachable on the worker`,
    );
    assert.ok(worker.heapUsedBytes > 0);
  });
});
