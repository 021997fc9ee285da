import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type Hex,
  type PublicClient,
  createPublicClient,
  createWalletClient,
  encodeAbiParameters,
  encodeFunctionData,
  getAddress,
  getContractAddress,
  http,
  keccak256,
  parseAbi,
  toHex,
} from "viem";
import { devAccount, devChain, freshAddress } from "../../sequencer/test/helpers/devChain.ts";
import { rpc, rpcRaw } from "../../sequencer/test/helpers/rpcClient.ts";
import { SequencerProcess, sleep } from "../../sequencer/test/helpers/sequencerProcess.ts";
import { compileSolidity } from "../../sequencer/test/helpers/solidity.ts";
import { FullnodeProcess, TempDirs, fullnodeArgs, killAllFullnodes } from "./helpers/fullnodeProcess.ts";

/**
 * Otterscan pointed at a full node (issue 17): the ots_* methods and erigon_getHeaderByNumber
 * answer in the shapes Otterscan reads (its src/useErigonHooks.ts and src/search/search.ts), on a
 * chain with internal transfers and contract creations. The sequencer serves the same block and
 * trace methods and refuses the address searches, naming the full node; and its txpool_* methods.
 */

const SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
contract Kid { constructor() payable {} }
contract Factory {
    event Made(address kid);
    function make(bytes32 salt) external payable returns (address k) {
        k = address(new Kid{salt: salt, value: msg.value}());
        emit Made(k);
    }
    function split(address payable a, address payable b) external payable {
        a.transfer(msg.value / 2);
        b.transfer(msg.value - msg.value / 2);
    }
    function boom() external pure { revert("factory says no"); }
}`;
const ABI = parseAbi([
  "function make(bytes32 salt) payable returns (address)",
  "function split(address a, address b) payable",
  "function boom()",
]);

let seq: SequencerProcess;
let fullnode: FullnodeProcess;
const dirs = new TempDirs();
let pub: PublicClient;
let factory: Hex;
let kidCode: { bytecode: Hex };
const user = devAccount(5);
const sent: { hash: Hex; block: bigint; nonce: number }[] = [];
let splitTx: Hex;
let makeTx: Hex;
let boomTx: Hex;
let payA: Hex;
let payB: Hex;
let kid: Hex;
let deployTx: Hex;

async function send(to: Hex | undefined, data: Hex, value = 0n, gas = 1_000_000n): Promise<Hex> {
  const wallet = createWalletClient({ chain: devChain(seq.rpcUrl), transport: http(), account: user });
  const nonce = await pub.getTransactionCount({ address: user.address, blockTag: "pending" });
  const hash = await wallet.sendTransaction({ to, data, value, gas, nonce, chain: null, account: user });
  const r = await pub.waitForTransactionReceipt({ hash, pollingInterval: 20 });
  sent.push({ hash, block: r.blockNumber, nonce });
  return hash;
}

async function fullnodeAt(block: bigint): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (BigInt(await rpc<string>(fullnode.rpcUrl, "eth_blockNumber")) >= block) return;
    await sleep(20);
  }
  throw new Error(`full node did not reach block ${block}`);
}

before(async () => {
  const starting = SequencerProcess.start({ startTimeoutMs: 120_000 });
  let c: ReturnType<typeof compileSolidity>;
  try {
    c = compileSolidity({ "Factory.sol": SOURCE });
  } finally {
    seq = await starting;
  }
  kidCode = c.Kid!;
  fullnode = await FullnodeProcess.start(fullnodeArgs(seq, dirs.make()), 120_000);
  pub = createPublicClient({ chain: devChain(seq.rpcUrl), transport: http(), pollingInterval: 20 });
  deployTx = await send(undefined, c.Factory!.bytecode);
  factory = (await pub.getTransactionReceipt({ hash: deployTx })).contractAddress!.toLowerCase() as Hex;
  payA = freshAddress().toLowerCase() as Hex;
  payB = freshAddress().toLowerCase() as Hex;
  splitTx = await send(
    factory,
    encodeFunctionData({ abi: ABI, functionName: "split", args: [payA, payB] }),
    1000n,
  );
  const salt = keccak256("0x07");
  makeTx = await send(factory, encodeFunctionData({ abi: ABI, functionName: "make", args: [salt] }), 5n);
  kid = getContractAddress({
    opcode: "CREATE2",
    from: factory,
    salt,
    bytecode: kidCode.bytecode,
  }).toLowerCase() as Hex;
  boomTx = await send(factory, encodeFunctionData({ abi: ABI, functionName: "boom" }), 0n, 100_000n);
  await fullnodeAt(sent.at(-1)!.block);
  // Let the index write the last block (it follows verification).
  await sleep(300);
});

after(async () => {
  await fullnode?.kill();
  await killAllFullnodes();
  await seq?.stop();
  await seq?.cleanup();
  dirs.cleanup();
});

describe("otterscan / on a full node", () => {
  it("ots_getApiLevel is 8, erigon_getHeaderByNumber answers a header for a number or `latest`", async () => {
    assert.equal(await rpc(fullnode.rpcUrl, "ots_getApiLevel"), 8);
    const n = Number(sent[0]!.block);
    const h = await rpc<Record<string, unknown>>(fullnode.rpcUrl, "erigon_getHeaderByNumber", [n]);
    const b = await rpc<Record<string, unknown>>(fullnode.rpcUrl, "eth_getBlockByNumber", [toHex(n), false]);
    assert.equal(h.hash, b.hash);
    assert.equal(h.number, toHex(n));
    assert.equal(h.transactions, undefined);
    const latest = await rpc<{ number: string }>(fullnode.rpcUrl, "erigon_getHeaderByNumber", ["latest"]);
    assert.ok(BigInt(latest.number) >= BigInt(n));
  });

  it("ots_getBlockDetails(+ByHash): the block without transactions, its count, issuance and fees", async () => {
    const n = Number(sent[1]!.block);
    const d = await rpc<{
      block: Record<string, unknown>;
      issuance: Record<string, string>;
      totalFees: string;
    }>(fullnode.rpcUrl, "ots_getBlockDetails", [n]);
    const b = await rpc<{ hash: string; transactions: string[] }>(fullnode.rpcUrl, "eth_getBlockByNumber", [
      toHex(n),
      false,
    ]);
    assert.equal(d.block.hash, b.hash);
    assert.equal(d.block.transactions, undefined);
    assert.equal(d.block.logsBloom, null);
    assert.equal(d.block.transactionCount, b.transactions.length);
    assert.deepEqual(d.issuance, { blockReward: "0x0", uncleReward: "0x0", issuance: "0x0" });
    let fees = 0n;
    for (const h of b.transactions) {
      const r = await rpc<{ gasUsed: string; effectiveGasPrice: string }>(
        fullnode.rpcUrl,
        "eth_getTransactionReceipt",
        [h],
      );
      fees += BigInt(r.gasUsed) * BigInt(r.effectiveGasPrice);
    }
    assert.equal(BigInt(d.totalFees), fees);
    assert.deepEqual(await rpc(fullnode.rpcUrl, "ots_getBlockDetailsByHash", [b.hash]), d);
    assert.equal(await rpc(fullnode.rpcUrl, "ots_getBlockDetails", [10_000_000]), null);
  });

  it("ots_getBlockTransactions: a page of full transactions and their receipts without logs", async () => {
    const n = Number(sent[1]!.block);
    const p = await rpc<{
      fullblock: { transactions: { hash: string }[]; transactionCount: number };
      receipts: { logs: null; transactionHash: string; status: string }[];
    }>(fullnode.rpcUrl, "ots_getBlockTransactions", [n, 0, 25]);
    assert.ok(p.fullblock.transactions.some((t) => t.hash === splitTx));
    assert.equal(p.receipts.length, p.fullblock.transactions.length);
    assert.equal(p.receipts[0]!.logs, null);
    assert.equal(p.receipts[0]!.transactionHash, p.fullblock.transactions[0]!.hash);
    const bad = await rpcRaw(fullnode.rpcUrl, "ots_getBlockTransactions", [n, 0, 100_000]);
    assert.equal(bad.error?.code, -32602);
    assert.match(bad.error!.message, /param 2 \(pageSize\)/);
  });

  it("ots_getInternalOperations: the two internal transfers, and the CREATE2 with its value", async () => {
    const split = await rpc<{ type: number; from: string; to: string; value: string }[]>(
      fullnode.rpcUrl,
      "ots_getInternalOperations",
      [splitTx],
    );
    assert.deepEqual(split, [
      { type: 0, from: factory, to: payA, value: "0x1f4" },
      { type: 0, from: factory, to: payB, value: "0x1f4" },
    ]);
    const make = await rpc(fullnode.rpcUrl, "ots_getInternalOperations", [makeTx]);
    assert.deepEqual(make, [{ type: 3, from: factory, to: kid, value: "0x5" }]);
    // Otterscan's hook reads `from`/`to` through getAddress: they must be addresses.
    for (const op of split) getAddress(op.to);
  });

  it("ots_traceTransaction: every frame flat, with depth; ots_getTransactionError: the revert data", async () => {
    const t = await rpc<
      {
        type: string;
        depth: number;
        from: string;
        to: string;
        value: string | null;
        input: string;
        output?: string;
      }[]
    >(fullnode.rpcUrl, "ots_traceTransaction", [splitTx]);
    assert.deepEqual(
      t.map((e) => [e.type, e.depth, e.from, e.to, e.value]),
      [
        ["CALL", 0, user.address.toLowerCase(), factory, "0x3e8"],
        ["CALL", 1, factory, payA, "0x1f4"],
        ["CALL", 1, factory, payB, "0x1f4"],
      ],
    );
    assert.equal(await rpc(fullnode.rpcUrl, "ots_getTransactionError", [splitTx]), "0x");
    const reason = `0x08c379a0${encodeAbiParameters([{ type: "string" }], ["factory says no"]).slice(2)}`;
    assert.equal(await rpc(fullnode.rpcUrl, "ots_getTransactionError", [boomTx]), reason);
  });

  it("ots_hasCode, ots_getContractCreator (top-level and by a contract), ots_getTransactionBySenderAndNonce", async () => {
    assert.equal(await rpc(fullnode.rpcUrl, "ots_hasCode", [factory, "latest"]), true);
    assert.equal(await rpc(fullnode.rpcUrl, "ots_hasCode", [payA, "latest"]), false);
    assert.deepEqual(await rpc(fullnode.rpcUrl, "ots_getContractCreator", [factory]), {
      hash: deployTx,
      creator: user.address.toLowerCase(),
    });
    assert.deepEqual(await rpc(fullnode.rpcUrl, "ots_getContractCreator", [kid]), {
      hash: makeTx,
      creator: factory,
    });
    assert.equal(await rpc(fullnode.rpcUrl, "ots_getContractCreator", [payA]), null);
    for (const s of sent)
      assert.equal(
        await rpc(fullnode.rpcUrl, "ots_getTransactionBySenderAndNonce", [user.address, s.nonce]),
        s.hash,
      );
    assert.equal(
      await rpc(fullnode.rpcUrl, "ots_getTransactionBySenderAndNonce", [user.address, 1_000_000]),
      null,
    );
  });

  it("ots_searchTransactionsBefore/After: whole pages newest first, internal-transfer recipients included", async () => {
    type Page = {
      txs: { hash: string; blockNumber: string }[];
      receipts: { timestamp: number; transactionHash: string }[];
      firstPage: boolean;
      lastPage: boolean;
    };
    const all = await rpc<Page>(fullnode.rpcUrl, "ots_searchTransactionsBefore", [user.address, 0, 25]);
    assert.deepEqual(
      all.txs.map((t) => t.hash),
      [...sent].reverse().map((s) => s.hash),
    );
    assert.equal(all.firstPage, true);
    assert.equal(all.lastPage, true);
    assert.equal(all.receipts[0]!.transactionHash, all.txs[0]!.hash);
    assert.equal(typeof all.receipts[0]!.timestamp, "number");
    // Pages of one: whole blocks, so at least one transaction, and the flags say where they are.
    const first = await rpc<Page>(fullnode.rpcUrl, "ots_searchTransactionsBefore", [user.address, 0, 1]);
    assert.equal(first.txs[0]!.hash, sent.at(-1)!.hash);
    const oldest = await rpc<Page>(fullnode.rpcUrl, "ots_searchTransactionsAfter", [user.address, 0, 1]);
    assert.equal(oldest.txs.at(-1)!.hash, sent[0]!.hash);
    assert.equal(oldest.lastPage, true);
    // When the user's transactions span blocks, a page of one block is not the only page.
    const spansBlocks = new Set(sent.map((s) => s.block)).size > 1;
    assert.equal(first.lastPage, !spansBlocks);
    assert.equal(oldest.firstPage, !spansBlocks);
    // A recipient of an internal transfer finds the transaction that paid it; a created contract
    // finds its creation.
    const a = await rpc<Page>(fullnode.rpcUrl, "ots_searchTransactionsBefore", [payA, 0, 25]);
    assert.deepEqual(
      a.txs.map((t) => t.hash),
      [splitTx],
    );
    const k = await rpc<Page>(fullnode.rpcUrl, "ots_searchTransactionsBefore", [kid, 0, 25]);
    assert.deepEqual(
      k.txs.map((t) => t.hash),
      [makeTx],
    );
    const bad = await rpcRaw(fullnode.rpcUrl, "ots_searchTransactionsBefore", ["0x12", 0, 25]);
    assert.equal(bad.error?.code, -32602);
    assert.match(bad.error!.message, /param 0 \(address\)/);
  });
});

describe("otterscan / on the sequencer", () => {
  it("block and trace methods answer as on the full node; the address searches point at a full node", async () => {
    assert.deepEqual(
      await rpc(seq.rpcUrl, "ots_getInternalOperations", [splitTx]),
      await rpc(fullnode.rpcUrl, "ots_getInternalOperations", [splitTx]),
    );
    const n = Number(sent[1]!.block);
    assert.deepEqual(
      await rpc(seq.rpcUrl, "ots_getBlockDetails", [n]),
      await rpc(fullnode.rpcUrl, "ots_getBlockDetails", [n]),
    );
    for (const m of [
      ["ots_searchTransactionsBefore", [user.address, 0, 25]],
      ["ots_getContractCreator", [factory]],
      ["ots_getTransactionBySenderAndNonce", [user.address, 0]],
    ] as const) {
      const r = await rpcRaw(seq.rpcUrl, m[0], [...m[1]]);
      assert.equal(r.error?.code, -32004, m[0]);
      assert.match(r.error!.message, /full node/);
    }
  });
});

describe("txpool / on the sequencer", () => {
  it("txpool_status, content, contentFrom and inspect: pending ready, queued waiting for a nonce", async () => {
    const who = devAccount(7);
    const wallet = createWalletClient({ chain: devChain(seq.rpcUrl), transport: http(), account: who });
    const nonce = await pub.getTransactionCount({ address: who.address, blockTag: "pending" });
    const to = freshAddress();
    // Nonce +1 waits for the missing nonce: queued.
    const gap = await wallet.sendTransaction({
      to,
      value: 7n,
      nonce: nonce + 1,
      gas: 21_000n,
      chain: null,
      account: who,
    });
    const status = await rpc<{ pending: string; queued: string }>(seq.rpcUrl, "txpool_status");
    assert.ok(BigInt(status.queued) >= 1n);
    const key = getAddress(who.address);
    const content = await rpc<{
      pending: Record<string, Record<string, { hash: string }>>;
      queued: Record<string, Record<string, { hash: string; nonce: string; blockHash: null }>>;
    }>(seq.rpcUrl, "txpool_content");
    const q = content.queued[key]![String(nonce + 1)]!;
    assert.equal(q.hash, gap);
    assert.equal(q.nonce, toHex(nonce + 1));
    assert.equal(q.blockHash, null);
    const from = await rpc<{ pending: object; queued: Record<string, { hash: string }> }>(
      seq.rpcUrl,
      "txpool_contentFrom",
      [who.address],
    );
    assert.deepEqual(Object.keys(from.queued), [String(nonce + 1)]);
    assert.deepEqual(from.pending, {});
    const inspect = await rpc<{ queued: Record<string, Record<string, string>> }>(
      seq.rpcUrl,
      "txpool_inspect",
    );
    assert.match(
      inspect.queued[key]![String(nonce + 1)]!,
      new RegExp(`^${getAddress(to)}: 7 wei \\+ 21000 gas × \\d+ wei$`),
    );
    // Filling the gap runs both.
    const fill = await wallet.sendTransaction({
      to,
      value: 1n,
      nonce,
      gas: 21_000n,
      chain: null,
      account: who,
    });
    await pub.waitForTransactionReceipt({ hash: fill, pollingInterval: 20 });
    await pub.waitForTransactionReceipt({ hash: gap, pollingInterval: 20 });
    const after = await rpc<{ pending: object; queued: object }>(seq.rpcUrl, "txpool_contentFrom", [
      who.address,
    ]);
    assert.deepEqual(after, { pending: {}, queued: {} });
    const bad = await rpcRaw(seq.rpcUrl, "txpool_contentFrom", ["0xnope"]);
    assert.equal(bad.error?.code, -32602);
  });
});
