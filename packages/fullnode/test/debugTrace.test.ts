import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type Abi,
  type Hex,
  type PublicClient,
  createPublicClient,
  createWalletClient,
  decodeFunctionResult,
  encodeAbiParameters,
  encodeErrorResult,
  encodeFunctionData,
  getContractAddress,
  http,
  keccak256,
  numberToHex,
  pad,
  parseAbi,
  toEventSelector,
} from "viem";
import { devAccount, devChain, freshAddress } from "../../sequencer/test/helpers/devChain.ts";
import { rpc, rpcRaw } from "../../sequencer/test/helpers/rpcClient.ts";
import { SequencerProcess, sleep } from "../../sequencer/test/helpers/sequencerProcess.ts";
import { compileSolidity } from "../../sequencer/test/helpers/solidity.ts";
import { FullnodeProcess, TempDirs, fullnodeArgs, killAllFullnodes } from "./helpers/fullnodeProcess.ts";

/**
 * Debugging a transaction as a contract developer does after a revert (issue 17): geth's
 * debug_traceTransaction / debug_traceCall / debug_traceBlockBy* with the callTracer, the
 * prestateTracer and the struct logger, eth_createAccessList and eth_simulateV1, on the sequencer
 * and on a full node next to it, against contracts compiled here.
 */

const SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

contract Inner {
    event Pinged(address indexed from, uint256 value);
    error Custom(uint256 code, address who);
    uint256 public pings;                                   // slot 0

    function ping(uint256 v) external payable returns (uint256) {
        pings += 1;
        emit Pinged(msg.sender, v);
        return v + 1;
    }
    function fail(uint256 v) external pure returns (uint256) {
        require(v == 0, "inner says no");
        return v;
    }
    function failCustom(uint256 code) external view returns (uint256) {
        revert Custom(code, msg.sender);
    }
}

contract Middle {
    Inner public inner;
    constructor(Inner i) { inner = i; }
    function relayFail(uint256 v) external returns (uint256) { return inner.fail(v); }
}

contract Child {
    constructor() payable {}
    function kill(address payable to) external { selfdestruct(to); }
}

contract Outer {
    event Done(uint256 r);
    Middle public middle;
    Inner public inner;
    uint256 public stored;                                  // slot 2
    constructor(Middle m, Inner i) { middle = m; inner = i; }

    function nestedRevert(uint256 v) external { stored = middle.relayFail(v); }
    function customError(uint256 c) external { stored = inner.failCustom(c); }
    function pingAndPay(address payable to) external payable {
        uint256 r = inner.ping{value: 1}(7);
        (bool ok, ) = to.call{value: msg.value - 1}("");
        require(ok, "pay failed");
        stored = r;
        emit Done(r);
    }
    function deploy2(bytes32 salt) external returns (address) {
        return address(new Child{salt: salt}());
    }
    function deployAndKill(bytes32 salt, address payable beneficiary) external payable {
        Child c = new Child{salt: salt, value: msg.value}();
        c.kill(beneficiary);
    }
    function tryNested(uint256 v) external returns (bool) {
        try middle.relayFail(v) returns (uint256) { return true; } catch { emit Done(0); return false; }
    }
}

