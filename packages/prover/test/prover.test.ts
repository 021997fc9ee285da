import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { type BlockHeader, createBlockHeaderFromRLP } from "@ethereumjs/block";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import {
  type ChainConfig,
  type HeaderFields as BlockHeaderFields,
  createP2PNode,
  silentLogger,
  KECCAK256_RLP,
  MemTrie,
  keccak256,
  type P2PNode,
  SigningDomain,
  buildHeader,
  chainConfigToJson,
  compressWitness,
  createEthCommon,
  decodeBlockSeal,
  decodeBundle,
  decodeWitness,
  decodeWitnessRequest,
  decompressWitness,
  devChainConfig,
  encodeBlockSeal,
  encodeBundle,
  encodeEnvelope,
  encodeNumberRequest,
  encodeWitness,
  encodeWitnessRequest,
  nextBaseFee,
  orderedTrieRoot,
  randomPrivateKey,
  signPayload,
  signingKeyFromPrivate,
} from "@staccato/common";
import {
  FullnodeProcess,
  TempDirs,
  fullnodeArgs,
  rpcBatch,
  waitFor,
} from "../../fullnode/test/helpers/fullnodeProcess.ts";
import { mixedWorkload } from "../../fullnode/test/helpers/workload.ts";
import { devKeyAccount } from "../../sequencer/test/helpers/devChain.ts";
import { rpc } from "../../sequencer/test/helpers/rpcClient.ts";
import { SequencerProcess } from "../../sequencer/test/helpers/sequencerProcess.ts";
import { reachableNodes } from "../src/witness/witnessState.ts";
import { ProverProcess } from "./helpers/proverProcess.ts";

interface AttestationView {
  prover: string;
  blockHash: string;
  canonical: boolean | null;
  verdict: "valid" | "invalid";
  reason: string;
}
interface AttestationsAnswer {
  blockHash: string | null;
  finalized: boolean;
  attestations: AttestationView[];
}
interface FinalityAnswer {
  latest: string;
  finalized: string;
  haltedAt: string | null;
  alarms: { blockNumber: string; blockHash: string; prover: string; reason: string }[];
}

const hexKey = (k: Uint8Array) => bytesToHex(k);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

