import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ACCESS_LIST_METHODS,
  DEBUG_TRACE_METHODS,
  ETH_METHODS,
  FINALITY_METHODS,
  NODE_INFO_METHODS,
  OTS_METHODS,
  REALTIME_METHODS,
  SIMULATE_METHODS,
  SUBSCRIPTION_METHODS,
} from "@staccato/common";
import { type Hex, createWalletClient, http, numberToHex } from "viem";
import { DEBUG_METHODS } from "../src/rpc/debugApi.ts";
import { TXPOOL_METHODS } from "../src/rpc/txpoolApi.ts";
import { devChain, devKeyAccount, freshAddress } from "./helpers/devChain.ts";
import {
  type RawBlock,
  type RawReceipt,
  WsClient,
  rpc,
  rpcRaw,
  sealedReceipt,
  waitForBlock,
} from "./helpers/rpcClient.ts";
import { SequencerProcess } from "./helpers/sequencerProcess.ts";

/**
 * Points of the execution-apis spec (ethereum/execution-apis, src/eth and src/schemas) a client
 * can trip over, each asserted against the real sequencer; and the state window
 * (`--state-history`): older blocks answer error 4444.
 */

const WINDOW = 4;
let seq: SequencerProcess;

before(async () => {
  seq = await SequencerProcess.start({ args: ["--state-history", String(WINDOW), "--block-ms", "300"] });
});

after(async () => {
  await seq?.stop();
  await seq?.cleanup();
});

const QUANTITY = /^0x(0|[1-9a-f][0-9a-f]*)$/;
const UNKNOWN_HASH = `0x${"ab".repeat(32)}`;

async function transfer(i: number, value: bigint): Promise<{ to: Hex; receipt: RawReceipt }> {
  const wallet = createWalletClient({
    chain: devChain(seq.rpcUrl),
    transport: http(),
    account: devKeyAccount(i),
  });
  const to = freshAddress();
  const hash = await wallet.sendTransaction({ to, value });
  return { to, receipt: await sealedReceipt(seq.rpcUrl, hash) };
}

describe("rpc spec / TransactionInfo and Log", () => {
  it("transactions carry blockTimestamp (by hash, by block and index, in full blocks), and so do logs", async () => {
    const { receipt } = await transfer(1, 3n);
    const block = await rpc<RawBlock>(seq.rpcUrl, "eth_getBlockByHash", [receipt.blockHash, true]);
    const byHash = await rpc<Record<string, string>>(seq.rpcUrl, "eth_getTransactionByHash", [
      receipt.transactionHash,
    ]);
    const byIndex = await rpc<Record<string, string>>(seq.rpcUrl, "eth_getTransactionByBlockHashAndIndex", [
      receipt.blockHash,
      receipt.transactionIndex,
    ]);
    const inBlock = (block.transactions as Record<string, string>[]).find(
      (t) => t.hash === receipt.transactionHash,
    )!;
    for (const t of [byHash, byIndex, inBlock]) {
      assert.equal(t.blockTimestamp, block.timestamp);
      assert.equal(t.blockHash, receipt.blockHash);
    }
  });
});

describe("rpc spec / ids and optional params", () => {
  it("filter and subscription ids are quantities without leading zeros", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      ids.push(await rpc<string>(seq.rpcUrl, "eth_newBlockFilter"));
      ids.push(await rpc<string>(seq.rpcUrl, "eth_newFilter", [{}]));
    }
    const ws = await WsClient.connect(seq.wsUrl);
    try {
      for (let i = 0; i < 20; i++) ids.push(await ws.subscribe("newHeads"));
    } finally {
      await ws.close();
    }
    for (const id of ids) assert.match(id, QUANTITY);
    for (const id of ids.slice(0, 80)) assert.equal(await rpc(seq.rpcUrl, "eth_uninstallFilter", [id]), true);
  });

  it("eth_getProof's block parameter is optional and defaults to latest", async () => {
    const { to } = await transfer(2, 9n);
    const proof = await rpc<{ balance: string; accountProof: string[] }>(seq.rpcUrl, "eth_getProof", [
      to,
      [],
    ]);
    assert.equal(proof.balance, "0x9");
    assert.ok(proof.accountProof.length > 0);
  });
});

