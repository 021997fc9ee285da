import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  DA_INDEX_SPAN,
  type DaBundle,
  type DaIndex,
  type DaRef,
  daBundleHash,
  decodeDaBundle,
  decodeDaIndex,
  decodeSignedMiniBlock,
  keccak256,
} from "@staccato/common";
import { type Hex, type TransactionSerializable, parseGwei } from "viem";
import { type FakeEigenDaProxy, startFakeEigenDaProxy } from "../../common/test/helpers/fakeEigenDaProxy.ts";
import { readDaIndex } from "../src/da/daIndex.ts";
import type { DaStatus } from "../src/da/daPublisher.ts";
import { DEV_CHAIN_ID, devKeyAccount, freshAddress } from "./helpers/devChain.ts";
import { rpc, waitFor } from "./helpers/rpcClient.ts";
import { SequencerProcess, sleep } from "./helpers/sequencerProcess.ts";

/**
 * DA publishing (DESIGN §7, issue 6) against the EigenDA proxy's REST API (a local stand-in: see
 * fakeEigenDaProxy.ts): every sealed block goes out once, in order, each bundle linked to the one
 * before; an outage never stops sealing, loses nothing, and publishing catches up in order; a
 * restart resumes at the first block not yet published.
 */

const FEES = { maxFeePerGas: parseGwei("5"), maxPriorityFeePerGas: parseGwei("0.001") };

async function health(seq: SequencerProcess): Promise<{ latestBlock: number; da: DaStatus }> {
  const r = await fetch(new URL("/health", seq.metricsUrl));
  return (await r.json()) as { latestBlock: number; da: DaStatus };
}

async function metric(seq: SequencerProcess, name: string): Promise<number> {
  const text = await (await fetch(seq.metricsUrl)).text();
  const m = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "m").exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}

