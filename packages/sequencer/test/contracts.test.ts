import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Contract, ContractFactory, type JsonRpcProvider, isError } from "ethers";
import {
  type Abi,
  BaseError,
  ContractFunctionRevertedError,
  type Hex,
  type Log,
  type PublicClient,
  type WalletClient,
  createPublicClient,
  createWalletClient,
  decodeEventLog,
  encodeAbiParameters,
  encodeErrorResult,
  encodeFunctionData,
  fromRlp,
  getAbiItem,
  hexToBigInt,
  hexToBytes,
  http,
  keccak256,
  numberToHex,
  pad,
  parseAbi,
  parseEventLogs,
  toEventSelector,
  webSocket,
} from "viem";
import { formatAbiItem } from "viem/utils";
import { verifyMerkleProof } from "../../common/node_modules/@ethereumjs/mpt/dist/esm/index.js";
import {
  ZERO_HASH,
  devAccount,
  devChain,
  ethersProvider,
  ethersWallet,
  freshAddress,
} from "./helpers/devChain.ts";
import {
  type RawBlock,
  type RawLog,
  type RawReceipt,
  WsClient,
  rpc,
  rpcRaw,
  sealedReceipt,
  waitFor,
} from "./helpers/rpcClient.ts";
import { SequencerProcess, sleep } from "./helpers/sequencerProcess.ts";
import { type CompiledContract, compileSolidity } from "./helpers/solidity.ts";

/**
 * A dapp developer's loop against the real sequencer: compile Solidity in the test, deploy with
 * viem and ethers, call, estimate, read events (eth_getLogs, polling filters, a WebSocket
 * subscription), decode reverts, read storage and verify eth_getProof against the state root.
 */

const SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