describe("provers: stateless verification, attestations and finality", { timeout: 400_000 }, () => {
  const dirs = new TempDirs();
  const seqKey = randomPrivateKey();
  const proverKeys = [randomPrivateKey(), randomPrivateKey()];
  const proverAddrs = proverKeys.map((k) => bytesToHex(signingKeyFromPrivate(k).address));
  let chainFile = "";
  let seq: SequencerProcess;
  let fn: FullnodeProcess;
  const provers: ProverProcess[] = [];
  const proverArgs: string[][] = [];
  let bootnode = "";
  let config: ChainConfig;
  const common = createEthCommon({ chainId: 21364 });

  before(async () => {
    const seqDir = dirs.make();
    config = devChainConfig({
      sequencer: bytesToHex(signingKeyFromPrivate(seqKey).address),
      provers: proverAddrs,
      proverQuorum: 2,
    });
    writeFileSync(join(seqDir, "sequencer.key"), hexKey(seqKey));
    chainFile = join(seqDir, "chain.json");
    writeFileSync(chainFile, chainConfigToJson(config));
    // A fixed libp2p port, so the others find the sequencer again after it is restarted.
    const port = await freePort();
    seq = await SequencerProcess.start({
      dataDir: seqDir,
      args: ["--block-ms", "250", "--p2p-listen", `/ip4/127.0.0.1/tcp/${port}`],
    });
    bootnode = (seq.logs().find((l) => l.msg === "sequencer started")!.p2p as string[]).find((a) =>
      a.includes(`/tcp/${port}/`),
    )!;
    for (let i = 0; i < 2; i++) {
      const dir = dirs.make();
      const keyFile = join(dir, "prover.key");
      writeFileSync(keyFile, hexKey(proverKeys[i]!));
      proverArgs.push(
        ProverProcess.args({ chain: chainFile, keyFile, dataDir: join(dir, "data"), bootnode }),
      );
      provers.push(await ProverProcess.start(proverArgs[i]!));
    }
    const fnArgs = fullnodeArgs(seq, dirs.make());
    fnArgs[fnArgs.indexOf("--bootnodes") + 1] = bootnode; // the fixed-port address
    fn = await FullnodeProcess.start(fnArgs);
  });

  after(async () => {
    for (const p of provers) await p.kill("SIGKILL");
    await fn?.kill("SIGKILL");
    await seq?.cleanup();
    dirs.cleanup();
  });

  const finality = (url: string) => rpc<FinalityAnswer>(url, "staccato_finality");
  const attestations = (url: string, n: bigint) =>
    rpc<AttestationsAnswer>(url, "staccato_getAttestations", [`0x${n.toString(16)}`]);

  it("verifies >= 1,000 mixed transactions: two valid attestations per block, finality on sequencer and full node, a killed prover catches up", async () => {
    const work = await mixedWorkload({
      senders: [1, 2, 3, 4, 5, 6, 7, 8],
      startNonces: [0, 0, 0, 0, 0, 0, 0, 0],
      perSender: 130,
      viaOf: () => 0,
    });
    assert.ok(work.txs.length >= 1_000);
    const kinds = new Set(work.txs.map((t) => t.kind));
    for (const k of ["deploy", "eth", "token", "put", "drop", "revert"]) assert.ok(kinds.has(k as never), k);
    const send = async (from: number, to: number) => {
      for (let i = from; i < to; i += 200) {
        const batch = work.txs.slice(i, Math.min(i + 200, to));
        const out = (await rpcBatch(
          seq.rpcUrl,
          batch.map((t) => ({ method: "eth_sendRawTransaction", params: [t.raw] })),
        )) as { error?: unknown }[];
        for (const r of out) assert.equal(r.error, undefined, JSON.stringify(r.error));
      }
    };
    const half = Math.floor(work.txs.length / 2);
    await send(0, half);
    const mid = work.txs[half - 1]!;
    await waitFor(
      "first half included",
      async () => (await rpc(seq.rpcUrl, "eth_getTransactionReceipt", [mid.hash])) !== null,
      60_000,
    );

    // One prover dies; the other keeps attesting, but a quorum of two cannot finalize meanwhile.
    await provers[1]!.kill("SIGKILL");
    const attestedBefore = await provers[0]!.metric("staccato_prover_attested_block");
    await send(half, work.txs.length);
    const last = work.txs.at(-1)!;
    let lastBlock = 0n;
    await waitFor(
      "all included",
      async () => {
        const r = await rpc<{ blockNumber: string } | null>(seq.rpcUrl, "eth_getTransactionReceipt", [
          last.hash,
        ]);
        if (r === null) return false;
        lastBlock = BigInt(r.blockNumber);
        return true;
      },
      60_000,
    );
    await waitFor(
      "the live prover attests past the last transaction",
      async () => BigInt(await provers[0]!.metric("staccato_prover_attested_block")) > lastBlock,
      60_000,
    );
    assert.ok((await provers[0]!.metric("staccato_prover_attested_block")) > attestedBefore);
    const stalled = BigInt((await finality(seq.rpcUrl)).finalized);
    assert.ok(stalled < lastBlock, `finalized ${stalled} with one of two provers down`);

    // Restarted, it picks up every block it missed, many at a time.
    provers[1] = await ProverProcess.start(proverArgs[1]!);
    for (const [name, url] of [
      ["sequencer", seq.rpcUrl],
      ["full node", fn.rpcUrl],
    ] as const)
      await waitFor(
        `finalized passes block ${lastBlock} on the ${name}`,
        async () => BigInt((await finality(url)).finalized) >= lastBlock,
        120_000,
      ).catch(async (err: Error) => {
        const tail = (p: ProverProcess) => p.output().split("\n").slice(-15).join("\n");
        throw new Error(
          `${err.message}\nsequencer: ${JSON.stringify(await finality(seq.rpcUrl))}\nfull node: ${JSON.stringify(await finality(fn.rpcUrl))}\nprover 0:\n${tail(provers[0]!)}\nprover 1:\n${tail(provers[1]!)}`,
        );
      });
    const fin = await rpc<{ number: string; hash: string }>(fn.rpcUrl, "eth_getBlockByNumber", [
      "finalized",
      false,
    ]);
    const seqBlock = await rpc<{ hash: string }>(seq.rpcUrl, "eth_getBlockByNumber", [fin.number, false]);
    assert.equal(fin.hash, seqBlock.hash);

    // Every block up to there has two valid attestations from the two listed provers.
    for (let n = 1n; n <= lastBlock; n++) {
      const a = await attestations(seq.rpcUrl, n);
      const valid = a.attestations.filter((x) => x.verdict === "valid" && x.canonical === true);
      assert.deepEqual(new Set(valid.map((x) => x.prover)), new Set(proverAddrs), `block ${n}`);
      assert.ok(a.finalized, `block ${n} final`);
    }
    const onFull = await attestations(fn.rpcUrl, lastBlock);
    assert.equal(onFull.attestations.filter((x) => x.verdict === "valid").length, 2);

    // The catch-up ran blocks on both workers at once, finishing some before earlier ones.
    assert.ok((await provers[1]!.metric("staccato_prover_max_concurrent_verifications")) >= 2);
    const outOfOrder =
      (await provers[0]!.metric("staccato_prover_out_of_order_total")) +
      (await provers[1]!.metric("staccato_prover_out_of_order_total"));
    assert.ok(outOfOrder > 0, "some block finished before an earlier one");
    assert.ok(
      provers.some((p) => p.logs().some((l) => l.msg === "attested block" && l.outOfOrder === true)),
      "the logs show it too",
    );
  });

  it("a sequencer killed mid-block restarts with every block's witness: the provers attest across the crash", async () => {
    const acct = devKeyAccount(12);
    const start = Number(await rpc<string>(seq.rpcUrl, "eth_getTransactionCount", [acct.address, "pending"]));
    const raws: string[] = [];
    for (let i = 0; i < 150; i++)
      raws.push(
        await acct.signTransaction({
          chainId: 21364,
          type: "eip1559",
          nonce: start + i,
          to: `0x${(0xdead0000 + i).toString(16).padStart(40, "0")}`,
          value: 1000n + BigInt(i),
          gas: 21_000n,
          maxFeePerGas: 20n * 10n ** 9n,
          maxPriorityFeePerGas: 1n,
        }),
      );
    const hashes = raws.map((r) => keccak256(hexToBytes(r as `0x${string}`)));
    await rpcBatch(
      seq.rpcUrl,
      raws.slice(0, 100).map((r) => ({ method: "eth_sendRawTransaction", params: [r] })),
    );
    // As soon as some are preconfirmed, before their block can seal: kill -9.
    await waitFor(
      "a preconfirmed receipt",
      async () => (await rpc(seq.rpcUrl, "eth_getTransactionReceipt", [bytesToHex(hashes[40]!)])) !== null,
      20_000,
    );
    await seq.kill9();
    seq = await seq.restart();
    assert.ok(seq.logs().some((l) => l.msg === "replayed write-ahead log"));
    // Send them all again: those the log kept are "already known" or have a used nonce now.
    const again = (await (
      await fetch(seq.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(
          raws.map((r, id) => ({ jsonrpc: "2.0", id, method: "eth_sendRawTransaction", params: [r] })),
        ),
      })
    ).json()) as { error?: { message: string } }[];
    for (const r of again)
      if (r.error !== undefined) assert.match(r.error.message, /already known|nonce too low/);
    let lastBlock = 0n;
    await waitFor(
      "every transfer included after the restart",
      async () => {
        const r = await rpc<{ blockNumber: string } | null>(seq.rpcUrl, "eth_getTransactionReceipt", [
          bytesToHex(hashes.at(-1)!),
        ]);
        if (r === null) return false;
        lastBlock = BigInt(r.blockNumber);
        return true;
      },
      30_000,
    );
    for (const url of [seq.rpcUrl, fn.rpcUrl])
      await waitFor(
        `finality passes block ${lastBlock} across the crash`,
        async () => BigInt((await finality(url)).finalized) >= lastBlock,
        60_000,
      ).catch(async (err: Error) => {
        if (process.env.PROVER_TEST_DUMP) {
          writeFileSync(process.env.PROVER_TEST_DUMP, seq.output());
          writeFileSync(`${process.env.PROVER_TEST_DUMP}.fullnode`, fn.output());
        }
        const f = await finality(url);
        const stuck = BigInt(f.finalized) + 1n;
        const tail = (p: ProverProcess) =>
          p
            .output()
            .split("\n")
            .filter((l) => !l.includes('"attested block"'))
            .slice(-8)
            .join("\n");
        throw new Error(
          `${err.message}\n${url}: ${JSON.stringify(f)}\nblock ${stuck}: ${JSON.stringify(await attestations(url, stuck))}\nsequencer:\n${seq
            .output()
            .split("\n")
            .filter((l) => /warn|error|witness|replayed|resealed/i.test(l))
            .slice(-8)
            .join("\n")}\nprover 0:\n${tail(provers[0]!)}\nprover 1:\n${tail(provers[1]!)}`,
        );
      });
    assert.ok(
      !seq.logs().some((l) => l.msg === "block resealed after a restart has no witness"),
      "every resealed block has its witness",
    );
  });

  /** A peer holding the sequencer key: it gossips forged blocks and serves their bundles. */
  async function forger(): Promise<{
    rogue: P2PNode;
    serve: Map<string, Uint8Array>;
    slow: Map<string, number>;
  }> {
    const dir = dirs.make();
    mkdirSync(dir, { recursive: true });
    const rogue = await createP2PNode(
      {
        listen: ["/ip4/127.0.0.1/tcp/0"],
        announce: [],
        bootnodes: [bootnode, ...provers.map((p) => p.p2p[0]!)],
        keyFile: join(dir, "p2p.key"),
        maxGossipBytes: 8 << 20,
        maxOutboundBufferBytes: 32 << 20,
        heartbeatMs: 700,
        chainId: 21364,
      },
      { logger: silentLogger() },
    );
    rogue.subscribe("block", { validate: () => "accept", onMessage: () => {} });
    const serve = new Map<string, Uint8Array>();
    // Hashes whose first request is answered only after this many ms: a peer slow to answer.
    const slow = new Map<string, number>();
    await rogue.handle(
      "witnessByNumber",
      async (body) => {
        const req = decodeWitnessRequest(body);
        const key = req.hash === null ? "" : bytesToHex(req.hash);
        const delay = slow.get(key);
        if (delay !== undefined) {
          slow.delete(key);
          await sleep(delay);
        }
        return serve.get(key) ?? { code: "unavailable", message: "not forged here" };
      },
      {
        maxRequestBytes: 256,
        maxResponseBytes: 64 << 20,
        rateLimit: { perPeerPerSecond: 100, burst: 200 },
        timeoutMs: 60_000,
      },
    );
    await rogue.start();
    await waitFor("rogue meshed with the provers", async () => rogue.topicPeers("block").length >= 2, 15_000);
    return { rogue, serve, slow };
  }

  const headerFields = (h: BlockHeader): BlockHeaderFields => ({
    parentHash: h.parentHash,
    coinbase: h.coinbase.bytes,
    stateRoot: h.stateRoot,
    transactionsRoot: h.transactionsTrie,
    receiptsRoot: h.receiptTrie,
    logsBloom: h.logsBloom,
    number: h.number,
    gasLimit: h.gasLimit,
    gasUsed: h.gasUsed,
    timestamp: h.timestamp,
    prevRandao: h.mixHash,
    baseFee: h.baseFeePerGas!,
  });

  /** Signs `fields` as the sequencer would and returns the seal bytes and block hash. */
  const seal = (fields: BlockHeaderFields) => {
    const header = buildHeader(fields, common);
    const hash = header.hash();
    const bytes = encodeBlockSeal({
      header: header.serialize(),
      hash,
      miniBlockHashes: [],
      signature: signPayload(SigningDomain.block, 21364, hash, seqKey),
    });
    return { bytes, hash: bytesToHex(hash), number: fields.number };
  };

  const sequencerPeer = (rogue: P2PNode) =>
    rogue.peers().find((p) => bootnode.endsWith(`/p2p/${p.toString()}`))!;

  /** The real bundle of a block with transactions, fetched from the sequencer like a prover does. */
  async function realBundle(rogue: P2PNode) {
    const latest = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
    for (let n = latest; n > 0n; n--) {
      const b = await rpc<{ transactions: string[] }>(seq.rpcUrl, "eth_getBlockByNumber", [
        `0x${n.toString(16)}`,
        false,
      ]);
      if (b.transactions.length < 3) continue;
      const r = await rogue.request(sequencerPeer(rogue), "witnessByNumber", encodeWitnessRequest(n), {
        timeoutMs: 10_000,
        maxResponseBytes: 64 << 20,
      });
      assert.equal(r.code, "ok");
      const bundle = decodeBundle(r.body);
      const header = createBlockHeaderFromRLP(bundle.seal.header, {
        common,
        skipConsensusFormatValidation: true,
      });
      return { bundle, header, witness: decodeWitness(decompressWitness(bundle.witnessCompressed)) };
    }
    throw new Error("no block with transactions");
  }

  it("a witness with one node removed is an incomplete witness, and garbage bundles are rejected: nothing attested, nothing crashes", async () => {
    const { rogue, serve } = await forger();
    try {
      const { bundle, header, witness } = await realBundle(rogue);
      // Same transactions, another header (so the sequencer does not serve it), one node short.
      const short = seal({ ...headerFields(header), timestamp: header.timestamp + 1n });
      // Drop one node, and what only it led to (a witness with stray nodes is refused outright).
      const kept = witness.nodes.filter((_, i) => i !== Math.floor(witness.nodes.length / 2));
      const parentRoot = createBlockHeaderFromRLP(witness.headers.at(-1)!, {
        common,
        skipConsensusFormatValidation: true,
      }).stateRoot;
      const reachable = reachableNodes(parentRoot, MemTrie.nodeMap(kept));
      const nodes = kept.filter((n) => reachable.has(bytesToHex(keccak256(n)).slice(2)));
      assert.ok(nodes.length < witness.nodes.length && nodes.length > 0);
      serve.set(
        short.hash,
        encodeBundle(short.bytes, bundle.txs, await compressWitness(encodeWitness({ ...witness, nodes }))),
      );
      const garbage = seal({ ...headerFields(header), timestamp: header.timestamp + 2n });
      serve.set(
        garbage.hash,
        Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919) & 0xff),
      );
      const truncated = seal({ ...headerFields(header), timestamp: header.timestamp + 3n });
      const good = encodeBundle(truncated.bytes, bundle.txs, bundle.witnessCompressed);
      serve.set(truncated.hash, good.subarray(0, good.length - 100));
      for (const s of [short, garbage, truncated]) await rogue.publish("block", encodeEnvelope(s.bytes));

      for (const p of provers) {
        await waitFor(
          "incomplete witness reported",
          async () =>
            (await p.metric("staccato_prover_blocks_verified_total", { verdict: "incomplete" })) > 0,
          30_000,
        );
        await waitFor(
          "bad bundles rejected",
          async () => (await p.metric("staccato_prover_fetch_failures_total", { reason: "bad-bundle" })) >= 2,
          30_000,
        );
        const line = p.logs().find((l) => l.msg === "incomplete witness: not attesting; retrying");
        assert.ok(
          line !== undefined && String(line.missing).startsWith("trie node 0x"),
          JSON.stringify(line),
        );
        assert.equal(await p.health(), 200);
        assert.ok(p.running);
      }
      const recorded = await attestations(seq.rpcUrl, header.number);
      for (const s of [short, garbage, truncated])
        assert.ok(!recorded.attestations.some((a) => a.blockHash === s.hash), "never attested");
      // And they keep attesting the real chain.
      const before = await provers[0]!.metric("staccato_prover_attested_block");
      await waitFor(
        "still attesting",
        async () => (await provers[0]!.metric("staccato_prover_attested_block")) > before,
      );
    } finally {
      await rogue.stop();
    }
  });

  it("a peer slow to answer a witness is timed out and asked again, while the other blocks go on being attested", async () => {
    const { rogue, serve, slow } = await forger();
    try {
      const { bundle, header } = await realBundle(rogue);
      // A block only the rogue serves (same transactions, another timestamp: it verifies valid),
      // whose first request it answers after 20 s, past the prover's 15 s request timeout.
      const late = seal({ ...headerFields(header), timestamp: header.timestamp + 4n });
      serve.set(late.hash, encodeBundle(late.bytes, bundle.txs, bundle.witnessCompressed));
      slow.set(late.hash, 20_000);
      const before = await Promise.all(
        provers.map((p) => p.metric("staccato_prover_fetch_failures_total", { reason: "error" })),
      );
      const attestedBefore = await Promise.all(
        provers.map((p) => p.metric("staccato_prover_attested_block")),
      );
      await rogue.publish("block", encodeEnvelope(late.bytes));

      const attestedLate = (p: ProverProcess) =>
        p.logs().find((l) => l.msg === "attested block" && l.hash === late.hash);
      for (const p of provers) {
        await waitFor(
          "the slow peer's block attested after a retry",
          async () => attestedLate(p) !== undefined,
          90_000,
        );
        assert.equal(attestedLate(p)!.verdict, "valid");
        assert.equal(await p.health(), 200);
        assert.ok(p.running);
      }
      // The rogue sat on the first request only: that prover gave up on it at its request timeout
      // (counted as a failed fetch: every other peer answers at once) and fetched the block again.
      // The other prover's request came second and was answered at once. The waiting prover may
      // have attested the block another way (a second job from the block's gossip) before its
      // first request timed out, so the count is waited for, up to the timeout and a margin.
      let waited: number[] = [];
      await waitFor(
        "the timed-out request counted as a failed fetch",
        async () => {
          const after = await Promise.all(
            provers.map((p) => p.metric("staccato_prover_fetch_failures_total", { reason: "error" })),
          );
          waited = provers.map((_, i) => i).filter((i) => after[i]! > before[i]!);
          return waited.length > 0;
        },
        25_000,
      );
      // While that prover waited on the slow peer, it went on attesting the real chain.
      for (const i of waited)
        assert.ok((await provers[i]!.metric("staccato_prover_attested_block")) > attestedBefore[i]!);
    } finally {
      await rogue.stop();
    }
  });

  it("a signed block with a wrong stateRoot or a tampered transaction list is attested invalid by both provers and finality stops before it", async () => {
    const { rogue, serve } = await forger();
    try {
      // A real past block with one transaction dropped, re-rooted and re-signed.
      const { bundle, header } = await realBundle(rogue);
      const txs = bundle.txs.slice(0, -1);
      const tampered = seal({ ...headerFields(header), transactionsRoot: orderedTrieRoot(txs) });
      serve.set(tampered.hash, encodeBundle(tampered.bytes, txs, bundle.witnessCompressed));

      const invalidBy = async (url: string, n: bigint, hash: string) =>
        (await attestations(url, n)).attestations.filter(
          (a) => a.blockHash === hash && a.verdict === "invalid",
        );
      await rogue.publish("block", encodeEnvelope(tampered.bytes));
      await waitFor(
        "two invalid verdicts on the tampered block",
        async () => (await invalidBy(seq.rpcUrl, tampered.number, tampered.hash)).length === 2,
        30_000,
      );
      const frozen = BigInt((await finality(seq.rpcUrl)).finalized);

      // Then the next block, empty, signed with a state root that is not its parent's.
      const head = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
      const r = await rogue.request(sequencerPeer(rogue), "blockByNumber", encodeNumberRequest(head), {
        timeoutMs: 5000,
        maxResponseBytes: 1 << 20,
      });
      assert.equal(r.code, "ok");
      const parent = createBlockHeaderFromRLP(decodeBlockSeal(r.body).header, {
        common,
        skipConsensusFormatValidation: true,
      });
      const wrongRoot = seal({
        parentHash: parent.hash(),
        coinbase: parent.coinbase.bytes,
        stateRoot: hexToBytes(`0x${"ab".repeat(32)}`),
        transactionsRoot: KECCAK256_RLP,
        receiptsRoot: KECCAK256_RLP,
        logsBloom: new Uint8Array(256),
        number: parent.number + 1n,
        gasLimit: parent.gasLimit,
        gasUsed: 0n,
        timestamp: parent.timestamp + 1n,
        prevRandao: parent.mixHash,
        baseFee: nextBaseFee(
          { baseFee: parent.baseFeePerGas!, gasUsed: parent.gasUsed, gasLimit: parent.gasLimit },
          config.baseFee,
        ),
      });
      serve.set(
        wrongRoot.hash,
        encodeBundle(
          wrongRoot.bytes,
          [],
          await compressWitness(encodeWitness({ nodes: [], codes: [], headers: [parent.serialize()] })),
        ),
      );
      await rogue.publish("block", encodeEnvelope(wrongRoot.bytes));
      for (const url of [seq.rpcUrl, fn.rpcUrl]) {
        await waitFor(
          `two invalid verdicts at ${url}`,
          async () =>
            (await invalidBy(url, wrongRoot.number, wrongRoot.hash)).length === 2 &&
            (await invalidBy(url, tampered.number, tampered.hash)).length === 2,
          30_000,
        );
      }
      for (const a of await invalidBy(seq.rpcUrl, wrongRoot.number, wrongRoot.hash))
        assert.match(a.reason, /stateRoot mismatch/);
      for (const a of await invalidBy(seq.rpcUrl, tampered.number, tampered.hash))
        assert.match(a.reason, /mismatch/);
      for (const p of provers)
        assert.ok(p.logs().some((l) => l.msg === "attested block INVALID" && l.level === 50));

      // Finality never passes the forged height, on either node, while blocks keep coming.
      for (const url of [seq.rpcUrl, fn.rpcUrl]) {
        const f = await finality(url);
        assert.equal(BigInt(f.haltedAt!), tampered.number);
        assert.ok(f.alarms.length >= 4);
        assert.ok(BigInt(f.finalized) < wrongRoot.number, `finalized ${f.finalized} < ${wrongRoot.number}`);
      }
      const f0 = BigInt((await finality(seq.rpcUrl)).finalized);
      assert.equal(f0, frozen);
      const l0 = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
      await waitFor(
        "blocks keep coming",
        async () => BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber")) > l0 + 4n,
      );
      assert.equal(BigInt((await finality(seq.rpcUrl)).finalized), f0);
      const fin = await rpc<{ number: string }>(fn.rpcUrl, "eth_getBlockByNumber", ["finalized", false]);
      assert.ok(BigInt(fin.number) < wrongRoot.number);
      const text = await (await fetch(seq.metricsUrl)).text();
      assert.match(text, /staccato_invalid_verdicts_total\{[^}]*\} [4-9]/);
    } finally {
      await rogue.stop();
    }
  });
});
