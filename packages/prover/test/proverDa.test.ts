import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bytesToHex } from "@ethereumjs/util";
import {
  type ChainConfig,
  chainConfigToJson,
  decodeDaBundle,
  devChainConfig,
  randomPrivateKey,
  signingKeyFromPrivate,
} from "@staccato/common";
import { type FakeEigenDaProxy, startFakeEigenDaProxy } from "../../common/test/helpers/fakeEigenDaProxy.ts";
import { TempDirs, metricValue, rpcBatch, waitFor } from "../../fullnode/test/helpers/fullnodeProcess.ts";
import { mixedWorkload } from "../../fullnode/test/helpers/workload.ts";
import { rpc } from "../../sequencer/test/helpers/rpcClient.ts";
import { SequencerProcess } from "../../sequencer/test/helpers/sequencerProcess.ts";
import { ProverProcess } from "./helpers/proverProcess.ts";

interface AttestationsAnswer {
  blockHash: string | null;
  attestations: { prover: string; blockHash: string; canonical: boolean | null; verdict: string }[];
}
interface FinalityAnswer {
  finalized: string;
  haltedAt: string | null;
  alarms: unknown[];
}
interface SequencerHealth {
  latestBlock: number;
  da?: { ok: boolean; publishedBlock: number };
}

/** Blocks the sequencer has sealed and published to DA before the first prover starts. */
const BLOCKS = 500;

const tail = (p: { output(): string }, n = 12) => p.output().split("\n").slice(-n).join("\n");

/**
 * A chain for these tests: a sequencer sealing a block every 50 ms that serves no history
 * (`--no-serve-history`) and publishes to DA as `daArgs` say, and `provers` registered prover keys
 * (quorum 1) for provers started with `startProver`.
 */
class DaChain {
  readonly dirs = new TempDirs();
  readonly seqKey = randomPrivateKey();
  readonly proverKeys: Uint8Array[];
  readonly proverAddrs: string[];
  readonly config: ChainConfig;
  readonly chainFile: string;
  readonly seqDir: string;
  seq!: SequencerProcess;
  bootnode = "";
  readonly provers: ProverProcess[] = [];

  constructor(provers: number) {
    this.proverKeys = Array.from({ length: provers }, () => randomPrivateKey());
    this.proverAddrs = this.proverKeys.map((k) => bytesToHex(signingKeyFromPrivate(k).address));
    this.seqDir = this.dirs.make();
    this.config = devChainConfig({
      sequencer: bytesToHex(signingKeyFromPrivate(this.seqKey).address),
      provers: this.proverAddrs,
      proverQuorum: 1,
    });
    writeFileSync(join(this.seqDir, "sequencer.key"), bytesToHex(this.seqKey));
    this.chainFile = join(this.seqDir, "chain.json");
    writeFileSync(this.chainFile, chainConfigToJson(this.config));
  }

  async startSequencer(daArgs: string[]): Promise<void> {
    this.seq = await SequencerProcess.start({
      dataDir: this.seqDir,
      args: ["--block-ms", "50", "--no-serve-history", ...daArgs],
    });
    this.bootnode = (this.seq.logs().find((l) => l.msg === "sequencer started")!.p2p as string[])[0]!;
  }

  async health(): Promise<SequencerHealth> {
    return (await (await fetch(new URL("/health", this.seq.metricsUrl))).json()) as SequencerHealth;
  }

  async publishedBlock(): Promise<number> {
    return (await this.health()).da?.publishedBlock ?? 0;
  }

  /** `staccato_getAttestations` on the sequencer for blocks `from…to`. */
  attestations(from: bigint, to: bigint): Promise<AttestationsAnswer[]> {
    return rpcBatch<AttestationsAnswer>(
      this.seq.rpcUrl,
      Array.from({ length: Number(to - from + 1n) }, (_, i) => ({
        method: "staccato_getAttestations",
        params: [`0x${(from + BigInt(i)).toString(16)}`],
      })),
    );
  }