contract Loop {
    uint256 public total;
    function spin(uint256 n) external returns (uint256 x) {
        for (uint256 i = 0; i < n; i++) { x += i; }
    }
    function add(uint256 v) external { total += v; }
}
`;

const OUTER_ABI = parseAbi([
  "function nestedRevert(uint256 v)",
  "function customError(uint256 c)",
  "function pingAndPay(address to) payable",
  "function deploy2(bytes32 salt) returns (address)",
  "function deployAndKill(bytes32 salt, address beneficiary) payable",
  "function tryNested(uint256 v) returns (bool)",
  "function stored() view returns (uint256)",
  "event Done(uint256 r)",
]);
const INNER_ABI = parseAbi([
  "function ping(uint256 v) payable returns (uint256)",
  "function fail(uint256 v) pure returns (uint256)",
  "function failCustom(uint256 code) view returns (uint256)",
  "function pings() view returns (uint256)",
  "event Pinged(address indexed from, uint256 value)",
  "error Custom(uint256 code, address who)",
]);
const MIDDLE_ABI = parseAbi(["function relayFail(uint256 v) returns (uint256)"]);
const LOOP_ABI = parseAbi(["function spin(uint256 n) returns (uint256 x)", "function add(uint256 v)"]);
const ERROR_STRING = (reason: string): Hex =>
  `0x08c379a0${encodeAbiParameters([{ type: "string" }], [reason]).slice(2)}`;

let seq: SequencerProcess;
let fullnode: FullnodeProcess;
const dirs = new TempDirs();
let pub: PublicClient;
let contracts: Record<string, { abi: Abi; bytecode: Hex; deployedBytecode: Hex }>;
let inner: Hex;
let middle: Hex;
let outer: Hex;
let loop: Hex;
const sender = devAccount(3);
const wallet = () =>
  createWalletClient({ chain: devChain(seq.rpcUrl), transport: http(), account: sender });

type Frame = {
  type: string;
  from: string;
  to?: string;
  value?: string;
  gas: string;
  gasUsed: string;
  input: string;
  output?: string;
  error?: string;
  revertReason?: string;
  calls?: Frame[];
  logs?: { address: string; topics: string[]; data: string; index: string; position: string }[];
};
type Receipt = {
  status: string;
  gasUsed: string;
  blockNumber: string;
  transactionIndex: string;
  contractAddress: string | null;
  logs: { logIndex: string }[];
};

async function deploy(name: string, args: Hex = "0x"): Promise<Hex> {
  const hash = await wallet().sendTransaction({
    data: `${contracts[name]!.bytecode}${args.slice(2)}` as Hex,
    chain: null,
    account: sender,
    gas: 3_000_000n,
  });
  const r = await pub.waitForTransactionReceipt({ hash, pollingInterval: 20 });
  assert.equal(r.status, "success", `deploying ${name}`);
  return r.contractAddress!;
}

/**
 * Sends a transaction as the first of a fresh block (its pre-state is then exactly the state at
 * the block before), waits for its receipt and returns hash and receipt.
 */
async function sendAlone(to: Hex, data: Hex, value = 0n, gas = 1_000_000n): Promise<{ hash: Hex; receipt: Receipt }> {
  const head = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
  for (;;) {
    const pending = await rpc<{ number: string; transactions: string[] }>(seq.rpcUrl, "eth_getBlockByNumber", [
      "pending",
      false,
    ]);
    if (pending.transactions.length === 0 && BigInt(pending.number) > head) break;
    await sleep(20);
  }
  const hash = await wallet().sendTransaction({ to, data, value, gas, chain: null, account: sender });
  await pub.waitForTransactionReceipt({ hash, pollingInterval: 20 });
  const receipt = await rpc<Receipt>(seq.rpcUrl, "eth_getTransactionReceipt", [hash]);
  assert.equal(receipt.transactionIndex, "0x0", "the transaction is the first of its block");
  return { hash, receipt };
}

const trace = <T>(url: string, hash: Hex, config?: object) =>
  rpc<T>(url, "debug_traceTransaction", config === undefined ? [hash] : [hash, config]);

/** Waits until the full node has the transaction's block sealed and verified. */
async function fullnodeHas(receipt: Receipt): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const n = BigInt(await rpc<string>(fullnode.rpcUrl, "eth_blockNumber"));
    if (n >= BigInt(receipt.blockNumber)) return;
    await sleep(20);
  }
  throw new Error("full node did not verify the block");
}

const HEX = /^0x[0-9a-f]*$/;
const QTY = /^0x(0|[1-9a-f][0-9a-f]*)$/;
const ADDR = /^0x[0-9a-f]{40}$/;

/** geth's callTracer frame: exactly these members, each in its documented form. */
function assertGethFrame(f: Frame, path = "root"): void {
  const allowed = new Set([
    "type",
    "from",
    "to",
    "value",
    "gas",
    "gasUsed",
    "input",
    "output",
    "error",
    "revertReason",
    "calls",
    "logs",
  ]);
  for (const k of Object.keys(f)) assert.ok(allowed.has(k), `${path}: unexpected member ${k}`);
  assert.ok(
    ["CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "CREATE", "CREATE2", "SELFDESTRUCT"].includes(f.type),
    `${path}: type ${f.type}`,
  );
  assert.match(f.from, ADDR, `${path}.from`);
  if (f.to !== undefined) assert.match(f.to, ADDR, `${path}.to`);
  assert.match(f.gas, QTY, `${path}.gas`);
  assert.match(f.gasUsed, QTY, `${path}.gasUsed`);
  assert.match(f.input, HEX, `${path}.input`);
  if (f.output !== undefined) assert.match(f.output, HEX, `${path}.output`);
  if (f.value !== undefined) assert.match(f.value, QTY, `${path}.value`);
  if (f.type === "STATICCALL") assert.equal(f.value, undefined, `${path}: STATICCALL has no value`);
  if (f.revertReason !== undefined) assert.equal(f.error, "execution reverted", `${path}: reason only on revert`);
  if (f.calls !== undefined) {
    assert.ok(f.calls.length > 0, `${path}.calls is left out when empty`);
    f.calls.forEach((c, i) => assertGethFrame(c, `${path}.calls[${i}]`));
  }
  for (const l of f.logs ?? []) {
    assert.deepEqual(Object.keys(l).sort(), ["address", "data", "index", "position", "topics"]);
    assert.match(l.position, QTY);
    assert.match(l.index, QTY);
  }
}

before(async () => {
  const starting = SequencerProcess.start();
  try {
    contracts = compileSolidity({ "Debug.sol": SOURCE });
  } finally {
    seq = await starting;
  }
  fullnode = await FullnodeProcess.start(fullnodeArgs(seq, dirs.make()));
  pub = createPublicClient({ chain: devChain(seq.rpcUrl), transport: http(), pollingInterval: 20 });
  inner = await deploy("Inner");
  middle = await deploy("Middle", pad(inner));
  outer = await deploy("Outer", `0x${pad(middle).slice(2)}${pad(inner).slice(2)}`);
  loop = await deploy("Loop");
});

after(async () => {
  await fullnode?.kill();
  await killAllFullnodes();
  await seq?.stop();
  await seq?.cleanup();
  dirs.cleanup();
});

describe("debug / callTracer", () => {
  it("a revert with a reason two frames deep: every frame, as geth's callTracer documents it", async () => {
    const data = encodeFunctionData({ abi: OUTER_ABI, functionName: "nestedRevert", args: [5n] });
    const { hash, receipt } = await sendAlone(outer, data, 0n, 300_000n);
    assert.equal(receipt.status, "0x0");
    const root = await trace<Frame>(seq.rpcUrl, hash, { tracer: "callTracer" });
    assertGethFrame(root);
    const revert = ERROR_STRING("inner says no");
    assert.deepEqual(
      { ...root, calls: undefined },
      {
        type: "CALL",
        from: sender.address.toLowerCase(),
        to: outer,
        value: "0x0",
        gas: numberToHex(300_000n),
        gasUsed: receipt.gasUsed,
        input: data,
        output: revert,
        error: "execution reverted",
        revertReason: "inner says no",
        calls: undefined,
      },
    );
    const [m] = root.calls!;
    assert.equal(root.calls!.length, 1);
    assert.equal(m!.type, "CALL");
    assert.equal(m!.from, outer);
    assert.equal(m!.to, middle);
    assert.equal(m!.value, "0x0");
    assert.equal(m!.input, encodeFunctionData({ abi: MIDDLE_ABI, functionName: "relayFail", args: [5n] }));
    assert.equal(m!.output, revert);
    assert.equal(m!.error, "execution reverted");
    assert.equal(m!.revertReason, "inner says no");
    assert.ok(BigInt(m!.gasUsed) < BigInt(m!.gas));
    const [i] = m!.calls!;
    assert.equal(m!.calls!.length, 1);
    // `fail` is pure: Solidity calls it with STATICCALL, which carries no value.
    assert.deepEqual(Object.keys(i!).sort(), [
      "error",
      "from",
      "gas",
      "gasUsed",
      "input",
      "output",
      "revertReason",
      "to",
      "type",
    ]);
    assert.equal(i!.type, "STATICCALL");
    assert.equal(i!.from, middle);
    assert.equal(i!.to, inner);
    assert.equal(i!.input, encodeFunctionData({ abi: INNER_ABI, functionName: "fail", args: [5n] }));
    assert.equal(i!.output, revert);
    assert.equal(i!.revertReason, "inner says no");
    assert.equal(i!.calls, undefined);
  });

  it("a custom error: the revert data as output, no revertReason", async () => {
    const data = encodeFunctionData({ abi: OUTER_ABI, functionName: "customError", args: [42n] });
    const { hash, receipt } = await sendAlone(outer, data, 0n, 300_000n);
    assert.equal(receipt.status, "0x0");
    const root = await trace<Frame>(seq.rpcUrl, hash, { tracer: "callTracer" });
    assertGethFrame(root);
    const custom = encodeErrorResult({ abi: INNER_ABI, errorName: "Custom", args: [42n, outer] });
    assert.equal(root.output, custom);
    assert.equal(root.error, "execution reverted");
    assert.equal(root.revertReason, undefined);
    assert.equal(root.calls![0]!.type, "STATICCALL");
    assert.equal(root.calls![0]!.output, custom);
    assert.equal(root.calls![0]!.revertReason, undefined);
  });

  it("value transfers and logs in inner calls (withLog): positions, block-wide indexes, the receipt's logs", async () => {
    const payee = freshAddress();
    const data = encodeFunctionData({ abi: OUTER_ABI, functionName: "pingAndPay", args: [payee] });
    const { hash, receipt } = await sendAlone(outer, data, 10n, 300_000n);
    assert.equal(receipt.status, "0x1");
    const root = await trace<Frame>(seq.rpcUrl, hash, { tracer: "callTracer", tracerConfig: { withLog: true } });
    assertGethFrame(root);
    assert.equal(root.value, "0xa");
    const [ping, pay] = root.calls!;
    assert.equal(root.calls!.length, 2);
    assert.equal(ping!.type, "CALL");
    assert.equal(ping!.to, inner);
    assert.equal(ping!.value, "0x1");
    assert.equal(
      decodeFunctionResult({ abi: INNER_ABI, functionName: "ping", data: ping!.output as Hex }),
      8n,
    );
    assert.equal(ping!.logs!.length, 1);
    assert.deepEqual(ping!.logs![0], {
      address: inner,
      topics: [toEventSelector("Pinged(address,uint256)"), pad(outer)],
      data: pad(numberToHex(7)),
      index: receipt.logs[0]!.logIndex,
      position: "0x0",
    });
    assert.deepEqual(
      { type: pay!.type, from: pay!.from, to: pay!.to, value: pay!.value, input: pay!.input, calls: pay!.calls },
      { type: "CALL", from: outer, to: payee.toLowerCase(), value: "0x9", input: "0x", calls: undefined },
    );
    // The outer log comes after both calls.
    assert.equal(root.logs!.length, 1);
    assert.equal(root.logs![0]!.position, "0x2");
    assert.equal(root.logs![0]!.index, receipt.logs[1]!.logIndex);
    assert.equal(root.gasUsed, receipt.gasUsed);
    // onlyTopCall: the same top frame, no sub-calls.
    const top = await trace<Frame>(seq.rpcUrl, hash, { tracer: "callTracer", tracerConfig: { onlyTopCall: true } });
    assert.equal(top.calls, undefined);
    assert.equal(top.gasUsed, receipt.gasUsed);
    assert.equal(top.to, outer);
  });

  it("logs of a frame that reverted are dropped; the caught revert stays in the tree", async () => {
    const data = encodeFunctionData({ abi: OUTER_ABI, functionName: "tryNested", args: [1n] });
    const { hash, receipt } = await sendAlone(outer, data, 0n, 300_000n);
    assert.equal(receipt.status, "0x1");
    const root = await trace<Frame>(seq.rpcUrl, hash, { tracer: "callTracer", tracerConfig: { withLog: true } });
    assertGethFrame(root);
    assert.equal(root.error, undefined);
    assert.equal(root.calls![0]!.error, "execution reverted");
    assert.equal(root.calls![0]!.revertReason, "inner says no");
    assert.equal(root.logs!.length, 1);
    assert.equal(root.logs![0]!.index, receipt.logs[0]!.logIndex);
  });

  it("CREATE2: the created address as `to`, the init code as input, the runtime code as output", async () => {
    const salt = keccak256("0x01");
    const data = encodeFunctionData({ abi: OUTER_ABI, functionName: "deploy2", args: [salt] });
    const { hash } = await sendAlone(outer, data, 0n, 500_000n);
    const root = await trace<Frame>(seq.rpcUrl, hash, { tracer: "callTracer" });
    assertGethFrame(root);
    const child = getContractAddress({
      opcode: "CREATE2",
      from: outer,
      salt,
      bytecode: contracts.Child!.bytecode,
    }).toLowerCase();
    const [c] = root.calls!;
    assert.equal(c!.type, "CREATE2");
    assert.equal(c!.from, outer);
    assert.equal(c!.to, child);
    assert.equal(c!.value, "0x0");
    assert.equal(c!.input, contracts.Child!.bytecode);
    assert.equal(c!.output, contracts.Child!.deployedBytecode);
    assert.equal(await rpc(seq.rpcUrl, "eth_getCode", [child]), contracts.Child!.deployedBytecode);
  });

  it("self-destruct: a SELFDESTRUCT frame moving the balance to the beneficiary", async () => {
    const salt = keccak256("0x02");
    const beneficiary = freshAddress().toLowerCase();
    const data = encodeFunctionData({ abi: OUTER_ABI, functionName: "deployAndKill", args: [salt, beneficiary as Hex] });
    const { hash, receipt } = await sendAlone(outer, data, 1000n, 500_000n);
    assert.equal(receipt.status, "0x1");
    const root = await trace<Frame>(seq.rpcUrl, hash, { tracer: "callTracer" });
    assertGethFrame(root);
    const child = getContractAddress({ opcode: "CREATE2", from: outer, salt, bytecode: contracts.Child!.bytecode });
    const [create, kill] = root.calls!;
    assert.equal(create!.type, "CREATE2");
    assert.equal(create!.value, "0x3e8");
    assert.equal(kill!.type, "CALL");
    assert.equal(kill!.to, child.toLowerCase());
    assert.deepEqual(kill!.calls, [
      {
        type: "SELFDESTRUCT",
        from: child.toLowerCase(),
        to: beneficiary,
        value: "0x3e8",
        gas: "0x0",
        gasUsed: "0x0",
        input: "0x",
      },
    ]);
    assert.equal(await rpc(seq.rpcUrl, "eth_getBalance", [beneficiary, "latest"]), "0x3e8");
    // Created and destroyed in one transaction (EIP-6780): no code left.
    assert.equal(await rpc(seq.rpcUrl, "eth_getCode", [child, "latest"]), "0x");
  });

  it("an unsupported tracer name and bad options are -32602 naming the param", async () => {
    const { hash } = await sendAlone(loop, encodeFunctionData({ abi: LOOP_ABI, functionName: "add", args: [1n] }));
    const r = await rpcRaw(seq.rpcUrl, "debug_traceTransaction", [hash, { tracer: "fourByteTracer" }]);
    assert.equal(r.error?.code, -32602);
    assert.match(r.error!.message, /param 1 \(traceConfig\)\.tracer: unsupported tracer "fourByteTracer"/);
    const t = await rpcRaw(seq.rpcUrl, "debug_traceTransaction", [hash, { timeout: "soon" }]);
    assert.equal(t.error?.code, -32602);
    assert.match(t.error!.message, /param 1 \(traceConfig\)\.timeout: invalid duration "soon"/);
    const h = await rpcRaw(seq.rpcUrl, "debug_traceTransaction", ["0x1234"]);
    assert.equal(h.error?.code, -32602);
    assert.match(h.error!.message, /param 0 \(hash\)/);
    const missing = await rpcRaw(seq.rpcUrl, "debug_traceTransaction", [keccak256("0xdead")]);
    assert.equal(missing.error?.code, -32001);
    assert.match(missing.error!.message, /not found/);
  });
});
