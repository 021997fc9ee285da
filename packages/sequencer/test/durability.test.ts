import assert from "node:assert/strict";
import { appendFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ArchivePrefix, archiveKey, u64 } from "@staccato/common";
import { ClassicLevel } from "classic-level";
import {
  type Abi,
  type Hex,
  type TransactionSerializable,
  decodeFunctionResult,
  encodeFunctionData,
  getContractAddress,
  keccak256,
  numberToHex,
  parseGwei,
} from "viem";
import {
  DEV_BALANCE,
  DEV_CHAIN_ID,
  ZERO_HASH,
  devAccount,
  devKeyAccount,
  freshAddress,
} from "./helpers/devChain.ts";
import {
  type RawBlock,
  type RawLog,
  type RawReceipt,
  rpc,
  rpcBatch,
  sealedReceipt,
  waitFor,
} from "./helpers/rpcClient.ts";
import { SequencerProcess, sleep } from "./helpers/sequencerProcess.ts";
import { compileSolidity } from "./helpers/solidity.ts";

/**
 * `kill -9` in the middle of a stream of transactions, then a restart on the same data dir:
 * every receipt that was served comes back identical, balances and nonces add up, numbering and
 * nonces continue. Then a torn record at the end of the write-ahead log is dropped cleanly.
 */

const SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
contract Ledger {
    mapping(address => uint256) public total;
    uint256 public entries;
    event Entry(address indexed from, uint256 indexed seq, uint256 amount);
    function record(uint256 amount) external {
        total[msg.sender] += amount;
        entries += 1;
        emit Entry(msg.sender, entries, amount);
    }
}
`;

const SENDERS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const PER_SENDER = 40;
const DEPLOYER = 11;
const FEES = { maxFeePerGas: parseGwei("5"), maxPriorityFeePerGas: parseGwei("0.001") };
/** The fields a receipt must keep across a crash (blockHash is checked separately). */
const KEPT = [
  "transactionHash",
  "transactionIndex",
  "blockNumber",
  "from",
  "to",
  "cumulativeGasUsed",
  "gasUsed",
  "effectiveGasPrice",
  "contractAddress",
  "logs",
  "logsBloom",
  "type",
  "status",
] as const;

interface PlannedTx {
  sender: number;
  nonce: number;
  raw: Hex;
  hash: Hex;
  /** A transfer (value to `to`) or a Ledger.record(amount) call. */
  kind: "transfer" | "record";
  to: Hex;
  value: bigint;
  amount: bigint;
}

let seq: SequencerProcess;
let abi: Abi;
let ledger: Hex;
const recipients = Array.from({ length: 5 }, () => freshAddress().toLowerCase() as Hex);
/** Every receipt the node served before the crash, by tx hash. */
const served = new Map<Hex, RawReceipt>();
const plan: PlannedTx[] = [];
/** Each sender's next nonce once the kill -9 part is done. */
const finalNonces = new Map<number, number>();

before(async () => {
  // Compile while the node starts; `seq` is set even if compiling fails, so `after` stops it.
  const starting = SequencerProcess.start();
  let bytecode: Hex;
  try {
    const compiled = compileSolidity({ "Ledger.sol": SOURCE }).Ledger!;
    abi = compiled.abi;
    bytecode = compiled.bytecode;
  } finally {
    seq = await starting;
  }
  const deployer = devKeyAccount(DEPLOYER);
  const deploy = await deployer.signTransaction({
    chainId: DEV_CHAIN_ID,
    type: "eip1559",
    nonce: 0,
    gas: 1_000_000n,
    data: bytecode,
    ...FEES,
  } as TransactionSerializable);
  const r = await rpc<RawReceipt>(seq.rpcUrl, "eth_sendRawTransactionSync", [deploy]);
  assert.equal(r.status, "0x1");
  ledger = r.contractAddress as Hex;
  assert.equal(ledger, getContractAddress({ from: deployer.address, nonce: 0n }).toLowerCase());
  served.set(r.transactionHash as Hex, r);

  for (const sender of SENDERS) {
    const acct = devKeyAccount(sender);
    for (let nonce = 0; nonce < PER_SENDER; nonce++) {
      const isRecord = (nonce + sender) % 3 === 0;
      const to = isRecord ? ledger : recipients[(nonce * 7 + sender) % recipients.length]!;
      const amount = BigInt(sender * 1000 + nonce);
      const value = isRecord ? 0n : amount;
      const raw = await acct.signTransaction({
        chainId: DEV_CHAIN_ID,
        type: "eip1559",
        nonce,
        to,
        value,
        gas: isRecord ? 150_000n : 21_000n,
        data: isRecord ? encodeFunctionData({ abi, functionName: "record", args: [amount] }) : undefined,
        ...FEES,
      } as TransactionSerializable);
      plan.push({
        sender,
        nonce,
        raw,
        hash: keccak256(raw),
        kind: isRecord ? "record" : "transfer",
        to,
        value,
        amount,
      });
    }
  }
});

after(async () => {
  await seq?.stop();
  await seq?.cleanup();
});

/** Compares a receipt after the restart with the one served before it. */
function assertSameReceipt(now: RawReceipt | null, before: RawReceipt, what: string): void {
  assert.ok(
    now !== null,
    `${what}: receipt ${before.transactionHash} was served before the crash and is gone`,
  );
  const pick = (r: RawReceipt) => ({
    ...Object.fromEntries(KEPT.map((k) => [k, r[k]])),
    logs: r.logs.map((l) => ({ ...l, blockHash: "-" })),
  });
  assert.deepEqual(pick(now), pick(before), `${what}: receipt of ${before.transactionHash} changed`);
  if (before.blockHash !== ZERO_HASH)
    assert.equal(now.blockHash, before.blockHash, `${what}: block hash changed`);
}

async function receipts(url: string, hashes: Hex[]): Promise<(RawReceipt | null)[]> {
  const out: (RawReceipt | null)[] = [];
  for (let i = 0; i < hashes.length; i += 500) {
    const rs = await rpcBatch(
      url,
      hashes.slice(i, i + 500).map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })),
    );
    out.push(...rs.map((r) => (r.result ?? null) as RawReceipt | null));
  }
  return out;
}

/**
 * What the chain must hold given which planned transactions were included: nonces, balances of
 * senders and recipients, and the Ledger's counters.
 */
async function checkState(url: string, tag: "latest" | "pending"): Promise<Map<number, number>> {
  const included = await receipts(
    url,
    plan.map((p) => p.hash),
  );
  const nextNonce = new Map<number, number>();
  const spent = new Map<number, bigint>();
  const received = new Map<Hex, bigint>();
  const recorded = new Map<number, bigint>();
  let entries = 0n;
  for (const sender of SENDERS) {
    const mine = plan.filter((p) => p.sender === sender);
    const got = mine.map((p) => included[plan.indexOf(p)]);
    const k = got.indexOf(null);
    const count = k === -1 ? got.length : k;
    // Included transactions of a sender are a prefix of its nonces: no gaps.
    assert.ok(
      got.slice(count).every((r) => r === null),
      `sender ${sender}: a transaction after nonce ${count} is included while nonce ${count} is not`,
    );
    nextNonce.set(sender, count);
    let cost = 0n;
    for (const [j, r] of got.slice(0, count).entries()) {
      const p = mine[j]!;
      assert.equal(r!.status, "0x1", `sender ${sender} nonce ${p.nonce} failed`);
      cost += p.value + BigInt(r!.gasUsed) * BigInt(r!.effectiveGasPrice);
      if (p.kind === "transfer") received.set(p.to, (received.get(p.to) ?? 0n) + p.value);
      else {
        recorded.set(sender, (recorded.get(sender) ?? 0n) + p.amount);
        entries++;
      }
    }
    spent.set(sender, cost);
  }
  const calls = [
    ...SENDERS.map((s) => ({ method: "eth_getTransactionCount", params: [devAccount(s).address, tag] })),
    ...SENDERS.map((s) => ({ method: "eth_getBalance", params: [devAccount(s).address, tag] })),
    ...recipients.map((a) => ({ method: "eth_getBalance", params: [a, tag] })),
    ...SENDERS.map((s) => ({
      method: "eth_call",
      params: [
        {
          to: ledger,
          data: encodeFunctionData({ abi, functionName: "total", args: [devAccount(s).address] }),
        },
        tag,
      ],
    })),
    {
      method: "eth_call",
      params: [{ to: ledger, data: encodeFunctionData({ abi, functionName: "entries" }) }, tag],
    },
  ];
  const out = await rpcBatch(url, calls);
  for (const r of out) assert.equal(r.error, undefined, JSON.stringify(r.error));
  const n = SENDERS.length;
  SENDERS.forEach((s, j) => {
    assert.equal(
      BigInt(out[j]!.result as string),
      BigInt(nextNonce.get(s)!),
      `nonce of sender ${s} (${tag})`,
    );
    assert.equal(
      BigInt(out[n + j]!.result as string),
      DEV_BALANCE - spent.get(s)!,
      `balance of sender ${s} (${tag})`,
    );
    const total = decodeFunctionResult({
      abi,
      functionName: "total",
      data: out[2 * n + recipients.length + j]!.result as Hex,
    });
    assert.equal(total, recorded.get(s) ?? 0n, `Ledger.total of sender ${s} (${tag})`);
  });
  recipients.forEach((a, j) => {
    assert.equal(
      BigInt(out[2 * n + j]!.result as string),
      received.get(a) ?? 0n,
      `balance of recipient ${a} (${tag})`,
    );
  });
  assert.equal(
    decodeFunctionResult({ abi, functionName: "entries", data: out[out.length - 1]!.result as Hex }),
    entries,
    `Ledger.entries (${tag})`,
  );
  return nextNonce;
}

/** Every block from 1 to `latest` is there and links to its parent. */
async function checkChainLinks(url: string): Promise<RawBlock[]> {
  const latest = BigInt(await rpc<string>(url, "eth_blockNumber"));
  const blocks = (
    await rpcBatch(
      url,
      Array.from({ length: Number(latest) + 1 }, (_, n) => ({
        method: "eth_getBlockByNumber",
        params: [numberToHex(n), false],
      })),
    )
  ).map((r) => r.result as RawBlock);
  for (let n = 1; n < blocks.length; n++) {
    assert.ok(blocks[n] !== null, `block ${n} is missing`);
    assert.equal(blocks[n]!.parentHash, blocks[n - 1]!.hash, `block ${n} does not link to block ${n - 1}`);
    assert.equal(BigInt(blocks[n]!.number), BigInt(n));
  }
  return blocks;
}

describe("durability / kill -9 mid-stream", () => {
  let crashedAt: bigint;

  it("streams transactions from 10 senders and is killed with SIGKILL halfway", async () => {
    let stop = false;
    const streams = SENDERS.map(async (sender) => {
      for (const p of plan.filter((x) => x.sender === sender)) {
        if (stop) return;
        try {
          const r = await rpc<RawReceipt>(seq.rpcUrl, "eth_sendRawTransactionSync", [p.raw]);
          served.set(p.hash, r);
        } catch {
          return; // the node is gone
        }
      }
    });
    await waitFor(
      "half of the stream",
      async () => (served.size >= (SENDERS.length * PER_SENDER) / 2 ? true : undefined),
      30_000,
      5,
    );
    // Something is in flight from most senders at this moment.
    const status = await seq.kill9();
    stop = true;
    assert.equal(status.signal, "SIGKILL");
    await Promise.all(streams);
    crashedAt = [...served.values()].reduce(
      (m, r) => (BigInt(r.blockNumber) > m ? BigInt(r.blockNumber) : m),
      0n,
    );
    assert.ok(served.size >= (SENDERS.length * PER_SENDER) / 2);
    assert.ok(served.size < SENDERS.length * PER_SENDER, "the crash came before the stream ended");
    const records = [...served.values()].filter((r) => r.logs.length === 1).length;
    assert.ok(records > 0, "some contract logs were served");
  });

  it("restarts on the same data dir with every served receipt unchanged", async () => {
    seq = await seq.restart();
    const replayed = seq.logs().find((l) => l.msg === "replayed write-ahead log");
    assert.ok(replayed !== undefined, "the restart replays the write-ahead log");
    const hashes = [...served.keys()];
    const now = await receipts(seq.rpcUrl, hashes);
    for (const [i, h] of hashes.entries()) assertSameReceipt(now[i]!, served.get(h)!, "after kill -9");
    // Once sealed, the receipts still agree, now with their real block hashes.
    for (const h of hashes.slice(-5))
      assertSameReceipt(await sealedReceipt(seq.rpcUrl, h), served.get(h)!, "sealed after restart");
  });

  it("balances, nonces and contract storage add up; logs are all there; the chain links up", async (t) => {
    // Wait until everything replayed (served or not) is sealed, so `latest` covers it.
    const replayedTxs = (
      await receipts(
        seq.rpcUrl,
        plan.map((p) => p.hash),
      )
    ).filter((r) => r !== null);
    t.diagnostic(
      `${served.size} receipts served before the crash; ${replayedTxs.length} planned transactions in the chain after it`,
    );
    const lastBlock = replayedTxs.reduce(
      (m, r) => (BigInt(r.blockNumber) > m ? BigInt(r.blockNumber) : m),
      crashedAt,
    );
    await waitFor("the replayed blocks sealed", async () =>
      BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber")) >= lastBlock ? true : undefined,
    );
    const pendingNonces = await checkState(seq.rpcUrl, "pending");
    const latestNonces = await checkState(seq.rpcUrl, "latest");
    assert.deepEqual(latestNonces, pendingNonces);
    for (const [sender, n] of pendingNonces) {
      const servedCount = plan.filter((p) => p.sender === sender && served.has(p.hash)).length;
      assert.ok(n >= servedCount, `sender ${sender}: ${servedCount} receipts served but nonce is ${n}`);
    }

    const logs = await rpc<RawLog[]>(seq.rpcUrl, "eth_getLogs", [
      { fromBlock: "0x1", toBlock: "latest", address: ledger },
    ]);
    const included = await receipts(
      seq.rpcUrl,
      plan.map((p) => p.hash),
    );
    const fromReceipts = included.flatMap((r) => r?.logs ?? []);
    assert.equal(logs.length, fromReceipts.length);
    const key = (l: RawLog) => `${l.transactionHash}/${l.logIndex}`;
    assert.deepEqual(logs.map(key).sort(), fromReceipts.map(key).sort());
    // Entry.seq (topic 2) numbers the records 1..n in chain order.
    assert.deepEqual(
      logs.map((l) => BigInt(l.topics[2]!)),
      logs.map((_, i) => BigInt(i + 1)),
    );
    await checkChainLinks(seq.rpcUrl);
  });

  it("numbering and nonces continue: new transactions from every sender run after the restart", async () => {
    const before = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
    const nonces = await checkState(seq.rpcUrl, "pending");
    const results = await Promise.all(
      SENDERS.map(async (s) => {
        const raw = await devKeyAccount(s).signTransaction({
          chainId: DEV_CHAIN_ID,
          type: "eip1559",
          nonce: nonces.get(s)!,
          to: freshAddress(),
          value: 1n,
          gas: 21_000n,
          ...FEES,
        } as TransactionSerializable);
        return rpc<RawReceipt>(seq.rpcUrl, "eth_sendRawTransactionSync", [raw]);
      }),
    );
    for (const r of results) {
      assert.equal(r.status, "0x1");
      assert.ok(BigInt(r.blockNumber) > before);
    }
    for (const [sender, n] of nonces) finalNonces.set(sender, n + 1);
    await sealedReceipt(seq.rpcUrl, results[0]!.transactionHash);
    await checkChainLinks(seq.rpcUrl);
  });
});

describe("durability / torn write-ahead log tail", () => {
  it("drops garbage appended to the write-ahead log's last segment, logs it, and keeps everything before it", async () => {
    // A few more receipts, then a clean stop so the log ends on a whole record.
    const extra: RawReceipt[] = [];
    for (let k = 0; k < 3; k++) {
      const raw = await devKeyAccount(12).signTransaction({
        chainId: DEV_CHAIN_ID,
        type: "eip1559",
        nonce: k,
        to: freshAddress(),
        value: 1n,
        gas: 21_000n,
        ...FEES,
      } as TransactionSerializable);
      extra.push(await rpc<RawReceipt>(seq.rpcUrl, "eth_sendRawTransactionSync", [raw]));
    }
    const lastBlockBefore = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
    await seq.kill9();

    const segments = readdirSync(join(seq.dataDir, "wal")).sort();
    const wal = join(seq.dataDir, "wal", segments.at(-1)!);
    assert.ok(statSync(wal).size > 0);
    // A torn record: a plausible header promising more bytes than follow, then junk.
    const garbage = Buffer.concat([
      Buffer.from([0x00, 0x00, 0x10, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x02]),
      Buffer.alloc(37, 0xa5),
    ]);
    appendFileSync(wal, garbage);

    seq = await seq.restart();
    const dropped = seq
      .logs()
      .find((l) => l.msg === "dropped a torn record at the end of the write-ahead log");
    assert.ok(dropped !== undefined, `the restart logs the dropped tail; output:\n${seq.output()}`);
    assert.equal(dropped.droppedBytes, garbage.length);
    assert.equal(dropped.level, 40);

    for (const r of [...served.values(), ...extra]) {
      assertSameReceipt(
        await rpc<RawReceipt | null>(seq.rpcUrl, "eth_getTransactionReceipt", [r.transactionHash]),
        r,
        "after the torn tail",
      );
    }
    assert.ok(BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber")) >= lastBlockBefore);

    // New records follow the valid ones: a transaction after this restart survives the next one.
    const raw = await devKeyAccount(12).signTransaction({
      chainId: DEV_CHAIN_ID,
      type: "eip1559",
      nonce: 3,
      to: freshAddress(),
      value: 1n,
      gas: 21_000n,
      ...FEES,
    } as TransactionSerializable);
    const after = await rpc<RawReceipt>(seq.rpcUrl, "eth_sendRawTransactionSync", [raw]);
    assert.equal(after.status, "0x1");
    await sleep(50);
    await seq.kill9();
    seq = await seq.restart();
    assert.equal(
      seq.logs().find((l) => l.msg === "dropped a torn record at the end of the write-ahead log"),
      undefined,
    );
    assertSameReceipt(
      await rpc<RawReceipt | null>(seq.rpcUrl, "eth_getTransactionReceipt", [after.transactionHash]),
      after,
      "after a second restart",
    );
    assert.equal(
      await rpc(seq.rpcUrl, "eth_getTransactionCount", [devAccount(12).address, "pending"]),
      "0x4",
    );
    await checkChainLinks(seq.rpcUrl);
    // Every sender's nonce is where the first part left it.
    const counts = await rpcBatch(
      seq.rpcUrl,
      SENDERS.map((s) => ({ method: "eth_getTransactionCount", params: [devAccount(s).address, "pending"] })),
    );
    assert.deepEqual(
      counts.map((c) => Number(c.result)),
      SENDERS.map((s) => finalNonces.get(s)),
    );
  });
});

describe("durability / graceful stop with a full pool", () => {
  // Long mini-block and block intervals: whatever is sent waits in the pool, ready, when the stop
  // comes. With the drain, every accepted transaction is sealed before the process exits. With
  // --stop-drain-ms 0 nothing is sealed at the stop: the pool journal keeps the transactions, ready
  // ones and ones waiting for an earlier nonce, and the restarted sequencer seals them; with
  // --no-txpool-journal too (the control), the same situation loses them.
  const cases = [
    { drainMs: 5_000, journal: true, title: "all sealed before exit" },
    {
      drainMs: 0,
      journal: true,
      title: "kept in the pool journal with --stop-drain-ms 0, sealed after the restart",
    },
    { drainMs: 0, journal: false, title: "dropped with --stop-drain-ms 0 --no-txpool-journal" },
  ];
  for (const { drainMs, journal, title } of cases) {
    it(`SIGTERM right after 300 transfers were accepted: ${title}`, async () => {
      const args = ["--mini-block-ms", "3000", "--block-ms", "6000", "--stop-drain-ms", String(drainMs)];
      if (!journal) args.push("--no-txpool-journal");
      let seq = await SequencerProcess.start({ args });
      try {
        const senders = [15, 16, 17];
        const raws: Hex[] = [];
        const sign = async (i: number, nonce: number) =>
          devKeyAccount(i).signTransaction({
            chainId: DEV_CHAIN_ID,
            type: "eip1559",
            nonce,
            to: freshAddress(),
            value: 1n,
            gas: 21_000n,
            maxFeePerGas: parseGwei("20"),
            maxPriorityFeePerGas: parseGwei("0.001"),
          } as TransactionSerializable);
        const nextNonce = async (i: number) =>
          Number(
            await rpc<Hex>(seq.rpcUrl, "eth_getTransactionCount", [devKeyAccount(i).address, "pending"]),
          );
        for (const i of senders) {
          const start = await nextNonce(i);
          for (let n = 0; n < 100; n++) raws.push(await sign(i, start + n));
        }
        // Sender 18's next two nonces, sent ahead of the one they wait for.
        const waiter = 18;
        const waiterStart = await nextNonce(waiter);
        const waiting = [await sign(waiter, waiterStart + 1), await sign(waiter, waiterStart + 2)];
        const out = await rpcBatch(
          seq.rpcUrl,
          [...raws, ...waiting].map((raw) => ({ method: "eth_sendRawTransaction", params: [raw] })),
        );
        assert.ok(
          out.every((r) => r.error === undefined),
          JSON.stringify(out.find((r) => r.error)),
        );
        const status = await rpc<{ readyTxs: number }>(seq.rpcUrl, "staccato_status");
        assert.ok(
          status.readyTxs > 0,
          `the transfers are still waiting in the pool (${status.readyTxs} ready)`,
        );

        const exit = await seq.stop();
        assert.equal(exit.code, 0);
        const stopLogs = seq.logs().filter((l) => String(l.msg).startsWith("stopping:"));
        seq = await seq.restart();
        const receiptsOf = async (txs: Hex[]) =>
          rpcBatch(
            seq.rpcUrl,
            txs.map((raw) => ({ method: "eth_getTransactionReceipt", params: [keccak256(raw)] })),
          );
        if (!journal) {
          const found = (await receiptsOf(raws)).filter((r) => r.result !== null).length;
          assert.ok(found < raws.length, `the control lost nothing (${found} of ${raws.length} found)`);
          assert.deepEqual(
            stopLogs.map((l) => [l.msg, l.dropped]),
            [["stopping: dropped the pool's unsealed transactions (--no-txpool-journal)", raws.length + 2]],
          );
          return;
        }
        const kept = drainMs > 0 ? 2 : raws.length + 2;
        assert.deepEqual(
          stopLogs.map((l) => [l.msg, l.txs]),
          [
            ...(drainMs > 0 ? [["stopping: sealed the pool's ready transactions", undefined]] : []),
            ["stopping: kept the pool's unsealed transactions in the pool journal", kept],
          ],
        );
        const restored = seq.logs().find((l) => l.msg === "restored the pool journal");
        assert.equal(restored?.restored, kept, JSON.stringify(restored));
        // The gap is filled after the restart: sender 18's waiting transactions run behind it.
        const filler = await sign(waiter, waiterStart);
        await rpc(seq.rpcUrl, "eth_sendRawTransaction", [filler]);
        for (const raw of [...raws, filler, ...waiting])
          await sealedReceipt(seq.rpcUrl, keccak256(raw), 20_000);
        for (const i of senders) {
          const nonce = await rpc<Hex>(seq.rpcUrl, "eth_getTransactionCount", [
            devKeyAccount(i).address,
            "pending",
          ]);
          assert.equal(Number(nonce), 100, `sender ${i}'s nonce after the restart`);
        }
        assert.equal(await nextNonce(waiter), waiterStart + 3);
      } finally {
        await seq.cleanup();
      }
    });
  }
});