  /** Starts a fresh prover with key `i`, its own empty data dir, and `daArgs`. */
  async startProver(i: number, daArgs: string[], boot = this.bootnode): Promise<ProverProcess> {
    const dir = this.dirs.make();
    const keyFile = join(dir, "prover.key");
    writeFileSync(keyFile, bytesToHex(this.proverKeys[i]!));
    const p = await ProverProcess.start([
      ...ProverProcess.args({ chain: this.chainFile, keyFile, dataDir: join(dir, "data"), bootnode: boot }),
      ...daArgs,
    ]);
    this.provers.push(p);
    return p;
  }

  async close(dump: string | undefined): Promise<void> {
    if (dump) {
      writeFileSync(`${dump}.sequencer`, this.seq?.output() ?? "");
      for (const [i, p] of this.provers.entries()) writeFileSync(`${dump}.prover${i}`, p.output());
    }
    for (const p of this.provers) await p.kill("SIGKILL");
    await this.seq?.cleanup();
    this.dirs.cleanup();
  }
}

/**
 * Issue 6, prover side (DESIGN §7): the sequencer serves no history (`--no-serve-history`), so no
 * peer answers `witness-by-number`; provers that share its DA directory and join late learn the
 * blocks from its DA pointers and verify every one from DA alone.
 */