contract Counter {
    uint256 public count;                        // slot 0
    mapping(address => uint256) public lastSeen; // slot 1
    uint256 public scratch;                      // slot 2

    event Incremented(address indexed by, uint256 indexed newCount, uint256 amount, string note);
    event ScratchCleared(uint256 indexed previous);

    error NotAllowed(address who, uint256 code);

    constructor(uint256 start) {
        count = start;
    }

    function increment(uint256 amount, string calldata note) external returns (uint256) {
        count += amount;
        lastSeen[msg.sender] = count;
        emit Incremented(msg.sender, count, amount, note);
        return count;
    }

    /// Reverts with a reason: the count never reaches the maximum.
    function failWithReason() external {
        require(count == type(uint256).max, "reason text");
        count += 1;
    }

    function failWithCustom(uint256 code) external view {
        revert NotAllowed(msg.sender, code);
    }

    function setScratch(uint256 v) external {
        scratch = v;
    }

    /// Writes the slot, reads it back and deletes it: the slot ends empty (removed from the trie).
    function writeThenDelete(uint256 v) external returns (uint256 seen) {
        scratch = v;
        seen = scratch;
        delete scratch;
        emit ScratchCleared(seen);
    }
}
`;

/** The ABI the source must compile to, written out so viem can type the calls (checked in `before`). */
const COUNTER_ABI = parseAbi([
  "constructor(uint256 start)",
  "function count() view returns (uint256)",
  "function lastSeen(address) view returns (uint256)",
  "function scratch() view returns (uint256)",
  "function increment(uint256 amount, string note) returns (uint256)",
  "function failWithReason()",
  "function failWithCustom(uint256 code) view",
  "function setScratch(uint256 v)",
  "function writeThenDelete(uint256 v) returns (uint256 seen)",
  "event Incremented(address indexed by, uint256 indexed newCount, uint256 amount, string note)",
  "event ScratchCleared(uint256 indexed previous)",
  "error NotAllowed(address who, uint256 code)",
]);

const INCREMENTED = toEventSelector("Incremented(address,uint256,uint256,string)");
const SLOT_COUNT = pad("0x0");
const SLOT_SCRATCH = pad("0x2");
const mappingSlot = (who: Hex): Hex =>
  keccak256(encodeAbiParameters([{ type: "address" }, { type: "uint256" }], [who, 1n]));

let seq: SequencerProcess;
let counter: CompiledContract;
const abi = COUNTER_ABI;
let pub: PublicClient;
let provider: JsonRpcProvider;
/** Deployed by viem (dev account 1) with start 5. */
let viemAddress: Hex;
/** Deployed by ethers (dev account 2) with start 7. */
let ethersAddress: Hex;

const walletOf = (i: number): WalletClient =>
  createWalletClient({ chain: devChain(seq.rpcUrl), transport: http(), account: devAccount(i) });

before(async () => {
  // Compile while the node starts; `seq` is set even if compiling fails, so `after` stops it.
  const starting = SequencerProcess.start();
  try {
    counter = compileSolidity({ "Counter.sol": SOURCE }).Counter!;
  } finally {
    seq = await starting;
  }
  const signatures = (a: Abi) =>
    a
      .map((item) =>
        item.type === "constructor"
          ? `constructor(${item.inputs.map((x) => x.type)})`
          : formatAbiItem(item as never),
      )
      .sort();
  assert.deepEqual(signatures(counter.abi), signatures(COUNTER_ABI));
  pub = createPublicClient({ chain: devChain(seq.rpcUrl), transport: http(), pollingInterval: 50 });
  provider = ethersProvider(seq.rpcUrl);
});

after(async () => {
  provider?.destroy();
  await seq?.stop();
  await seq?.cleanup();
});

type ContractFunction = "increment" | "failWithReason" | "setScratch" | "writeThenDelete";

/** Sends `functionName(args)` from dev account `i` to the viem-deployed contract; returns the receipt. */
async function send(i: number, functionName: ContractFunction, args: readonly unknown[], gas?: bigint) {
  const hash = await walletOf(i).sendTransaction({
    to: viemAddress,
    data: encodeFunctionData({ abi, functionName, args } as never),
    chain: null,
    account: devAccount(i),
    ...(gas === undefined ? {} : { gas }),
  });
  return pub.waitForTransactionReceipt({ hash, pollingInterval: 20 });
}

function revertedError(err: unknown): ContractFunctionRevertedError {
  assert.ok(err instanceof BaseError, `expected a viem error, got ${String(err)}`);
  const found = err.walk((e) => e instanceof ContractFunctionRevertedError);
  assert.ok(
    found instanceof ContractFunctionRevertedError,
    `no ContractFunctionRevertedError in: ${err.message}`,
  );
  return found;
}

describe("contracts / deploy and call", () => {
  it("deploys with viem; the receipt names the contract and eth_getCode returns the runtime code", async () => {
    const hash = await walletOf(1).deployContract({
      abi,
      bytecode: counter.bytecode,
      args: [5n],
      chain: null,
      account: devAccount(1),
    });
    const receipt = await pub.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    assert.equal(receipt.status, "success");
    assert.equal(receipt.to, null);
    assert.ok(receipt.contractAddress !== null && receipt.contractAddress !== undefined);
    viemAddress = receipt.contractAddress;
    assert.equal(await pub.getCode({ address: viemAddress, blockTag: "pending" }), counter.deployedBytecode);
    assert.equal(await rpc(seq.rpcUrl, "eth_getCode", [devAccount(1).address, "pending"]), "0x");
  });

  it("deploys with ethers ContractFactory and reads it back", async () => {
    const wallet = ethersWallet(2, provider);
    const factory = new ContractFactory(abi as never, counter.bytecode, wallet);
    const c = await factory.deploy(7n);
    await c.waitForDeployment();
    ethersAddress = (await c.getAddress()) as Hex;
    const receipt = await c.deploymentTransaction()!.wait();
    assert.equal(receipt?.status, 1);
    assert.equal(receipt?.contractAddress, ethersAddress);
    assert.equal(await c.getFunction("count").staticCall({ blockTag: "pending" }), 7n);
    assert.equal(await provider.getCode(ethersAddress, "pending"), counter.deployedBytecode);
  });

  it("reads state with readContract, a raw eth_call and ethers", async () => {
    assert.equal(
      await pub.readContract({ address: viemAddress, abi, functionName: "count", blockTag: "pending" }),
      5n,
    );
    const data = encodeFunctionData({ abi, functionName: "count" });
    assert.equal(await rpc(seq.rpcUrl, "eth_call", [{ to: viemAddress, data }, "pending"]), pad("0x5"));
    const c = new Contract(ethersAddress, abi as never, provider);
    assert.equal(await c.getFunction("scratch").staticCall({ blockTag: "pending" }), 0n);
  });

  it("estimates gas exactly: the estimate succeeds on chain and one gas less runs out", async () => {
    const from = devAccount(3).address;
    const estimate = await pub.estimateContractGas({
      address: viemAddress,
      abi,
      functionName: "increment",
      args: [1n, "estimate"],
      account: from,
    });
    // eth_call with one gas less than the estimate fails; with the estimate it succeeds.
    const data = encodeFunctionData({ abi, functionName: "increment", args: [1n, "estimate"] });
    const short = await rpcRaw(seq.rpcUrl, "eth_call", [
      { from, to: viemAddress, data, gas: numberToHex(estimate - 1n) },
      "pending",
    ]);
    assert.ok(short.error !== undefined, "eth_call with estimate - 1 gas must fail");
    assert.equal(short.error.code, -32000);
    const enough = await rpcRaw(seq.rpcUrl, "eth_call", [
      { from, to: viemAddress, data, gas: numberToHex(estimate) },
      "pending",
    ]);
    assert.equal(enough.error, undefined);

    // Executed for real (runTx, not the call path) with one gas less, it runs out of gas and
    // changes nothing; with the estimate it succeeds.
    const oog = await send(3, "increment", [1n, "estimate"], estimate - 1n);
    assert.equal(oog.status, "reverted");
    assert.equal(oog.gasUsed, estimate - 1n);
    assert.deepEqual(oog.logs, []);
    const ok = await send(3, "increment", [1n, "estimate"], estimate);
    assert.equal(ok.status, "success");
    assert.ok(ok.gasUsed <= estimate);
    assert.equal(
      await pub.readContract({ address: viemAddress, abi, functionName: "count", blockTag: "pending" }),
      6n,
    );

    // A plain transfer is 21,000 exactly.
    assert.equal(await pub.estimateGas({ account: from, to: freshAddress(), value: 1n }), 21_000n);
  });
});

describe("contracts / events", () => {
  it("returns the event in the receipt with its indexed topics", async () => {
    const by = devAccount(1).address;
    const receipt = await send(1, "increment", [3n, "hello"]);
    assert.equal(receipt.status, "success");
    assert.equal(receipt.logs.length, 1);
    const log = receipt.logs[0]!;
    assert.equal(log.address, viemAddress.toLowerCase());
    assert.deepEqual(log.topics, [INCREMENTED, pad(by.toLowerCase() as Hex), pad("0x9")]);
    const [parsed] = parseEventLogs({ abi, logs: receipt.logs, eventName: "Incremented" });
    assert.deepEqual(parsed?.args, { by, newCount: 9n, amount: 3n, note: "hello" });
    assert.equal(log.transactionIndex, receipt.transactionIndex);
    assert.equal(log.blockNumber, receipt.blockNumber);
  });

  it("finds events through eth_getLogs (getContractEvents, getLogs, blockHash, topic filters)", async () => {
    const by = devAccount(4).address;
    const r1 = await send(4, "increment", [10n, "first"]);
    const r2 = await send(4, "increment", [20n, "second"]);
    const sealed = await sealedReceipt(seq.rpcUrl, r2.transactionHash);
    await sealedReceipt(seq.rpcUrl, r1.transactionHash);

    const events = await pub.getContractEvents({
      address: viemAddress,
      abi,
      eventName: "Incremented",
      args: { by },
      fromBlock: r1.blockNumber,
      toBlock: r2.blockNumber,
    });
    assert.equal(events.length, 2);
    assert.deepEqual(
      events.map((e) => e.args),
      [
        { by, newCount: 19n, amount: 10n, note: "first" },
        { by, newCount: 39n, amount: 20n, note: "second" },
      ],
    );
    assert.deepEqual(
      events.map((e) => [e.transactionHash, e.blockNumber, e.logIndex, e.transactionIndex]),
      [
        [r1.transactionHash, r1.blockNumber, r1.logs[0]!.logIndex, r1.transactionIndex],
        [r2.transactionHash, r2.blockNumber, r2.logs[0]!.logIndex, r2.transactionIndex],
      ],
    );
    assert.equal(events[1]!.blockHash, sealed.blockHash);

    // Raw eth_getLogs by block hash and by topic; a non-matching indexed value finds nothing.
    const byHash = await rpc<RawLog[]>(seq.rpcUrl, "eth_getLogs", [
      {
        blockHash: sealed.blockHash,
        address: viemAddress,
        topics: [INCREMENTED, pad(by.toLowerCase() as Hex)],
      },
    ]);
    const blockReceipts = await rpc<RawReceipt[]>(seq.rpcUrl, "eth_getBlockReceipts", [sealed.blockHash]);
    const expected = blockReceipts
      .flatMap((r) => r.logs)
      .filter((l) => l.address === viemAddress.toLowerCase() && l.topics[1] === pad(by.toLowerCase() as Hex));
    assert.ok(expected.length >= 1);
    assert.deepEqual(byHash, expected);
    assert.deepEqual(byHash.at(-1), sealed.logs[0]);
    const none = await pub.getLogs({
      address: viemAddress,
      event: getAbiItem({ abi, name: "Incremented" }),
      args: { by: devAccount(19).address },
      fromBlock: r1.blockNumber,
      toBlock: r2.blockNumber,
    });
    assert.deepEqual(none, []);
    // Topic OR-list: either count value.
    const either = await rpc<RawLog[]>(seq.rpcUrl, "eth_getLogs", [
      {
        fromBlock: numberToHex(r1.blockNumber),
        toBlock: numberToHex(r2.blockNumber),
        topics: [INCREMENTED, null, [pad("0x13"), pad("0x27")]],
      },
    ]);
    assert.deepEqual(
      either.map((l) => l.transactionHash),
      [r1.transactionHash, r2.transactionHash],
    );

    // ethers queryFilter on the same range.
    const c = new Contract(viemAddress, abi as never, provider);
    const found = await c.queryFilter(
      c.getEvent("Incremented")(by),
      Number(r1.blockNumber),
      Number(r2.blockNumber),
    );
    assert.deepEqual(
      found.map((e) => [e.transactionHash, [...(e as unknown as { args: unknown[] }).args].slice(1)]),
      [
        [r1.transactionHash, [19n, 10n, "first"]],
        [r2.transactionHash, [39n, 20n, "second"]],
      ],
    );
  });

  it("delivers events through a polling filter (eth_newFilter, eth_getFilterChanges, eth_getFilterLogs)", async () => {
    const by = devAccount(5).address;
    const latest = await pub.getBlockNumber();
    const filter = await pub.createContractEventFilter({
      address: viemAddress,
      abi,
      eventName: "Incremented",
      args: { by },
      fromBlock: latest + 1n,
    });
    const rawFilter = await rpc<string>(seq.rpcUrl, "eth_newFilter", [
      { address: viemAddress, topics: [INCREMENTED, pad(by.toLowerCase() as Hex)] },
    ]);
    assert.match(rawFilter, /^0x[0-9a-f]+$/);

    const r1 = await send(5, "increment", [1n, "polled 1"]);
    await send(6, "increment", [1n, "someone else"]);
    const r2 = await send(5, "increment", [1n, "polled 2"]);
    const sealed2 = await sealedReceipt(seq.rpcUrl, r2.transactionHash);

    const changes = await waitFor("filter changes", async () => {
      const c = await pub.getFilterChanges({ filter });
      return c.length > 0 ? c : undefined;
    });
    assert.deepEqual(
      changes.map((l) => [l.transactionHash, l.args.note]),
      [
        [r1.transactionHash, "polled 1"],
        [r2.transactionHash, "polled 2"],
      ],
    );
    assert.equal(changes[1]!.blockHash, sealed2.blockHash);
    assert.deepEqual(await pub.getFilterChanges({ filter }), []);

    const rawChanges = await rpc<RawLog[]>(seq.rpcUrl, "eth_getFilterChanges", [rawFilter]);
    assert.deepEqual(
      rawChanges.map((l) => l.transactionHash),
      [r1.transactionHash, r2.transactionHash],
    );
    assert.deepEqual(rawChanges[1], sealed2.logs[0]);

    const all = await pub.getFilterLogs({ filter });
    assert.deepEqual(
      all.map((l) => [l.transactionHash, l.logIndex]),
      changes.map((l) => [l.transactionHash, l.logIndex]),
    );
    assert.equal(await rpc(seq.rpcUrl, "eth_uninstallFilter", [rawFilter]), true);
    const gone = await rpcRaw(seq.rpcUrl, "eth_getFilterChanges", [rawFilter]);
    assert.equal(gone.error?.code, -32000);
    assert.equal(gone.error?.message, "filter not found");
    await pub.uninstallFilter({ filter });
  });

  it("pushes events over a WebSocket logs subscription (viem watchContractEvent and a raw client): at the block seal by default, at the mini-block with fromBlock/toBlock pending, each once", async () => {
    const wsPub = createPublicClient({
      chain: devChain(seq.rpcUrl, seq.wsUrl),
      transport: webSocket(seq.wsUrl),
    });
    const raw = await WsClient.connect(seq.wsUrl);
    try {
      const seen: Log[] = [];
      const unwatch = wsPub.watchContractEvent({
        address: viemAddress,
        abi,
        eventName: "Incremented",
        onLogs: (logs) => seen.push(...(logs as Log[])),
      });
      const by7 = devAccount(7).address;
      const criteria = { address: viemAddress, topics: [INCREMENTED, pad(by7.toLowerCase() as Hex)] };
      const sub = await raw.subscribe("logs", criteria);
      const subPending = await raw.subscribe("logs", {
        ...criteria,
        fromBlock: "pending",
        toBlock: "pending",
      });
      await sleep(200); // viem subscribes asynchronously

      const r1 = await send(8, "increment", [2n, "not for the raw filter"]);
      const r2 = await send(7, "increment", [2n, "pushed"]);

      // Pushed at the mini-block: preconfirmed, so the block hash is the placeholder.
      const early = await raw.next<RawLog>(subPending);
      assert.equal(early.transactionHash, r2.transactionHash);
      assert.equal(early.blockHash, ZERO_HASH);
      // Pushed at the block seal, with the block's hash: the same log otherwise.
      const note = await raw.next<RawLog>(sub);
      const sealed = await sealedReceipt(seq.rpcUrl, r2.transactionHash);
      assert.equal(note.blockHash, sealed.blockHash);
      assert.deepEqual(note, sealed.logs[0]);
      assert.deepEqual(early, { ...note, blockHash: ZERO_HASH });
      assert.equal(note.transactionHash, r2.transactionHash);
      assert.equal(note.blockNumber, numberToHex(r2.blockNumber));
      assert.equal(note.transactionIndex, numberToHex(r2.transactionIndex));
      assert.equal(note.logIndex, numberToHex(r2.logs[0]!.logIndex));
      assert.deepEqual(note.topics, r2.logs[0]!.topics);
      assert.equal(note.data, r2.logs[0]!.data);
      await sleep(1_200); // another block seals: nothing is delivered twice
      assert.deepEqual(raw.take(sub), [], "the other sender's event must not match the topic filter");
      assert.deepEqual(raw.take(subPending), [], "each log is delivered once");

      await waitFor("viem watchContractEvent logs", async () => (seen.length >= 2 ? true : undefined));
      unwatch();
      assert.deepEqual(
        seen.map((l) => [l.transactionHash, l.logIndex, l.blockNumber]),
        [
          [r1.transactionHash, r1.logs[0]!.logIndex, r1.blockNumber],
          [r2.transactionHash, r2.logs[0]!.logIndex, r2.blockNumber],
        ],
      );
      const decoded = decodeEventLog({
        abi,
        data: seen[1]!.data,
        topics: seen[1]!.topics as [Hex, ...Hex[]],
      });
      assert.deepEqual(decoded.args, {
        by: by7,
        newCount: BigInt(r2.logs[0]!.topics[2]!),
        amount: 2n,
        note: "pushed",
      });
      assert.equal(await raw.request("eth_unsubscribe", [sub]), true);
      assert.equal(await raw.request("eth_unsubscribe", [subPending]), true);
    } finally {
      await raw.close();
      await wsPub.transport.getRpcClient().then((c) => c.close());
    }
  });
});

describe("contracts / reverts", () => {
  const REASON_DATA = encodeErrorResult({
    abi: [{ type: "error", name: "Error", inputs: [{ name: "message", type: "string" }] }],
    errorName: "Error",
    args: ["reason text"],
  });

  it("viem decodes require(false, reason) as ContractFunctionRevertedError with the reason", async () => {
    const err = await pub
      .simulateContract({
        address: viemAddress,
        abi,
        functionName: "failWithReason",
        account: devAccount(1).address,
      })
      .then(
        () => assert.fail("must revert"),
        (e: unknown) => e,
      );
    const reverted = revertedError(err);
    assert.equal(reverted.reason, "reason text");
    assert.equal(reverted.data?.errorName, "Error");
    assert.equal(reverted.raw, REASON_DATA);
  });

  it("viem decodes a custom error with its arguments", async () => {
    const who = devAccount(1).address;
    const err = await pub
      .readContract({ address: viemAddress, abi, functionName: "failWithCustom", args: [42n], account: who })
      .then(
        () => assert.fail("must revert"),
        (e: unknown) => e,
      );
    const reverted = revertedError(err);
    assert.equal(reverted.data?.errorName, "NotAllowed");
    assert.deepEqual(reverted.data?.args, [who, 42n]);
  });

  it("ethers raises CALL_EXCEPTION with the reason and the custom error", async () => {
    const wallet = ethersWallet(2, provider);
    const c = new Contract(ethersAddress, abi as never, wallet);
    const e1 = await c
      .getFunction("failWithReason")
      .staticCall()
      .then(
        () => assert.fail("must revert"),
        (e: unknown) => e,
      );
    assert.ok(isError(e1, "CALL_EXCEPTION"), `expected CALL_EXCEPTION, got ${String(e1)}`);
    assert.equal(e1.reason, "reason text");
    assert.equal(e1.data, REASON_DATA);

    const e2 = await c
      .getFunction("failWithCustom")
      .staticCall(9n)
      .then(
        () => assert.fail("must revert"),
        (e: unknown) => e,
      );
    assert.ok(isError(e2, "CALL_EXCEPTION"), `expected CALL_EXCEPTION, got ${String(e2)}`);
    assert.equal(e2.revert?.name, "NotAllowed");
    assert.deepEqual([...(e2.revert?.args ?? [])], [wallet.address, 9n]);

    // Through eth_estimateGas too: the reason, and the custom error's data for the interface to decode.
    const e3 = await c
      .getFunction("failWithReason")
      .estimateGas()
      .then(
        () => assert.fail("must revert"),
        (e: unknown) => e,
      );
    assert.ok(isError(e3, "CALL_EXCEPTION"), `expected CALL_EXCEPTION, got ${String(e3)}`);
    assert.equal(e3.reason, "reason text");
    const e4 = await c
      .getFunction("failWithCustom")
      .estimateGas(10n)
      .then(
        () => assert.fail("must revert"),
        (e: unknown) => e,
      );
    assert.ok(isError(e4, "CALL_EXCEPTION"), `expected CALL_EXCEPTION, got ${String(e4)}`);
    const parsed = c.interface.parseError(e4.data!);
    assert.equal(parsed?.name, "NotAllowed");
    assert.deepEqual([...(parsed?.args ?? [])], [wallet.address, 10n]);
  });

  it("eth_call and eth_estimateGas return code 3 with the revert data", async () => {
    const from = devAccount(1).address;
    const call = { from, to: viemAddress, data: encodeFunctionData({ abi, functionName: "failWithReason" }) };
    for (const method of ["eth_call", "eth_estimateGas"]) {
      const r = await rpcRaw(seq.rpcUrl, method, [call, "pending"]);
      assert.deepEqual(
        r.error,
        { code: 3, message: "execution reverted: reason text", data: REASON_DATA },
        method,
      );
    }
    const custom = {
      from,
      to: viemAddress,
      data: encodeFunctionData({ abi, functionName: "failWithCustom", args: [5n] }),
    };
    const customData = encodeErrorResult({ abi, errorName: "NotAllowed", args: [from, 5n] });
    for (const method of ["eth_call", "eth_estimateGas"]) {
      const r = await rpcRaw(seq.rpcUrl, method, [custom, "pending"]);
      assert.deepEqual(r.error, { code: 3, message: "execution reverted", data: customData }, method);
    }
  });

  it("a reverting transaction is included with status 0, no logs, and its nonce used", async () => {
    const who = devAccount(9).address;
    const nonce = await pub.getTransactionCount({ address: who, blockTag: "pending" });
    const r = await send(9, "failWithReason", [], 100_000n);
    assert.equal(r.status, "reverted");
    assert.deepEqual(r.logs, []);
    assert.ok(r.gasUsed > 21_000n && r.gasUsed < 100_000n, `gasUsed ${r.gasUsed}`);
    assert.equal(await pub.getTransactionCount({ address: who, blockTag: "pending" }), nonce + 1);
  });
});

describe("contracts / storage and proofs", () => {
  it("reads slots with eth_getStorageAt, including a mapping entry, and a slot written then deleted", async () => {
    const who = devAccount(1).address;
    const count = await pub.readContract({
      address: viemAddress,
      abi,
      functionName: "count",
      blockTag: "pending",
    });
    assert.equal(
      await pub.getStorageAt({ address: viemAddress, slot: SLOT_COUNT, blockTag: "pending" }),
      pad(numberToHex(count as bigint)),
    );
    const seen = await pub.readContract({
      address: viemAddress,
      abi,
      functionName: "lastSeen",
      args: [who],
      blockTag: "pending",
    });
    assert.equal(seen, 9n);
    assert.equal(
      await pub.getStorageAt({ address: viemAddress, slot: mappingSlot(who), blockTag: "pending" }),
      pad("0x9"),
    );

    const set = await send(10, "setScratch", [0x1234n]);
    assert.equal(set.status, "success");
    assert.equal(
      await pub.getStorageAt({ address: viemAddress, slot: SLOT_SCRATCH, blockTag: "pending" }),
      pad("0x1234"),
    );
    const sealedSet = await sealedReceipt(seq.rpcUrl, set.transactionHash);
    assert.equal(BigInt(sealedSet.blockNumber), set.blockNumber);
    assert.equal(await pub.getStorageAt({ address: viemAddress, slot: SLOT_SCRATCH }), pad("0x1234"));

    // Estimate then send, where the refund of the deletion matters.
    const estimate = await pub.estimateContractGas({
      address: viemAddress,
      abi,
      functionName: "writeThenDelete",
      args: [77n],
      account: devAccount(10).address,
    });
    const del = await send(10, "writeThenDelete", [77n], estimate);
    assert.equal(del.status, "success");
    const [cleared] = parseEventLogs({ abi, logs: del.logs, eventName: "ScratchCleared" });
    assert.deepEqual(cleared?.args, { previous: 77n });
    assert.equal(
      await pub.getStorageAt({ address: viemAddress, slot: SLOT_SCRATCH, blockTag: "pending" }),
      pad("0x0"),
    );
    await sealedReceipt(seq.rpcUrl, del.transactionHash);
    assert.equal(await pub.getStorageAt({ address: viemAddress, slot: SLOT_SCRATCH }), pad("0x0"));
  });

  it("serves eth_getProof that verifies against the latest block's stateRoot", async () => {
    // Everything above is sealed: `latest` holds the contract's final storage.
    const who = devAccount(1).address;
    const eoa = devAccount(10).address;
    const nobody = freshAddress();
    const block = await rpc<RawBlock>(seq.rpcUrl, "eth_getBlockByNumber", ["latest", false]);
    const stateRoot = hexToBytes(block.stateRoot as Hex);

    type Proof = {
      address: Hex;
      balance: Hex;
      nonce: Hex;
      codeHash: Hex;
      storageHash: Hex;
      accountProof: Hex[];
      storageProof: { key: Hex; value: Hex; proof: Hex[] }[];
    };
    const getProof = (a: Hex, keys: Hex[]) => rpc<Proof>(seq.rpcUrl, "eth_getProof", [a, keys, "latest"]);

    /** Verifies the account proof; returns [nonce, balance, storageRoot, codeHash] or null if absent. */
    const verifyAccount = async (p: Proof): Promise<Hex[] | null> => {
      const v = await verifyMerkleProof(
        hexToBytes(keccak256(p.address)),
        p.accountProof.map((n) => hexToBytes(n)),
        {
          root: stateRoot,
        },
      );
      return v === null ? null : (fromRlp(v, "hex") as Hex[]);
    };
    const rlpQty = (h: Hex): bigint => (h === "0x" ? 0n : hexToBigInt(h));

    const contractKeys = [SLOT_COUNT, mappingSlot(who), SLOT_SCRATCH];
    const p = await getProof(viemAddress, contractKeys);
    const account = await verifyAccount(p);
    assert.ok(account !== null, "the contract's account proof proves an account");
    const [nonce, balance, storageRoot, codeHash] = account;
    assert.equal(rlpQty(nonce!), 1n); // EIP-161: a contract starts at nonce 1
    assert.equal(rlpQty(balance!), 0n);
    assert.equal(hexToBigInt(p.nonce), 1n);
    assert.equal(hexToBigInt(p.balance), 0n);
    assert.equal(storageRoot, p.storageHash);
    assert.equal(codeHash, p.codeHash);
    assert.equal(p.codeHash, keccak256(counter.deployedBytecode));

    const count = (await pub.readContract({ address: viemAddress, abi, functionName: "count" })) as bigint;
    const want = [count, 9n, 0n];
    assert.equal(p.storageProof.length, 3);
    for (const [i, sp] of p.storageProof.entries()) {
      assert.equal(hexToBigInt(sp.key), hexToBigInt(contractKeys[i]!));
      assert.equal(hexToBigInt(sp.value), want[i], `value of slot ${contractKeys[i]}`);
      const proven = await verifyMerkleProof(
        hexToBytes(keccak256(pad(sp.key))),
        sp.proof.map((n) => hexToBytes(n)),
        {
          root: hexToBytes(p.storageHash),
        },
      );
      if (want[i] === 0n) assert.equal(proven, null, "a deleted slot is proven absent");
      else assert.equal(hexToBigInt(fromRlp(proven!, "hex") as Hex), want[i]);
    }

    // An EOA that sent transactions: its proof agrees with eth_getBalance / eth_getTransactionCount at latest.
    const e = await getProof(eoa, []);
    const eAccount = await verifyAccount(e);
    assert.ok(eAccount !== null);
    assert.equal(rlpQty(eAccount[0]!), BigInt(await pub.getTransactionCount({ address: eoa })));
    assert.equal(rlpQty(eAccount[1]!), await pub.getBalance({ address: eoa }));
    assert.equal(hexToBigInt(e.balance), await pub.getBalance({ address: eoa }));
    assert.equal(e.codeHash, keccak256("0x"));

    // An address that never existed is proven absent.
    const n = await getProof(nobody, [SLOT_COUNT]);
    assert.equal(await verifyAccount(n), null);
    assert.equal(n.balance, "0x0");
    assert.equal(n.nonce, "0x0");
    assert.equal(n.codeHash, keccak256("0x"));
    assert.deepEqual(n.storageProof, [{ key: SLOT_COUNT, value: "0x0", proof: [] }]);

    // The block did not move under the proofs (nothing was sent meanwhile).
    const after = await rpc<RawBlock>(seq.rpcUrl, "eth_getBlockByNumber", ["latest", false]);
    assert.equal(after.stateRoot, block.stateRoot);
  });
});
