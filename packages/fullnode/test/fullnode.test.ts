import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  encodeEnvelope,
  encodeSignedMiniBlock,
  miniBlockHash,
  randomPrivateKey,
  signPayload,
  SigningDomain,
} from "@staccato/common";
import { http, createPublicClient, createWalletClient, type Hex, keccak256, parseEther } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import {
  DEV_CHAIN_ID,
  DEV_MNEMONIC,
  devChain,
  devKeyAccount,
} from "../../sequencer/test/helpers/devChain.ts";
import { SequencerProcess } from "../../sequencer/test/helpers/sequencerProcess.ts";
import {
  FullnodeProcess,
  TempDirs,
  blockNumber,
  fullnodeArgs,
  killAllFullnodes,
  rogueFor,
  rpc,
  rpcBatch,
  waitFor,
} from "./helpers/fullnodeProcess.ts";
import { mixedWorkload } from "./helpers/workload.ts";

describe("fullnode / follows the sequencer", () => {
  let seq: SequencerProcess;
  const nodes: FullnodeProcess[] = [];
  const dirs = new TempDirs();
  const args = (dir: string) => fullnodeArgs(seq, dir);
  const newDir = () => dirs.make();

  before(async () => {
    seq = await SequencerProcess.start();
  });

  after(async () => {
    for (const n of nodes) await n.kill("SIGKILL");
    await killAllFullnodes();
    await seq?.cleanup();
    dirs.cleanup();
  });

  it("two full nodes reach the sequencer's state; txs sent through one appear on the other", async () => {
    const a = await FullnodeProcess.start(args(newDir()));
    const b = await FullnodeProcess.start(args(newDir()));
    nodes.push(a, b);
    const chain = devChain(a.rpcUrl);
    const viaA = createWalletClient({
      chain,
      transport: http(a.rpcUrl),
      account: mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 3 }),
    });
    const viaSeq = createWalletClient({
      chain,
      transport: http(seq.rpcUrl),
      account: mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 4 }),
    });
    const readB = createPublicClient({ chain, transport: http(b.rpcUrl) });
    const to = "0x00000000000000000000000000000000000c0ffe";
    // Caught up with what was sealed before they started, both follow by gossip from here on.
    const start = await blockNumber(seq.rpcUrl);
    for (const n of [a, b]) await waitFor("caught up", async () => (await blockNumber(n.rpcUrl)) >= start);
    const fetched0 = await Promise.all([a, b].map((n) => n.metric("staccato_fullnode_seals_fetched_total")));
    let last: `0x${string}` = "0x";
    // Spread over a few blocks (sealed every second).
    for (let i = 0; i < 20; i++) {
      await viaA.sendTransaction({ to, value: parseEther("0.001") });
      last = await viaSeq.sendTransaction({ to, value: parseEther("0.002") });
      await new Promise((r) => setTimeout(r, 150));
    }
    const receipt = await readB.waitForTransactionReceipt({ hash: last, pollingInterval: 50 });
    assert.equal(receipt.status, "success");
    const target = receipt.blockNumber;
    for (const n of [a, b])
      await waitFor("verified block", async () => BigInt(await n.rpc<string>("eth_blockNumber")) >= target);
    // Every block since came by gossip: none of their seals was asked for again by request.
    assert.ok(target - start >= 3n, `${target - start} blocks`);
    assert.deepEqual(
      await Promise.all([a, b].map((n) => n.metric("staccato_fullnode_seals_fetched_total"))),
      fetched0,
      "seals fetched by request while gossip brought every block",
    );
    const seqBlock = await rpc<{ hash: string; stateRoot: string }>(seq.rpcUrl, "eth_getBlockByNumber", [
      `0x${target.toString(16)}`,
      false,
    ]);
    for (const n of [a, b]) {
      const blk = await n.rpc<{ hash: string; stateRoot: string }>("eth_getBlockByNumber", [
        `0x${target.toString(16)}`,
        false,
      ]);
      assert.equal(blk.hash, seqBlock.hash);
      assert.equal(blk.stateRoot, seqBlock.stateRoot);
      const r = await n.rpc<{ transactionIndex: string; blockHash: string }>("eth_getTransactionReceipt", [
        last,
      ]);
      assert.equal(r.blockHash, seqBlock.hash);
    }
    // The same balances everywhere, at the latest block all three have.
    const tag = `0x${target.toString(16)}`;
    const seqLatest = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
    if (seqLatest === target) {
      assert.equal(
        await a.rpc("eth_getBalance", [to, tag]),
        await rpc(seq.rpcUrl, "eth_getBalance", [to, tag]),
      );
    }
    assert.equal(BigInt(await b.rpc<string>("eth_getBalance", [to, "pending"])), parseEther("0.06"));
    // The same per-method RPC latency histogram as the sequencer's.
    const balanceCalls = { daemon: "fullnode", method: "eth_getBalance" };
    const calls0 = await b.metric("staccato_rpc_request_duration_seconds_count", balanceCalls);
    assert.ok(calls0 >= 1, `${calls0} eth_getBalance calls counted`);
    await b.rpc("eth_getBalance", [to, "latest"]);
    assert.equal(await b.metric("staccato_rpc_request_duration_seconds_count", balanceCalls), calls0 + 1);
    assert.ok(
      (await b.metric("staccato_rpc_request_duration_seconds_bucket", { ...balanceCalls, le: "+Inf" })) >=
        calls0 + 1,
    );
  });

  it("a JSON-RPC batch of transactions sent to a full node goes to the sequencer as one batch, in order, each with its own result; the sequencer down, each says so", async () => {
    // Between the full node and the sequencer, a plain HTTP proxy that records what it forwards.
    const forwarded: unknown[] = [];
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        forwarded.push(JSON.parse(body));
        fetch(seq.rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body })
          .then(async (r) =>
            res.writeHead(r.status, { "content-type": "application/json" }).end(await r.text()),
          )
          .catch(() => res.destroy());
      });
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const f = await FullnodeProcess.start([...args(newDir()), "--sequencer-rpc", proxyUrl]);
    nodes.push(f);
    try {
      const sender = devKeyAccount(5);
      const other = devKeyAccount(7);
      const nonce0 = Number(
        await rpc<string>(seq.rpcUrl, "eth_getTransactionCount", [sender.address, "pending"]),
      );
      const sign = (acct: typeof sender, nonce: number, value: bigint) =>
        acct.signTransaction({
          chainId: DEV_CHAIN_ID,
          type: "eip1559",
          to: "0x00000000000000000000000000000000000ba7c4",
          value,
          nonce,
          gas: 21_000n,
          maxFeePerGas: 10n ** 11n,
          maxPriorityFeePerGas: 0n,
        });
      // The other account's nonce is used up first: the batch sends it again.
      const otherNonce = Number(
        await rpc<string>(seq.rpcUrl, "eth_getTransactionCount", [other.address, "pending"]),
      );
      const used = await rpc<Hex>(seq.rpcUrl, "eth_sendRawTransaction", [await sign(other, otherNonce, 1n)]);
      await waitFor(
        "the other account's transfer",
        async () => (await f.rpc("eth_getTransactionReceipt", [used])) !== null,
      );
      // Ten transfers that depend on each other's order, with a stale nonce, garbage and a read between them.
      const good = await Promise.all(
        Array.from({ length: 10 }, (_, i) => sign(sender, nonce0 + i, BigInt(i + 1))),
      );
      const stale = await sign(other, otherNonce, 2n);
      const sends = [good[0]!, good[1]!, stale, good[2]!, "0x1234", ...good.slice(3)];
      const batch = [
        ...sends.map((raw, i) => ({
          jsonrpc: "2.0",
          id: i,
          method: "eth_sendRawTransaction",
          params: [raw],
        })),
        { jsonrpc: "2.0", id: 99, method: "eth_chainId", params: [] },
      ];
      const post = async (body: unknown) =>
        (await (
          await fetch(f.rpcUrl, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          })
        ).json()) as { id: number; result?: unknown; error?: { code: number; message: string } }[];
      forwarded.length = 0;
      const answers = await post(batch);
      const byId = new Map(answers.map((a) => [a.id, a]));
      // One request reached the sequencer: the transactions, in the order sent.
      assert.equal(forwarded.length, 1, `${forwarded.length} requests forwarded`);
      assert.deepEqual(
        (forwarded[0] as { method: string; params: string[] }[]).map((r) => [r.method, r.params[0]]),
        sends.map((raw) => ["eth_sendRawTransaction", raw]),
      );
      for (const [i, raw] of sends.entries()) {
        const a = byId.get(i)!;
        if (raw === stale) assert.match(a.error?.message ?? "", /nonce too low/, JSON.stringify(a));
        else if (raw === "0x1234") assert.ok(a.error !== undefined, JSON.stringify(a));
        else assert.equal(a.result, keccak256(raw as Hex), JSON.stringify(a));
      }
      assert.equal(byId.get(99)!.result, `0x${DEV_CHAIN_ID.toString(16)}`);
      // The receipts come from the full node's own state.
      for (const raw of good)
        await waitFor("receipt on the full node", async () => {
          const r = await f.rpc<{ status: Hex } | null>("eth_getTransactionReceipt", [keccak256(raw)]);
          return r?.status === "0x1";
        });
      // With the sequencer down, each transaction is told so, and the rest of the batch is answered.
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
      const down = await post([
        {
          jsonrpc: "2.0",
          id: 1,
          method: "eth_sendRawTransaction",
          params: [await sign(sender, nonce0 + 10, 11n)],
        },
        {
          jsonrpc: "2.0",
          id: 2,
          method: "eth_sendRawTransaction",
          params: [await sign(sender, nonce0 + 11, 12n)],
        },
        { jsonrpc: "2.0", id: 3, method: "eth_chainId", params: [] },
      ]);
      for (const id of [1, 2]) {
        const e = down.find((a) => a.id === id)!.error;
        assert.equal(e?.code, -32002, JSON.stringify(e));
        assert.match(e!.message, new RegExp(`sequencer unreachable at ${proxyUrl}`));
      }
      assert.equal(down.find((a) => a.id === 3)!.result, `0x${DEV_CHAIN_ID.toString(16)}`);
    } finally {
      await f.kill();
      proxy.closeAllConnections();
      proxy.close();
    }
  });

  it("2,000+ mixed transactions (ETH and token transfers, deploys, slot writes and deletes, reverts), a third sent through the full nodes, leave identical blocks, receipts, logs, state and proofs", async (t) => {
    const [a, b] = nodes as [FullnodeProcess, FullnodeProcess];
    const endpoints = [seq.rpcUrl, a.rpcUrl, b.rpcUrl];
    const senders = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
    const startNonces = await Promise.all(
      senders.map(async (s) =>
        Number(
          await rpc<string>(seq.rpcUrl, "eth_getTransactionCount", [
            mnemonicToAccount(DEV_MNEMONIC, { addressIndex: s }).address,
            "pending",
          ]),
        ),
      ),
    );
    const started = Date.now();
    // Senders 0, 1 and 3 of every five go to the sequencer, 2 to full node A, 4 to full node B.
    const w = await mixedWorkload({
      senders,
      startNonces,
      perSender: 205,
      viaOf: (i) => [0, 0, 1, 0, 2][i % 5]!,
    });
    const signed = Date.now();
    assert.ok(w.txs.length >= 2_000);
    const forwarded = w.txs.filter((x) => x.via !== 0).length;
    assert.ok(forwarded >= 600, `${forwarded} forwarded`);
    // Each endpoint gets its share in JSON-RPC batches (handled in order), all three at once.
    const hashes = await Promise.all(
      endpoints.map((url, via) =>
        rpcBatch<Hex>(
          url,
          w.txs
            .filter((x) => x.via === via)
            .map((x) => ({ method: "eth_sendRawTransaction", params: [x.raw] })),
        ),
      ),
    );
    for (const [via, hs] of hashes.entries())
      assert.deepEqual(
        hs,
        w.txs.filter((x) => x.via === via).map((x) => x.hash),
      );
    const sent = Date.now();

    // Wait for every sender's last transaction, then for all three to have sealed its block.
    const lasts = senders.map((s) => w.txs.findLast((x) => x.sender === s)!.hash);
    let head = 0n;
    await waitFor(
      "the last transaction of every sender",
      async () => {
        const rs = await rpcBatch<{ blockNumber: Hex } | null>(
          seq.rpcUrl,
          lasts.map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })),
        );
        if (rs.some((r) => r === null)) return false;
        head = rs.reduce((m, r) => (BigInt(r!.blockNumber) > m ? BigInt(r!.blockNumber) : m), 0n);
        return true;
      },
      60_000,
    );
    for (const url of endpoints)
      await waitFor(`block ${head} verified at ${url}`, async () => (await blockNumber(url)) >= head, 30_000);
    const settled = Date.now();

    const same = async <T>(what: string, calls: { method: string; params: unknown[] }[]): Promise<T[]> => {
      const [x, y, z] = await Promise.all(endpoints.map((url) => rpcBatch<T>(url, calls)));
      for (let i = 0; i < calls.length; i++) {
        const c = `${what}: ${calls[i]!.method} ${JSON.stringify(calls[i]!.params)}`;
        assert.deepEqual(y![i], x![i], `${c} differs on full node A`);
        assert.deepEqual(z![i], x![i], `${c} differs on full node B`);
      }
      return x!;
    };
    const range = Array.from({ length: Number(head) + 1 }, (_, n) => `0x${n.toString(16)}`);
    // Every block, whole (hash, stateRoot, receiptsRoot, logsBloom, transactions…), and its receipts.
    const blocks = await same<{ hash: Hex; transactions: Hex[] }>(
      "blocks",
      range.map((n) => ({ method: "eth_getBlockByNumber", params: [n, false] })),
    );
    const included = new Set(blocks.flatMap((blk) => blk.transactions));
    for (const x of w.txs) assert.ok(included.has(x.hash), `${x.kind} ${x.hash} is in a block`);
    await same(
      "block receipts",
      blocks.map((blk) => ({ method: "eth_getBlockReceipts", params: [blk.hash] })),
    );
    // Every transaction's receipt by hash (the tx-hash index), with the status it must have.
    const receipts = await same<{ status: Hex; contractAddress: Hex | null }>(
      "receipts",
      w.txs.map((x) => ({ method: "eth_getTransactionReceipt", params: [x.hash] })),
    );
    for (const [i, r] of receipts.entries())
      assert.equal(
        r.status,
        w.txs[i]!.kind === "revert" ? "0x0" : "0x1",
        `${w.txs[i]!.kind} ${w.txs[i]!.hash}`,
      );
    // Logs: all of them, and filtered by topic.
    const logs = await same<unknown[]>("logs", [
      { method: "eth_getLogs", params: [{ fromBlock: "0x0", toBlock: range.at(-1) }] },
    ]);
    assert.equal(logs[0]!.length, w.txs.filter((x) => x.kind === "token").length);
    const moved = (logs[0]![0] as { topics: Hex[] }).topics[0];
    await same("logs by topic", [
      { method: "eth_getLogs", params: [{ fromBlock: "0x1", toBlock: range.at(-1), topics: [moved] }] },
    ]);

    // State, settled (nothing else is sent): every touched account and slot, and their proofs.
    const pending = "pending";
    const accounts = w.accounts;
    const balances = await same<Hex>(
      "balances",
      accounts.map((x) => ({ method: "eth_getBalance", params: [x, pending] })),
    );
    const nonces = await same<Hex>(
      "nonces",
      accounts.map((x) => ({ method: "eth_getTransactionCount", params: [x, pending] })),
    );
    const codes = await same<Hex>(
      "code",
      accounts.map((x) => ({ method: "eth_getCode", params: [x, pending] })),
    );
    for (const [i, x] of accounts.entries()) {
      const want = w.recipientBalances.get(x);
      if (want !== undefined) assert.equal(BigInt(balances[i]!), want, `balance of ${x}`);
      const n = w.finalNonces.get(x);
      if (n !== undefined) assert.equal(Number(nonces[i]!), n, `nonce of ${x}`);
      assert.equal(codes[i] !== "0x", w.slots.has(x), `code of ${x}`);
    }
    let zeroed = 0;
    let written = 0;
    for (const [contract, slots] of w.slots) {
      const keys = [...slots.keys()];
      const values = await same<Hex>(
        `storage of ${contract}`,
        keys.map((k) => ({ method: "eth_getStorageAt", params: [contract, k, pending] })),
      );
      for (const [i, k] of keys.entries()) {
        assert.equal(BigInt(values[i]!), slots.get(k), `slot ${k} of ${contract}`);
        if (slots.get(k) === 0n) zeroed++;
        else written++;
      }
    }
    assert.ok(zeroed > 0 && written > 0, `${zeroed} deleted and ${written} live slots`);
    const proofs = await same<{ storageProof: { value: Hex }[] }>(
      "proofs",
      accounts.map((x) => ({
        method: "eth_getProof",
        params: [x, [...(w.slots.get(x)?.keys() ?? [])], "latest"],
      })),
    );
    for (const [i, x] of accounts.entries())
      assert.equal(proofs[i]!.storageProof.length, w.slots.get(x)?.size ?? 0);
    t.diagnostic(
      `${w.txs.length} txs (${forwarded} forwarded), ${head} blocks: signed in ${signed - started} ms, ` +
        `sent in ${sent - signed} ms, all three at the head ${settled - sent} ms later, checked in ${Date.now() - settled} ms`,
    );
  });

  it("a full node killed with -9 while transactions stream in, restarted while they still do, catches up to the sequencer's exact state", async (t) => {
    const a = nodes[0]!;
    const dir = a.dataDir;
    const sender = devKeyAccount(6);
    const recipients = Array.from(
      { length: 5 },
      (_, i) => `0x${(0xbeef1 + i).toString(16).padStart(40, "0")}` as Hex,
    );
    const startNonce = Number(
      await rpc<string>(seq.rpcUrl, "eth_getTransactionCount", [sender.address, "pending"]),
    );
    // A steady stream through the sequencer, one transfer every 20 ms, until told to stop.
    const sent: Hex[] = [];
    let streaming = true;
    const stream = (async () => {
      while (streaming) {
        const i = sent.length;
        const raw = await sender.signTransaction({
          chainId: DEV_CHAIN_ID,
          type: "eip1559",
          to: recipients[i % recipients.length]!,
          value: BigInt(i + 1),
          nonce: startNonce + i,
          gas: 21_000n,
          maxFeePerGas: 10n ** 11n,
          maxPriorityFeePerGas: 0n,
        });
        sent.push(await rpc<Hex>(seq.rpcUrl, "eth_sendRawTransaction", [raw]));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      // Killed once it is applying the stream.
      await waitFor(
        "the node applying the stream",
        async () => sent.length > 10 && (await a.rpc("eth_getTransactionReceipt", [sent[5]])) !== null,
      );
      await a.kill("SIGKILL");
      const atKill = sent.length;
      await new Promise((r) => setTimeout(r, 1500));
      const again = await FullnodeProcess.start(args(dir));
      nodes[0] = again;
      const atRestart = sent.length;
      // Caught up while the stream goes on: it has a transaction sent after it restarted.
      await waitFor("catching up while the stream goes on", async () => {
        const h = sent[atRestart + 20];
        return h !== undefined && (await again.rpc("eth_getTransactionReceipt", [h])) !== null;
      });
      streaming = false;
      await stream;
      assert.ok(atRestart - atKill >= 40, `${atRestart - atKill} sent while it was down`);
      t.diagnostic(`${sent.length} transfers: ${atKill} before the kill, ${atRestart - atKill} while down`);
    } finally {
      streaming = false;
      await stream.catch(() => undefined);
    }
    const again = nodes[0]!;
    assert.ok(
      again.logs().some((l) => l.msg === "loaded store" && Number(l.verifiedBlock) > 0),
      "resumed from its store",
    );
    // Every transfer's block, verified on both: then the same blocks, state roots and balances.
    const last = await (async () => {
      let r: { blockNumber: Hex } | null = null;
      await waitFor("the last transfer sealed", async () => {
        r = await rpc(seq.rpcUrl, "eth_getTransactionReceipt", [sent.at(-1)]);
        return r !== null;
      });
      return BigInt(r!.blockNumber);
    })();
    await waitFor(`block ${last} verified`, async () => (await blockNumber(again.rpcUrl)) >= last);
    const calls = Array.from({ length: Number(last) + 1 }, (_, n) => ({
      method: "eth_getBlockByNumber",
      params: [`0x${n.toString(16)}`, false],
    }));
    const [mine, theirs] = await Promise.all(
      [again.rpcUrl, seq.rpcUrl].map((url) => rpcBatch<{ hash: Hex; stateRoot: Hex }>(url, calls)),
    );
    for (let n = 0; n <= Number(last); n++) {
      assert.equal(mine[n]!.hash, theirs[n]!.hash, `block ${n} hash`);
      assert.equal(mine[n]!.stateRoot, theirs[n]!.stateRoot, `block ${n} state root`);
    }
    const receipts = await rpcBatch<{ blockHash: Hex } | null>(
      again.rpcUrl,
      sent.map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })),
    );
    assert.ok(
      receipts.every((r) => r !== null),
      "every transfer's receipt",
    );
    // Nothing is sent any more: the state at the head is the state after the last transfer.
    const accounts = [...recipients, sender.address];
    const state = (url: string) =>
      rpcBatch<Hex>(url, [
        ...accounts.map((x) => ({ method: "eth_getBalance", params: [x, "latest"] })),
        { method: "eth_getTransactionCount", params: [sender.address, "latest"] },
      ]);
    const [got, want] = await Promise.all([state(again.rpcUrl), state(seq.rpcUrl)]);
    assert.deepEqual(got, want);
    assert.equal(Number(got.at(-1)), startNonce + sent.length);
    const paid = (i: number) =>
      sent.reduce((sum, _, j) => (j % recipients.length === i ? sum + BigInt(j + 1) : sum), 0n);
    for (const [i, r] of recipients.entries()) assert.equal(BigInt(got[i]!), paid(i), `balance of ${r}`);
  });

  it("a new node joins from a verified snapshot", async () => {
    const c = await FullnodeProcess.start([...args(newDir()), "--sync", "snapshot"]);
    nodes.push(c);
    assert.ok(c.logs().some((l) => l.msg === "joined from a verified state snapshot"));
    const head = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
    await waitFor(
      "snapshot node at head",
      async () => BigInt(await c.rpc<string>("eth_blockNumber")) >= head,
    );
    // What the stream of the test before paid it.
    const want = await rpc<Hex>(seq.rpcUrl, "eth_getBalance", [
      "0x00000000000000000000000000000000000beef1",
      "latest",
    ]);
    assert.notEqual(want, "0x0");
    assert.equal(
      await c.rpc("eth_getBalance", ["0x00000000000000000000000000000000000beef1", "latest"]),
      want,
    );
  });

  it("rejects a well-formed mini-block signed by someone other than the sequencer", async () => {
    const b = nodes[1]!;
    const before = await b.rpc<{ appliedMiniBlock: number }>("staccato_status");
    const dir = newDir();
    const rogue = await rogueFor(b, join(dir, "k"));
    const mb = {
      number: BigInt(before.appliedMiniBlock) + 1n,
      blockNumber: 10n ** 6n,
      index: 0,
      parentHash: new Uint8Array(32),
      timestampUs: 1n,
      firstTxIndex: 0,
      firstLogIndex: 0,
      txs: [],
      receipts: [],
      diff: [{ address: new Uint8Array(20).fill(7), flags: 1, balance: 10n ** 30n, storage: [] }],
    };
    const hash = miniBlockHash(mb);
    const signature = signPayload(SigningDomain.miniBlock, DEV_CHAIN_ID, hash, randomPrivateKey());
    await rogue.publish("miniBlock", encodeEnvelope(encodeSignedMiniBlock({ ...mb, hash, signature })));
    await rogue.publish("miniBlock", Uint8Array.of(1, 2, 3, 4)); // garbage
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await b.rpc("eth_getBalance", [`0x${"07".repeat(20)}`, "pending"]), "0x0");
    const health = await fetch(b.rpcUrl.replace(/\/?$/, "/health"));
    assert.equal(health.status, 200);
    await rogue.stop();
  });

  it("a correctly signed mini-block whose diff the block does not confirm is detected, and the node re-syncs", async () => {
    const b = nodes[1]!;
    const dir = newDir();
    const rogue = await rogueFor(b, join(dir, "k"));
    const victim = `0x${"09".repeat(20)}`;
    try {
      const status = await b.rpc<{ appliedMiniBlock: number }>("staccato_status");
      const applied = BigInt(status.appliedMiniBlock);
      const last = await rpc<{ hash: `0x${string}` }>(seq.rpcUrl, "staccato_getMiniBlockByNumber", [
        `0x${applied.toString(16)}`,
      ]);
      // The block after the open one: the open one may be sealed before the forged mini-block
      // arrives, and a mini-block of a block already closed is refused (nothing applied) instead.
      const open = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber")) + 2n;
      const key = Buffer.from(
        readFileSync(join(seq.dataDir, "sequencer.key"), "utf8").trim().replace(/^0x/, ""),
        "hex",
      );
      const forged = {
        number: applied + 1n,
        blockNumber: open,
        index: 0,
        parentHash: Buffer.from(last.hash.slice(2), "hex"),
        timestampUs: BigInt(Date.now()) * 1000n,
        firstTxIndex: 0,
        firstLogIndex: 0,
        txs: [],
        receipts: [],
        diff: [{ address: Buffer.from(victim.slice(2), "hex"), flags: 1, balance: 10n ** 30n, storage: [] }],
      };
      const hash = miniBlockHash(forged);
      const signature = signPayload(SigningDomain.miniBlock, DEV_CHAIN_ID, hash, key);
      await rogue.publish("miniBlock", encodeEnvelope(encodeSignedMiniBlock({ ...forged, hash, signature })));
      // Applied at once (it is signed by the sequencer's key)...
      await waitFor(
        "the forged diff applied",
        async () => BigInt(await b.rpc<string>("eth_getBalance", [victim, "pending"])) > 0n,
        5_000,
      );
      // ...then the sealed block does not confirm it: detected, reported, re-synced.
      await waitFor(
        "mismatch reported",
        async () => b.logs().some((l) => l.msg === "BLOCK DOES NOT VERIFY: stopped applying"),
        10_000,
      );
      await waitFor(
        "re-synced",
        async () => b.logs().some((l) => l.msg === "re-synced from the last verified block"),
        10_000,
      );
    } finally {
      await rogue.stop();
    }
    assert.equal(await b.rpc("eth_getBalance", [victim, "pending"]), "0x0");
    // It follows the real chain again.
    await followsAgain(seq.rpcUrl, b, "0x00000000000000000000000000000000000beef2", 5n);
  });

  it("a correctly signed mini-block that does not extend the chain is detected, and the node re-syncs instead of halting", async () => {
    const b = nodes[1]!;
    const count = (msg: string) => b.logs().filter((l) => l.msg === msg).length;
    const resynced = count("re-synced from the last verified block");
    const rogue = await rogueFor(b, join(newDir(), "k"));
    try {
      const { appliedMiniBlock } = await b.rpc<{ appliedMiniBlock: number }>("staccato_status");
      const open = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber")) + 1n;
      const key = Buffer.from(
        readFileSync(join(seq.dataDir, "sequencer.key"), "utf8").trim().replace(/^0x/, ""),
        "hex",
      );
      // The next number, signed with the sequencer's key, but on another parent.
      const forged = {
        number: BigInt(appliedMiniBlock) + 1n,
        blockNumber: open,
        index: 0,
        parentHash: new Uint8Array(32).fill(0xab),
        timestampUs: BigInt(Date.now()) * 1000n,
        firstTxIndex: 0,
        firstLogIndex: 0,
        txs: [],
        receipts: [],
        diff: [],
      };
      const hash = miniBlockHash(forged);
      const signature = signPayload(SigningDomain.miniBlock, DEV_CHAIN_ID, hash, key);
      await rogue.publish("miniBlock", encodeEnvelope(encodeSignedMiniBlock({ ...forged, hash, signature })));
      await waitFor(
        "the break in the chain reported",
        async () => count("mini-block does not extend the chain") > 0,
        5_000,
      );
      await waitFor(
        "re-synced",
        async () => count("re-synced from the last verified block") > resynced,
        10_000,
      );
    } finally {
      await rogue.stop();
    }
    // It follows the sequencer's chain again, healthy.
    await followsAgain(seq.rpcUrl, b, "0x00000000000000000000000000000000000beef3", 7n);
  });
});

/**
 * After a recovery: a transfer sent through the sequencer reaches `node`, which verifies up to
 * the sequencer's head with the same block hash and reports itself healthy.
 */
async function followsAgain(
  seqRpc: string,
  node: FullnodeProcess,
  to: `0x${string}`,
  value: bigint,
): Promise<void> {
  const wallet = createWalletClient({
    chain: devChain(seqRpc),
    transport: http(seqRpc),
    account: mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 8 }),
  });
  const tx = await wallet.sendTransaction({ to, value });
  await waitFor(
    "the node to follow again",
    async () => (await node.rpc<unknown>("eth_getTransactionReceipt", [tx])) !== null,
  );
  const head = BigInt(await rpc<string>(seqRpc, "eth_blockNumber"));
  await waitFor("verified to head", async () => BigInt(await node.rpc<string>("eth_blockNumber")) >= head);
  const h = `0x${head.toString(16)}`;
  assert.equal(
    (await node.rpc<{ hash: string }>("eth_getBlockByNumber", [h, false])).hash,
    (await rpc<{ hash: string }>(seqRpc, "eth_getBlockByNumber", [h, false])).hash,
  );
  assert.equal(await node.health(), 200);
}