describe("prover / witnesses from DA when no peer serves them", { timeout: 600_000 }, () => {
  const chain = new DaChain(3);
  const { proverAddrs, provers } = chain;
  let daDir = "";
  let seq: SequencerProcess;
  let sentTxs = 0;
  const health = () => chain.health();
  const attestations = (from: bigint, to: bigint) => chain.attestations(from, to);
  const startProver = (i: number, boot?: string) =>
    chain.startProver(i, ["--da", "dir", "--da-dir", daDir], boot);

  before(async () => {
    daDir = chain.dirs.make();
    await chain.startSequencer(["--da", "dir", "--da-dir", daDir]);
    seq = chain.seq;
    // Contract deployments, token transfers, storage writes and deletes, reverts, spread over the
    // first blocks; then empty blocks until there are BLOCKS.
    const work = await mixedWorkload({
      senders: [1, 2, 3, 4],
      startNonces: [0, 0, 0, 0],
      perSender: 50,
      viaOf: () => 0,
    });
    for (let i = 0; i < work.txs.length; i += 20) {
      const out = (await rpcBatch(
        seq.rpcUrl,
        work.txs.slice(i, i + 20).map((t) => ({ method: "eth_sendRawTransaction", params: [t.raw] })),
      )) as unknown[];
      assert.equal(out.length, Math.min(20, work.txs.length - i));
      await new Promise((r) => setTimeout(r, 60));
    }
    sentTxs = work.txs.length;
    const last = work.txs.at(-1)!;
    await waitFor(
      "every transaction included",
      async () => (await rpc(seq.rpcUrl, "eth_getTransactionReceipt", [last.hash])) !== null,
      60_000,
    );
    await waitFor(
      `${BLOCKS} blocks sealed and published to DA`,
      async () => (await chain.publishedBlock()) >= BLOCKS,
      120_000,
    );
  });

  after(() => chain.close(process.env.PROVER_DA_DUMP));

  it("a fresh prover attests every block valid from DA alone: none from a peer, no invalid verdict", async () => {
    const target = BigInt((await health()).da!.publishedBlock);
    const t0 = Date.now();
    const p = await startProver(0);
    await waitFor(
      `the sequencer finalizes block ${target} on the fresh prover's attestations`,
      async () => BigInt((await rpc<FinalityAnswer>(seq.rpcUrl, "staccato_finality")).finalized) >= target,
      240_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nprover:\n${tail(p)}`);
    });
    const seconds = (Date.now() - t0) / 1000;

    // Every block up to there carries this prover's valid attestation of the canonical block.
    const all = await attestations(1n, target);
    all.forEach((a, i) => {
      const mine = a.attestations.filter((x) => x.prover === proverAddrs[0]);
      assert.ok(mine.length >= 1, `block ${i + 1}: no attestation from the prover`);
      for (const x of mine) {
        assert.equal(x.verdict, "valid", `block ${i + 1}`);
        assert.equal(x.canonical, true, `block ${i + 1}`);
        assert.equal(x.blockHash, a.blockHash, `block ${i + 1}`);
      }
    });
    const f = await rpc<FinalityAnswer>(seq.rpcUrl, "staccato_finality");
    assert.equal(f.haltedAt, null);
    assert.deepEqual(f.alarms, []);

    // From DA, every one: the sequencer refused every witness-by-number.
    const m = (name: string, labels: Record<string, string> = {}) => p.metric(name, labels);
    assert.ok(
      (await m("staccato_prover_blocks_verified_total", { verdict: "valid", source: "da" })) >=
        Number(target),
    );
    assert.equal(await m("staccato_prover_blocks_verified_total", { source: "peer" }), 0);
    assert.equal(await m("staccato_prover_blocks_verified_total", { verdict: "invalid" }), 0);
    assert.equal(await m("staccato_prover_bundles_fetched_total", { source: "peer" }), 0);
    assert.ok((await m("staccato_prover_bundles_fetched_total", { source: "da" })) >= Number(target));
    // Each of them asked of the peers first: refused (unavailable, or rate-limited past 10/s).
    const text = await (await fetch(p.metricsUrl)).text();
    const refused =
      metricValue(text, "staccato_prover_fetch_failures_total", { reason: "unavailable" }) +
      metricValue(text, "staccato_prover_fetch_failures_total", { reason: "rate-limited" });
    assert.ok(refused >= Number(target), `${refused} refusals`);
    assert.equal(await m("staccato_prover_fetch_failures_total", { reason: "da-corrupt" }), 0);
    assert.ok((await m("staccato_prover_da_head_block")) >= Number(target));
    // The workload's transactions were re-executed, from the DA bundles' mini-blocks.
    assert.ok((await m("staccato_prover_txs_verified_total")) >= sentTxs);
    const attested = p.logs().filter((l) => l.msg === "attested block");
    assert.ok(attested.length >= Number(target));
    assert.ok(attested.every((l) => l.source === "da"));
    assert.equal(p.started.da, `dir ${daDir}`);
    process.stdout.write(`# ${target} blocks attested from DA in ${seconds.toFixed(1)} s\n`);
  });

  it("a corrupt DA blob is never attested from nor judged invalid: logged, the blocks above it attested, the rest once it is repaired", async () => {
    // The blob of a block well inside the chain. The blocks below it are found through the DA
    // indexes (not only through its link to the previous bundle), so only it waits on the repair.
    const corruptAt = BigInt(BLOCKS - 100);
    let path = "";
    for (const sub of readdirSync(daDir)) {
      for (const name of readdirSync(join(daDir, sub))) {
        if (!name.endsWith(".blob")) continue;
        const file = join(daDir, sub, name);
        let number: bigint | null = null;
        try {
          number = decodeDaBundle(readFileSync(file)).number;
        } catch {
          // a DA index blob
        }
        if (number === corruptAt) path = file;
      }
      if (path !== "") break;
    }
    assert.notEqual(path, "", `no blob holds block ${corruptAt}`);
    const good = readFileSync(path);
    const bad = Buffer.from(good);
    bad[bad.length >> 1]! ^= 0x40;
    writeFileSync(path, bad);

    const p = await startProver(1);
    const target = BigInt((await health()).da!.publishedBlock);
    const corruptLine = () =>
      p.logs().find((l) => l.msg === "DA copy is corrupt: not attesting from it; retrying peers and DA");
    await waitFor("the corrupt copy reported", async () => corruptLine() !== undefined, 60_000);
    assert.ok((await p.metric("staccato_prover_fetch_failures_total", { reason: "da-corrupt" })) > 0);
    const line = corruptLine()!;
    assert.equal(line.level, 50, "logged at error level");
    assert.match(String(line.err), new RegExp(`corrupt.*${path.split("/").at(-1)!.slice(0, 16)}`));
    await waitFor(
      `every block but ${corruptAt} attested`,
      async () =>
        (await p.metric("staccato_prover_blocks_verified_total", { verdict: "valid", source: "da" })) >=
        Number(target) - 1,
      180_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nprover:\n${tail(p)}`);
    });
    // More rounds of retries of the corrupt block: still not attested.
    const failures = await p.metric("staccato_prover_fetch_failures_total", { reason: "da-corrupt" });
    await waitFor(
      "more retries of the corrupt copy",
      async () =>
        (await p.metric("staccato_prover_fetch_failures_total", { reason: "da-corrupt" })) >= failures + 2,
      60_000,
    );
    const attestedIt = p
      .logs()
      .filter((l) => l.msg === "attested block" && BigInt(l.block as number) === corruptAt);
    assert.deepEqual(attestedIt, [], "attested a block from its corrupt copy");
    const [atCorrupt] = await attestations(corruptAt, corruptAt);
    assert.ok(!atCorrupt!.attestations.some((x) => x.prover === proverAddrs[1]));
    assert.equal(await p.metric("staccato_prover_blocks_verified_total", { verdict: "invalid" }), 0);
    // One bad copy is one error a minute, not one per block waiting on it.
    const reports = p
      .logs()
      .filter((l) => l.msg === "DA copy is corrupt: not attesting from it; retrying peers and DA");
    const minutes = Math.floor((Date.now() - (reports[0]!.time as number)) / 60_000);
    assert.ok(reports.length <= 1 + minutes, `${reports.length} error lines in ${minutes + 1} minute(s)`);
    assert.ok(p.running);
    assert.equal(await p.health(), 200);

    // Repaired: every block below is attested valid, within the retry backoff.
    writeFileSync(path, good);
    await waitFor(
      `prover 2 attests blocks 1…${corruptAt}`,
      async () =>
        (await p.metric("staccato_prover_blocks_verified_total", { verdict: "valid", source: "da" })) >=
        Number(target),
      120_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nprover:\n${tail(p)}`);
    });
    // Gossiped, and recorded by the sequencer: a valid attestation of every block from prover 2.
    const missing = async () => {
      const out: number[] = [];
      (await attestations(1n, target)).forEach((a, i) => {
        const mine = a.attestations.filter((x) => x.prover === proverAddrs[1]);
        if (mine.length === 0) out.push(i + 1);
        for (const x of mine) assert.equal(x.verdict, "valid", `block ${i + 1}`);
      });
      return out;
    };
    await waitFor("the sequencer records them all", async () => (await missing()).length === 0, 30_000).catch(
      async (err: Error) => {
        const m = await missing();
        throw new Error(`${err.message}: ${m.length} missing, first ${m.slice(0, 10).join(", ")}`);
      },
    );
    assert.deepEqual((await rpc<FinalityAnswer>(seq.rpcUrl, "staccato_finality")).alarms, []);
  });

  it("with the sequencer down, a fresh prover that knows only another prover learns the DA head from it and attests every block from DA", async () => {
    await chain.seq.kill9();
    // What the running prover last heard from the sequencer's pointers: it serves that as da-head.
    const head = await provers[0]!.metric("staccato_prover_da_head_block");
    assert.ok(head >= BLOCKS, `prover 1 knows DA up to ${head}`);
    await waitFor(
      "prover 1 attests up to the DA head",
      async () => (await provers[0]!.metric("staccato_prover_attested_block")) >= head,
      30_000,
    );
    const p = await startProver(2, provers[0]!.p2p[0]!);
    await waitFor(
      `the fresh prover attests blocks 1…${head} from DA`,
      async () =>
        (await p.metric("staccato_prover_blocks_verified_total", { verdict: "valid", source: "da" })) >= head,
      120_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}
prover:
${tail(p)}`);
    });
    assert.equal(await p.metric("staccato_prover_da_head_block"), head);
    assert.ok((await p.metric("staccato_prover_peers")) >= 1);
    assert.equal(await p.metric("staccato_prover_blocks_verified_total", { verdict: "invalid" }), 0);
    assert.equal(await p.metric("staccato_prover_bundles_fetched_total", { source: "peer" }), 0);
    const blocks = new Set(
      p
        .logs()
        .filter((l) => l.msg === "attested block")
        .map((l) => l.block as number),
    );
    for (let n = 1; n <= head; n++) assert.ok(blocks.has(n), `block ${n} attested`);
  });
});

/**
 * The same from an EigenDA proxy (`--da eigenda --da-url`; a local stand-in for the proxy's REST
 * API, see fakeEigenDaProxy.ts), through an outage: while the proxy answers 503 the prover attests
 * nothing and counts why; once it is back, it attests every block.
 */
describe("prover / witnesses from an EigenDA proxy, through an outage", { timeout: 300_000 }, () => {
  const chain = new DaChain(1);
  let proxy: FakeEigenDaProxy;

  before(async () => {
    proxy = await startFakeEigenDaProxy();
    await chain.startSequencer(["--da", "eigenda", "--da-url", proxy.url]);
    await waitFor(
      "100 blocks published to the proxy",
      async () => (await chain.publishedBlock()) >= 100,
      60_000,
    );
  });

  after(async () => {
    const dump = process.env.PROVER_DA_DUMP;
    await chain.close(dump ? `${dump}.eigenda` : undefined);
    await proxy?.close();
  });

  it("a fresh prover attests nothing while the proxy is down, then every block from it once it is back", async () => {
    proxy.down = true;
    const p = await chain.startProver(0, ["--da", "eigenda", "--da-url", proxy.url]);
    assert.equal(p.started.da, `eigenda ${proxy.url}`);
    await waitFor(
      "DA reads refused while the proxy is down",
      async () =>
        (await p.metric("staccato_prover_fetch_failures_total", { reason: "da-unavailable" })) >= 20,
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nprover:\n${tail(p)}`);
    });
    // It knows which blocks exist (the sequencer's da-head) but has nothing to verify them from.
    assert.ok((await p.metric("staccato_prover_da_head_block")) >= 100);
    assert.equal(await p.metric("staccato_prover_attested_block"), 0);
    assert.equal(await p.metric("staccato_prover_blocks_verified_total"), 0);
    assert.equal(await p.metric("staccato_prover_fetch_failures_total", { reason: "da-corrupt" }), 0);

    proxy.down = false;
    const latest = (await chain.health()).latestBlock;
    await waitFor(
      "the sequencer's DA backlog published",
      async () => (await chain.publishedBlock()) >= latest,
      60_000,
    );
    const target = BigInt(latest);
    await waitFor(
      `the sequencer finalizes block ${target} on the prover's attestations`,
      async () =>
        BigInt((await rpc<FinalityAnswer>(chain.seq.rpcUrl, "staccato_finality")).finalized) >= target,
      120_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nprover:\n${tail(p)}`);
    });
    (await chain.attestations(1n, target)).forEach((a, i) => {
      const mine = a.attestations.filter((x) => x.prover === chain.proverAddrs[0]);
      assert.ok(mine.length >= 1 && mine.every((x) => x.verdict === "valid"), `block ${i + 1}`);
    });
    assert.ok(
      (await p.metric("staccato_prover_blocks_verified_total", { verdict: "valid", source: "da" })) >=
        Number(target),
    );
    assert.equal(await p.metric("staccato_prover_bundles_fetched_total", { source: "peer" }), 0);
    assert.equal(await p.metric("staccato_prover_blocks_verified_total", { verdict: "invalid" }), 0);
  });
});