describe("rpc spec / method tables", () => {
  it("every method of every namespace the sequencer serves is wired (none answers -32601)", async () => {
    const served = [
      ...ETH_METHODS,
      ...NODE_INFO_METHODS,
      ...SUBSCRIPTION_METHODS,
      ...REALTIME_METHODS,
      ...FINALITY_METHODS,
      ...DEBUG_METHODS,
      ...DEBUG_TRACE_METHODS,
      ...ACCESS_LIST_METHODS,
      ...SIMULATE_METHODS,
      ...TXPOOL_METHODS,
      ...OTS_METHODS,
    ];
    assert.equal((await rpcRaw(seq.rpcUrl, "eth_noSuchMethod")).error?.code, -32601);
    // Without params: most answer -32602, a few answer; only an unwired one says "not found".
    for (const method of served) {
      const r = await rpcRaw(seq.rpcUrl, method);
      assert.notEqual(r.error?.code, -32601, `${method}: ${JSON.stringify(r)}`);
    }
  });
});

describe("rpc spec / unknown block hash", () => {
  const calls: [string, unknown[]][] = [
    ["eth_getBalance", [freshAddress(), { blockHash: UNKNOWN_HASH }]],
    ["eth_getTransactionCount", [freshAddress(), { blockHash: UNKNOWN_HASH }]],
    ["eth_getCode", [freshAddress(), { blockHash: UNKNOWN_HASH }]],
    ["eth_getStorageAt", [freshAddress(), "0x0", { blockHash: UNKNOWN_HASH, requireCanonical: true }]],
    ["eth_call", [{ to: freshAddress() }, { blockHash: UNKNOWN_HASH }]],
    ["eth_getProof", [freshAddress(), [], { blockHash: UNKNOWN_HASH }]],
    ["eth_getBalance", [freshAddress(), UNKNOWN_HASH]],
  ];
  for (const [method, params] of calls) {
    it(`${method} with an unknown EIP-1898 block hash answers -32001`, async () => {
      const r = await rpcRaw(seq.rpcUrl, method, params);
      assert.equal(r.error?.code, -32001, JSON.stringify(r));
    });
  }
});

describe("rpc spec / state window", () => {
  it(`--state-history ${WINDOW}: the last ${WINDOW} sealed blocks answer, older ones (and earliest) give 4444 naming what is kept`, async () => {
    const first = await transfer(3, 1n);
    const second = await transfer(3, 2n);
    await waitForBlock(seq.rpcUrl, BigInt(second.receipt.blockNumber) + BigInt(WINDOW) + 1n, 20_000);
    const latest = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
    // Inside the window: exact values, at each of its blocks.
    for (let n = latest - BigInt(WINDOW) + 1n; n <= latest; n++) {
      assert.equal(await rpc(seq.rpcUrl, "eth_getBalance", [second.to, numberToHex(n)]), "0x2");
    }
    for (const tag of [numberToHex(BigInt(first.receipt.blockNumber)), "earliest", "0x0"]) {
      const r = await rpcRaw(seq.rpcUrl, "eth_getBalance", [first.to, tag]);
      // The window moves on while this runs: what matters is that old blocks are refused clearly.
      assert.equal(r.error?.code, 4444, `${tag}: ${JSON.stringify(r)}`);
      assert.match(
        r.error!.message,
        /^pruned history unavailable: this node keeps the state of blocks \d+ to \d+/,
      );
      assert.match(r.error!.message, /--state-history 4/);
    }
    const call = await rpcRaw(seq.rpcUrl, "eth_call", [{ to: first.to }, numberToHex(1)]);
    assert.equal(call.error?.code, 4444);
    // Blocks themselves are still served.
    const b = await rpc<RawBlock | null>(seq.rpcUrl, "eth_getBlockByNumber", [
      first.receipt.blockNumber,
      false,
    ]);
    assert.equal(b?.hash, first.receipt.blockHash);
  });

  it("a block number past the head is 'header not found' (-32001)", async () => {
    const r = await rpcRaw(seq.rpcUrl, "eth_getBalance", [freshAddress(), "0xffffff"]);
    assert.equal(r.error?.code, -32001);
    assert.equal(r.error?.message, "header not found");
  });
});