describe("durability / a long chain on a bounded footprint", () => {
  it("old write-ahead log segments are deleted once a snapshot and the history store cover them; SIGKILL and a restart keep every receipt and balance", async () => {
    let node = await SequencerProcess.start({
      args: [
        "--block-ms",
        "50",
        "--snapshot-interval",
        "20",
        "--wal-segment-mb",
        "1",
        "--block-cache",
        "257",
      ],
    });
    try {
      const receipts: RawReceipt[] = [];
      const to = freshAddress();
      const account = devKeyAccount(14);
      // Past 300 blocks, so the first blocks leave memory and several segments and snapshots pass.
      let first = 0n;
      for (let nonce = 0; ; nonce++) {
        const raw = await account.signTransaction({
          chainId: DEV_CHAIN_ID,
          type: "eip1559",
          nonce,
          to,
          value: 1n,
          // Four kilobytes of data each: segments fill faster.
          data: `0x${"ab".repeat(4096)}`,
          gas: 300_000n,
          ...FEES,
        } as TransactionSerializable);
        const r = await rpc<RawReceipt>(node.rpcUrl, "eth_sendRawTransactionSync", [raw]);
        receipts.push(r);
        if (first === 0n) first = BigInt(r.blockNumber);
        if (BigInt(r.blockNumber) - first > 320 && nonce > 400) break;
      }
      const deleted = await waitFor(
        "a segment deleted",
        async () =>
          node
            .logs()
            .find(
              (l) => l.msg === "deleted write-ahead log segments covered by a snapshot and the history store",
            ),
        20_000,
      );
      assert.ok(Number(deleted.segments) >= 1);
      const segments = readdirSync(join(node.dataDir, "wal")).sort();
      assert.notEqual(segments[0], "000000000001.wal", "the first segment is gone");
      const total = BigInt(receipts.length);
      await node.kill9();
      node = await node.restart();
      for (const r of receipts.filter((_, i) => i % 17 === 0 || i === receipts.length - 1)) {
        const again = await rpc<RawReceipt>(node.rpcUrl, "eth_getTransactionReceipt", [r.transactionHash]);
        for (const k of KEPT) assert.deepEqual(again[k], r[k], `${k} of ${r.transactionHash}`);
      }
      assert.equal(await rpc(node.rpcUrl, "eth_getBalance", [to, "latest"]), numberToHex(total));
      assert.equal(
        await rpc(node.rpcUrl, "eth_getTransactionCount", [account.address, "latest"]),
        numberToHex(total),
      );
      // It keeps going: a new transaction after the restart.
      const raw = await account.signTransaction({
        chainId: DEV_CHAIN_ID,
        type: "eip1559",
        nonce: receipts.length,
        to,
        value: 1n,
        gas: 21_000n,
        ...FEES,
      } as TransactionSerializable);
      assert.equal((await rpc<RawReceipt>(node.rpcUrl, "eth_sendRawTransactionSync", [raw])).status, "0x1");
    } finally {
      await node.cleanup();
    }
  });
});