/** Sends transfers from one dev account, one every `everyMs`, until stopped; returns their hashes. */
function sender(seq: SequencerProcess, account: number, everyMs: number) {
  const acct = devKeyAccount(account);
  const hashes: Hex[] = [];
  let stop = false;
  const done = (async () => {
    let nonce = Number(
      BigInt(await rpc<string>(seq.rpcUrl, "eth_getTransactionCount", [acct.address, "pending"])),
    );
    while (!stop) {
      const raw = await acct.signTransaction({
        chainId: DEV_CHAIN_ID,
        type: "eip1559",
        nonce: nonce++,
        to: freshAddress(),
        value: 1n,
        gas: 21_000n,
        ...FEES,
      } as TransactionSerializable);
      hashes.push(await rpc<Hex>(seq.rpcUrl, "eth_sendRawTransaction", [raw]));
      await sleep(everyMs);
    }
  })();
  return {
    hashes,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

/** The index blobs among what the proxy received (the rest are bundles). */
function indexPuts(proxy: FakeEigenDaProxy): { blob: Uint8Array; index: DaIndex }[] {
  const out: { blob: Uint8Array; index: DaIndex }[] = [];
  for (const blob of proxy.puts) {
    try {
      out.push({ blob, index: decodeDaIndex(blob) });
    } catch {
      // a bundle
    }
  }
  return out;
}

/** The bundles the proxy received, in order: blocks 1…n exactly once each, each linked to the one before. */
function checkPublishedInOrder(proxy: FakeEigenDaProxy, index: Map<bigint, DaRef>): DaBundle[] {
  const indexBlobs = new Set(indexPuts(proxy).map((x) => x.blob));
  const puts = proxy.puts.filter((b) => !indexBlobs.has(b));
  const bundles = puts.map(decodeDaBundle);
  bundles.forEach((b, i) => {
    assert.equal(b.number, BigInt(i + 1), `put #${i + 1} is block ${b.number}`);
    if (i === 0) assert.equal(b.prev, null);
    else {
      assert.ok(
        equalsBytes(b.prev!.bundleHash, daBundleHash(puts[i - 1]!)),
        `block ${b.number} links to block ${i}`,
      );
      assert.ok(equalsBytes(b.prev!.commitment, index.get(BigInt(i))!.commitment));
    }
    assert.equal(b.miniBlocks.length, b.seal.miniBlockHashes.length);
    assert.ok(b.witnessCompressed.length > 0);
  });
  return bundles;
}

/** The sequencer's record of what it published: block → where, from `da-index.log`. */
const daIndex = (seq: SequencerProcess): Map<bigint, DaRef> =>
  readDaIndex(join(seq.dataDir, "da-index.log")).refs;

describe("sequencer / DA publishing", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it("publishes every block in order; a 10 s DA outage loses nothing and publishing catches up in order", async () => {
    const proxy = await startFakeEigenDaProxy();
    cleanups.push(() => proxy.close());
    const seq = await SequencerProcess.start({
      args: ["--block-ms", "250", "--da", "eigenda", "--da-url", proxy.url],
    });
    cleanups.push(() => seq.cleanup());
    const tx = sender(seq, 3, 40);

    await waitFor(
      "a few blocks published",
      async () => ((await health(seq)).da.publishedBlock >= 4 ? true : null),
      20_000,
    );
    proxy.down = true;
    const downAt = Date.now();
    const before = await health(seq);
    // While the store is down, blocks keep being sealed (publishing never blocks sealing), and
    // /health shows the outage and the backlog.
    const during = await waitFor(
      "the outage visible in /health",
      async () => {
        const h = await health(seq);
        return !h.da.ok && h.da.backlog >= 8 ? h : null;
      },
      20_000,
    );
    assert.match(during.da.error ?? "", /put answered 503/);
    assert.ok(during.latestBlock > before.latestBlock + 4, "sealing went on during the outage");
    assert.ok(during.da.publishedBlock <= before.da.publishedBlock + 1);
    await sleep(Math.max(0, 10_000 - (Date.now() - downAt)));
    proxy.down = false;

    await sleep(500);
    await tx.stop();
    const latest = (await health(seq)).latestBlock;
    const caughtUp = await waitFor(
      "publishing caught up",
      async () => {
        const h = await health(seq);
        return h.da.ok && h.da.publishedBlock >= latest ? h : null;
      },
      30_000,
    );
    assert.equal(caughtUp.da.store, `eigenda ${proxy.url}`);
    assert.ok((await metric(seq, "staccato_da_publish_failures_total")) >= 3, "failed puts are counted");
    assert.ok(seq.logs().some((l) => l.msg === "DA publish failed; retrying"));
    assert.ok(seq.logs().some((l) => l.msg === "DA store is back; publishing caught up from here"));

    // Every block exactly once, in order, linked; every transaction sent is in some bundle.
    const published = checkPublishedInOrder(proxy, daIndex(seq));
    assert.ok(published.length >= latest);
    const inDa = new Set<string>();
    for (const b of published)
      for (const m of b.miniBlocks)
        for (const t of decodeSignedMiniBlock(m).txs) inDa.add(bytesToHex(keccak256(t)));
    const missing = tx.hashes.filter((h) => !inDa.has(h));
    assert.deepEqual(missing, [], `${missing.length} of ${tx.hashes.length} transactions are not in DA`);
    assert.ok(tx.hashes.length > 100, `sent ${tx.hashes.length} transactions`);
  });

  it("resumes after a restart at the first block not yet published", async () => {
    const proxy = await startFakeEigenDaProxy();
    cleanups.push(() => proxy.close());
    proxy.down = true;
    const args = ["--block-ms", "200", "--da", "eigenda", "--da-url", proxy.url];
    const seq = await SequencerProcess.start({ args });
    cleanups.push(() => seq.cleanup());
    const tx = sender(seq, 4, 30);
    const sealed = await waitFor(
      "blocks sealed while DA is down",
      async () => {
        const h = await health(seq);
        return h.latestBlock >= 8 ? h : null;
      },
      20_000,
    );
    assert.equal(sealed.da.publishedBlock, 0);
    await tx.stop();
    await seq.stop();
    const restarted = await seq.restart({ args });
    cleanups.push(() => restarted.cleanup());
    proxy.down = false;
    // Every transaction sent before the restart is in a block (some in the block left open at the
    // stop, sealed after the restart), and those blocks reach DA.
    const blocks = await Promise.all(
      tx.hashes.map((h) =>
        waitFor(`receipt of ${h}`, async () => {
          const r = await rpc<{ blockNumber: Hex } | null>(restarted.rpcUrl, "eth_getTransactionReceipt", [
            h,
          ]);
          return r === null ? null : Number(BigInt(r.blockNumber));
        }),
      ),
    );
    const last = Math.max(...blocks);
    await waitFor(
      "the backlog published",
      async () => ((await health(restarted)).da.publishedBlock >= last ? true : null),
      30_000,
    );
    const bundles = checkPublishedInOrder(proxy, daIndex(restarted));
    const txs = bundles.reduce(
      (n, b) => n + b.miniBlocks.reduce((k, m) => k + decodeSignedMiniBlock(m).txs.length, 0),
      0,
    );
    assert.equal(txs, tx.hashes.length, "every transaction sent before the restart is in DA");
  });

  it("indexes every 64 blocks, each linked to the one before, across a restart that forgets the newest", async () => {
    const proxy = await startFakeEigenDaProxy();
    cleanups.push(() => proxy.close());
    const args = ["--block-ms", "20", "--da", "eigenda", "--da-url", proxy.url];
    const seq = await SequencerProcess.start({ args });
    cleanups.push(() => seq.cleanup());
    const published = async (s: SequencerProcess, n: number) =>
      waitFor(
        `block ${n} published`,
        async () => ((await health(s)).da.publishedBlock >= n ? true : null),
        60_000,
      );
    // Past two spans: the restarted publisher learns index 128 from bundle 128 before indexing 192.
    await published(seq, 150);
    await seq.stop();
    const restarted = await seq.restart({ args });
    cleanups.push(() => restarted.cleanup());
    await published(restarted, 260);
    await restarted.stop();
    const refs = daIndex(restarted);
    const bundles = checkPublishedInOrder(proxy, refs);
    // One index per span (a put repeated after the restart has the same bytes), each naming the
    // previous one, and listing its span's bundles as da-index.log records them.
    const byThrough = new Map<bigint, Uint8Array>();
    for (const { blob, index } of indexPuts(proxy)) {
      const seen = byThrough.get(index.through);
      assert.ok(
        seen === undefined || equalsBytes(seen, blob),
        `index ${index.through} put twice, differently`,
      );
      byThrough.set(index.through, blob);
      index.refs.forEach((r, i) => {
        const n = index.through - DA_INDEX_SPAN + 1n + BigInt(i);
        assert.ok(equalsBytes(r.commitment, refs.get(n)!.commitment), `index ${index.through}: block ${n}`);
        assert.ok(equalsBytes(r.bundleHash, refs.get(n)!.bundleHash));
      });
      if (index.through === DA_INDEX_SPAN) assert.equal(index.prev, null);
      else {
        const prev = byThrough.get(index.through - DA_INDEX_SPAN);
        assert.ok(prev !== undefined && index.prev !== null, `index ${index.through} names the one before`);
        assert.ok(equalsBytes(index.prev.bundleHash, daBundleHash(prev)));
      }
    }
    const last = bundles.at(-1)!.number;
    assert.deepEqual(
      [...byThrough.keys()],
      Array.from({ length: Number((last - 1n) / DA_INDEX_SPAN) }, (_, i) => BigInt(i + 1) * DA_INDEX_SPAN),
    );
    // Every bundle names the newest index before it.
    for (const b of bundles) {
      const through = ((b.number - 1n) / DA_INDEX_SPAN) * DA_INDEX_SPAN;
      if (through === 0n) assert.equal(b.index, null, `block ${b.number}`);
      else {
        assert.equal(b.index?.through, through, `block ${b.number}`);
        assert.ok(equalsBytes(b.index!.bundleHash, daBundleHash(byThrough.get(through)!)));
      }
    }
  });
});