describe("durability / witnesses a crash lost", () => {
  it("a restart records again the witness of every sealed block the crash left without one, empty blocks too, byte for byte", async () => {
    let node = await SequencerProcess.start({ args: ["--block-ms", "100"] });
    try {
      const raw = await devKeyAccount(15).signTransaction({
        chainId: DEV_CHAIN_ID,
        type: "eip1559",
        nonce: 0,
        to: freshAddress(),
        value: 1n,
        gas: 21_000n,
        ...FEES,
      } as TransactionSerializable);
      const withTx = BigInt(
        (await rpc<RawReceipt>(node.rpcUrl, "eth_sendRawTransactionSync", [raw])).blockNumber,
      );
      // Two empty blocks sealed after it.
      const empty = withTx + 2n;
      const block = await waitFor(
        "two blocks sealed after the transfer's",
        async () => {
          const b = await rpc<RawBlock | null>(node.rpcUrl, "eth_getBlockByNumber", [
            numberToHex(empty),
            false,
          ]);
          return b?.hash ? b : undefined;
        },
        10_000,
      );
      assert.equal(block.transactions.length, 0);
      type Witness = { state: Hex[]; codes: Hex[]; keys: Hex[]; headers: Hex[] };
      const lost = [withTx, empty];
      const before = await Promise.all(
        lost.map((n) => rpc<Witness>(node.rpcUrl, "debug_executionWitness", [numberToHex(n)])),
      );
      await node.kill9();

      // What a kill between a block's seal reaching the log and its witness reaching the history
      // database leaves behind: the seal without the witness.
      const db = new ClassicLevel<Uint8Array, Uint8Array>(join(node.dataDir, "history"), {
        keyEncoding: "view",
        valueEncoding: "view",
      });
      for (const n of lost) {
        const key = archiveKey(ArchivePrefix.witness, u64(n));
        assert.notEqual(await db.get(key), undefined);
        await db.del(key);
      }
      await db.close();

      node = await node.restart();
      const recorded = node.logs().find((l) => l.msg === "recorded witnesses lost in the crash");
      assert.ok(recorded !== undefined, `the restart says what it recorded again; output:\n${node.output()}`);
      // (The kill may have caught a newer block's witness on its way to disk too.)
      for (const n of lost) assert.ok((recorded.blocks as number[]).includes(Number(n)), `block ${n}`);
      const after = await Promise.all(
        lost.map((n) => rpc<Witness>(node.rpcUrl, "debug_executionWitness", [numberToHex(n)])),
      );
      assert.deepEqual(after, before);
    } finally {
      await node.cleanup();
    }
  });
});
