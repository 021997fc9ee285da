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
const wallet = () => createWalletClient({ chain: devChain(seq.rpcUrl), transport: http(), account: sender });

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
async function sendAlone(
  to: Hex,
  data: Hex,
  value = 0n,
  gas = 1_000_000n,
): Promise<{ hash: Hex; receipt: Receipt }> {
  const head = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
  for (;;) {
    const pending = await rpc<{ number: string; transactions: string[] }>(
      seq.rpcUrl,
      "eth_getBlockByNumber",
      ["pending", false],
    );
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
  if (f.revertReason !== undefined)
    assert.equal(f.error, "execution reverted", `${path}: reason only on revert`);
  if (f.calls !== undefined) {
    assert.ok(f.calls.length > 0, `${path}.calls is left out when empty`);
    for (const [i, c] of f.calls.entries()) assertGethFrame(c, `${path}.calls[${i}]`);
  }
  for (const l of f.logs ?? []) {
    assert.deepEqual(Object.keys(l).sort(), ["address", "data", "index", "position", "topics"]);
    assert.match(l.position, QTY);
    assert.match(l.index, QTY);
  }
}

before(async () => {
  const starting = SequencerProcess.start({ startTimeoutMs: 120_000 });
  try {
    contracts = compileSolidity({ "Debug.sol": SOURCE });
  } finally {
    seq = await starting;
  }
  fullnode = await FullnodeProcess.start(fullnodeArgs(seq, dirs.make()), 120_000);
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
    const root = await trace<Frame>(seq.rpcUrl, hash, {
      tracer: "callTracer",
      tracerConfig: { withLog: true },
    });
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
      {
        type: pay!.type,
        from: pay!.from,
        to: pay!.to,
        value: pay!.value,
        input: pay!.input,
        calls: pay!.calls,
      },
      { type: "CALL", from: outer, to: payee.toLowerCase(), value: "0x9", input: "0x", calls: undefined },
    );
    // The outer log comes after both calls.
    assert.equal(root.logs!.length, 1);
    assert.equal(root.logs![0]!.position, "0x2");
    assert.equal(root.logs![0]!.index, receipt.logs[1]!.logIndex);
    assert.equal(root.gasUsed, receipt.gasUsed);
    // onlyTopCall: the same top frame, no sub-calls.
    const top = await trace<Frame>(seq.rpcUrl, hash, {
      tracer: "callTracer",
      tracerConfig: { onlyTopCall: true },
    });
    assert.equal(top.calls, undefined);
    assert.equal(top.gasUsed, receipt.gasUsed);
    assert.equal(top.to, outer);
  });

  it("logs of a frame that reverted are dropped; the caught revert stays in the tree", async () => {
    const data = encodeFunctionData({ abi: OUTER_ABI, functionName: "tryNested", args: [1n] });
    const { hash, receipt } = await sendAlone(outer, data, 0n, 300_000n);
    assert.equal(receipt.status, "0x1");
    const root = await trace<Frame>(seq.rpcUrl, hash, {
      tracer: "callTracer",
      tracerConfig: { withLog: true },
    });
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
    const data = encodeFunctionData({
      abi: OUTER_ABI,
      functionName: "deployAndKill",
      args: [salt, beneficiary as Hex],
    });
    const { hash, receipt } = await sendAlone(outer, data, 1000n, 500_000n);
    assert.equal(receipt.status, "0x1");
    const root = await trace<Frame>(seq.rpcUrl, hash, { tracer: "callTracer" });
    assertGethFrame(root);
    const child = getContractAddress({
      opcode: "CREATE2",
      from: outer,
      salt,
      bytecode: contracts.Child!.bytecode,
    });
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
    const { hash } = await sendAlone(
      loop,
      encodeFunctionData({ abi: LOOP_ABI, functionName: "add", args: [1n] }),
    );
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

type PreAccount = {
  balance: string;
  nonce?: number;
  code?: string;
  codeHash?: string;
  storage?: Record<string, string>;
};

describe("debug / prestateTracer", () => {
  it("every touched account and slot as it was at the block before, read back with eth_getProof and friends", async () => {
    const payee = freshAddress().toLowerCase() as Hex;
    const data = encodeFunctionData({ abi: OUTER_ABI, functionName: "pingAndPay", args: [payee] });
    const { hash, receipt } = await sendAlone(outer, data, 10n, 300_000n);
    const before = numberToHex(BigInt(receipt.blockNumber) - 1n);
    const pre = await trace<Record<string, PreAccount>>(seq.rpcUrl, hash, { tracer: "prestateTracer" });
    const from = sender.address.toLowerCase();
    const coinbase = (await rpc<{ miner: string }>(seq.rpcUrl, "eth_getBlockByNumber", [before, false]))
      .miner;
    // The payee did not exist before: left out, as geth does.
    assert.deepEqual(Object.keys(pre).sort(), [from, outer, inner, coinbase].sort());
    for (const [addr, acct] of Object.entries(pre)) {
      assert.equal(acct.balance, await rpc(seq.rpcUrl, "eth_getBalance", [addr, before]), `${addr} balance`);
      const nonce = BigInt(await rpc<string>(seq.rpcUrl, "eth_getTransactionCount", [addr, before]));
      assert.equal(acct.nonce ?? 0, Number(nonce), `${addr} nonce`);
      const code = await rpc<string>(seq.rpcUrl, "eth_getCode", [addr, before]);
      assert.equal(acct.code ?? "0x", code, `${addr} code`);
      if (code !== "0x") assert.equal(acct.codeHash, keccak256(code as Hex));
      for (const [k, v] of Object.entries(acct.storage ?? {}))
        assert.equal(v, await rpc(seq.rpcUrl, "eth_getStorageAt", [addr, k, before]), `${addr} slot ${k}`);
    }
    // Inner's `pings` (slot 0) and Outer's `stored` (slot 2) were written; Outer's immutable-like
    // `inner`/`middle` slots were read.
    assert.ok(pre[inner]!.storage![pad("0x0")] !== undefined);
    assert.ok(pre[outer]!.storage![pad("0x2")] !== undefined);
    // eth_getProof at the block before proves the prestate's values.
    const proof = await rpc<{
      balance: string;
      nonce: string;
      storageProof: { key: string; value: string }[];
    }>(seq.rpcUrl, "eth_getProof", [inner, [pad("0x0")], before]);
    assert.equal(proof.balance, pre[inner]!.balance);
    assert.equal(BigInt(proof.storageProof[0]!.value), BigInt(pre[inner]!.storage![pad("0x0")]!));
  });

  it("diffMode: only what changed, pre and post, matching the state after the block", async () => {
    const payee = freshAddress().toLowerCase() as Hex;
    const data = encodeFunctionData({ abi: OUTER_ABI, functionName: "pingAndPay", args: [payee] });
    const { hash, receipt } = await sendAlone(outer, data, 10n, 300_000n);
    const storedBefore = await rpc<string>(seq.rpcUrl, "eth_getStorageAt", [
      outer,
      "0x2",
      numberToHex(BigInt(receipt.blockNumber) - 1n),
    ]);
    const d = await trace<{ pre: Record<string, PreAccount>; post: Record<string, PreAccount> }>(
      seq.rpcUrl,
      hash,
      {
        tracer: "prestateTracer",
        tracerConfig: { diffMode: true },
      },
    );
    const at = receipt.blockNumber;
    // The payee was created: only in post, with its balance.
    assert.equal(d.pre[payee], undefined);
    assert.deepEqual(d.post[payee], { balance: "0x9" });
    assert.equal(await rpc(seq.rpcUrl, "eth_getBalance", [payee, at]), "0x9");
    const from = sender.address.toLowerCase();
    assert.equal(d.post[from]!.nonce, d.pre[from]!.nonce! + 1);
    assert.equal(d.post[from]!.balance, await rpc(seq.rpcUrl, "eth_getBalance", [from, at]));
    // Inner's counter went up by one; Outer's `stored` became 8.
    assert.equal(
      BigInt(d.post[inner]!.storage![pad("0x0")]!),
      BigInt(d.pre[inner]!.storage?.[pad("0x0")] ?? "0x0") + 1n,
    );
    // Outer forwards all it gets: its balance is unchanged, and `stored` changes only the first time.
    if (storedBefore === pad("0x8")) {
      assert.equal(d.post[outer], undefined, "an account nothing changed is in neither pre nor post");
      assert.equal(d.pre[outer], undefined);
    } else {
      assert.deepEqual(d.post[outer], { storage: { [pad("0x2")]: pad("0x8") } });
    }
    // Unchanged fields are not repeated in post.
    assert.equal(d.post[inner]!.code, undefined);
    assert.equal(d.post[inner]!.nonce, undefined);
  });
});

type StructLog = {
  pc: number;
  op: string;
  gas: number;
  gasCost: number;
  depth: number;
  stack?: string[];
  storage?: Record<string, string>;
  memory?: string[];
  refund?: number;
};
type StructTrace = { gas: number; failed: boolean; returnValue: string; structLogs: StructLog[] };

describe("debug / struct logger", () => {
  it("the gas column adds up to the receipt's gasUsed; stack, storage and memory as geth formats them", async () => {
    const data = encodeFunctionData({ abi: LOOP_ABI, functionName: "spin", args: [20n] });
    const gasLimit = 200_000n;
    const { hash, receipt } = await sendAlone(loop, data, 0n, gasLimit);
    const t = await trace<StructTrace>(seq.rpcUrl, hash, { enableMemory: true });
    assert.equal(t.failed, false);
    assert.equal(t.gas, Number(receipt.gasUsed));
    assert.equal(t.returnValue, encodeAbiParameters([{ type: "uint256" }], [190n]));
    const logs = t.structLogs;
    const first = logs[0]!;
    const last = logs.at(-1)!;
    assert.equal(first.pc, 0);
    assert.equal(first.depth, 1);
    assert.deepEqual(first.stack, []);
    // Intrinsic gas: 21000 + calldata (4 selector bytes + 32-byte word with one non-zero byte).
    const zeros =
      (data.length - 2) / 2 - [...Buffer.from(data.slice(2), "hex")].filter((b) => b !== 0).length;
    const intrinsic = 21_000 + 4 * zeros + 16 * ((data.length - 2) / 2 - zeros);
    assert.equal(Number(gasLimit) - first.gas, intrinsic, "gas left at the first opcode");
    // No sub-calls and no refunds: the costs add up to what the receipt charged.
    const sum = logs.reduce((n, l) => n + l.gasCost, 0);
    assert.equal(intrinsic + sum, Number(receipt.gasUsed));
    assert.equal(Number(gasLimit) - (last.gas - last.gasCost), Number(receipt.gasUsed));
    assert.equal(last.op, "RETURN");
    // Each step's gas is the previous one's minus its cost.
    for (let i = 1; i < logs.length; i++) assert.equal(logs[i]!.gas, logs[i - 1]!.gas - logs[i - 1]!.gasCost);
    for (const l of logs) for (const v of l.stack ?? []) assert.match(v, QTY);
    const withMemory = logs.find((l) => l.memory !== undefined)!;
    for (const w of withMemory.memory!) assert.match(w, /^0x[0-9a-f]{64}$/);
  });

  it("SSTORE and SLOAD carry the contract's storage; disableStack and limit", async () => {
    const { hash } = await sendAlone(
      loop,
      encodeFunctionData({ abi: LOOP_ABI, functionName: "add", args: [3n] }),
    );
    const t = await trace<StructTrace>(seq.rpcUrl, hash);
    const sstore = t.structLogs.find((l) => l.op === "SSTORE")!;
    assert.match(Object.values(sstore.storage!)[0]!, /^0x[0-9a-f]{64}$/);
    assert.deepEqual(Object.keys(sstore.storage!), [pad("0x0")]);
    const bare = await trace<StructTrace>(seq.rpcUrl, hash, {
      disableStack: true,
      disableStorage: true,
      limit: 5,
    });
    assert.equal(bare.structLogs.length, 5);
    assert.equal(bare.structLogs[0]!.stack, undefined);
    assert.equal(bare.gas, t.gas);
  });
});

describe("debug / the same trace from the sequencer and a full node", () => {
  it("callTracer, prestateTracer (both modes) and the struct logger give identical answers", async () => {
    const payee = freshAddress();
    const { hash, receipt } = await sendAlone(
      outer,
      encodeFunctionData({ abi: OUTER_ABI, functionName: "pingAndPay", args: [payee] }),
      10n,
      300_000n,
    );
    const { hash: reverted } = await sendAlone(
      outer,
      encodeFunctionData({ abi: OUTER_ABI, functionName: "nestedRevert", args: [3n] }),
      0n,
      300_000n,
    );
    await fullnodeHas(await rpc<Receipt>(seq.rpcUrl, "eth_getTransactionReceipt", [reverted]));
    const configs = [
      { tracer: "callTracer", tracerConfig: { withLog: true } },
      { tracer: "prestateTracer" },
      { tracer: "prestateTracer", tracerConfig: { diffMode: true } },
      { enableMemory: true, enableReturnData: true },
    ];
    for (const h of [hash, reverted])
      for (const c of configs)
        assert.deepEqual(
          await trace(fullnode.rpcUrl, h, c),
          await trace(seq.rpcUrl, h, c),
          JSON.stringify(c),
        );
    const block = receipt.blockNumber;
    assert.deepEqual(
      await rpc(fullnode.rpcUrl, "debug_traceBlockByNumber", [block, { tracer: "callTracer" }]),
      await rpc(seq.rpcUrl, "debug_traceBlockByNumber", [block, { tracer: "callTracer" }]),
    );
    const blockHash = (await rpc<{ hash: string }>(seq.rpcUrl, "eth_getBlockByNumber", [block, false])).hash;
    const byHash = await rpc<{ txHash: string; result: Frame }[]>(fullnode.rpcUrl, "debug_traceBlockByHash", [
      blockHash,
      { tracer: "callTracer" },
    ]);
    assert.equal(byHash[0]!.txHash, hash);
    assert.equal(byHash[0]!.result.gasUsed, receipt.gasUsed);
  });

  it("a preconfirmed transaction of the open block is traced before its block seals", async () => {
    const { hash, receipt } = await sendAlone(
      loop,
      encodeFunctionData({ abi: LOOP_ABI, functionName: "add", args: [9n] }),
    );
    const root = await trace<Frame>(seq.rpcUrl, hash, { tracer: "callTracer" });
    assert.equal(root.gasUsed, receipt.gasUsed);
    assert.equal(root.to, loop);
  });
});

describe("debug / debug_traceCall", () => {
  it("traces a call at a block, with state overrides", async () => {
    const data = encodeFunctionData({ abi: OUTER_ABI, functionName: "nestedRevert", args: [0n] });
    const root = await rpc<Frame>(seq.rpcUrl, "debug_traceCall", [
      { from: sender.address, to: outer, data, gas: "0x30d40" },
      "latest",
      { tracer: "callTracer" },
    ]);
    assertGethFrame(root);
    assert.equal(root.error, undefined);
    assert.equal(root.calls![0]!.calls![0]!.type, "STATICCALL");
    // Replace Inner's code with Loop's: `fail` no longer exists, so the inner call reverts empty.
    const over = await rpc<Frame>(seq.rpcUrl, "debug_traceCall", [
      { from: sender.address, to: outer, data, gas: "0x30d40" },
      "latest",
      { tracer: "callTracer", stateOverrides: { [inner]: { code: contracts.Loop!.deployedBytecode } } },
    ]);
    assert.equal(over.error, "execution reverted");
    assert.equal(over.calls![0]!.calls![0]!.error, "execution reverted");
  });
});

describe("debug / bounds", () => {
  it("a 10-million-gas loop under the struct logger stops at its timeout with a clear error; the node keeps answering", async () => {
    const data = encodeFunctionData({ abi: LOOP_ABI, functionName: "spin", args: [10n ** 9n] });
    const { hash, receipt } = await sendAlone(loop, data, 0n, 10_000_000n);
    assert.equal(receipt.status, "0x0", "the loop runs out of gas");
    const started = Date.now();
    // The `limit` keeps the output far below the node's size bound, so only the clock can stop it
    // (the whole loop takes ~5.5 s under the tracer here; unbounded, its struct logs reach the size
    // bound in under a second on a fast machine).
    const tracing = rpcRaw(seq.rpcUrl, "debug_traceTransaction", [hash, { timeout: "1s", limit: 1000 }]);
    // While it runs, other requests are served.
    let answered = 0;
    let done = false;
    void tracing.then(() => {
      done = true;
    });
    while (!done) {
      await rpc(seq.rpcUrl, "eth_blockNumber");
      if (!done) answered++;
      await sleep(50);
    }
    const r = await tracing;
    assert.equal(r.error?.code, -32000);
    assert.match(r.error!.message, /^execution timeout: the trace did not finish within 1s/);
    assert.ok(answered >= 3, `eth_blockNumber answered ${answered} times during the trace`);
    assert.ok(Date.now() - started < 15_000);
    // Without a timeout, the node's output bound stops it first (or geth's default 5 s).
    const big = await rpcRaw(seq.rpcUrl, "debug_traceCall", [
      { from: sender.address, to: loop, data, gas: numberToHex(10_000_000n) },
      "latest",
      {},
    ]);
    assert.ok(big.error !== undefined);
    assert.match(big.error.message, /trace result too large|execution timeout/);
    // A `limit` caps the struct logs (geth's semantics: execution goes on, uncaptured).
    const capped = await rpc<StructTrace>(seq.rpcUrl, "debug_traceCall", [
      {
        from: sender.address,
        to: loop,
        data: encodeFunctionData({ abi: LOOP_ABI, functionName: "spin", args: [500n] }),
      },
      "latest",
      { limit: 100 },
    ]);
    assert.equal(capped.structLogs.length, 100);
    assert.equal(capped.failed, false);
    assert.equal(await rpc(seq.rpcUrl, "eth_blockNumber").then((n) => typeof n), "string");
  });
});

describe("eth_createAccessList", () => {
  it("sending the transaction with the list it reports uses exactly the gas it reports", async () => {
    const payee = freshAddress();
    const data = encodeFunctionData({ abi: OUTER_ABI, functionName: "pingAndPay", args: [payee] });
    const call = { from: sender.address, to: outer, data, value: "0xa" };
    const r = await rpc<{
      accessList: { address: Hex; storageKeys: Hex[] }[];
      gasUsed: string;
      error?: string;
    }>(seq.rpcUrl, "eth_createAccessList", [call, "latest"]);
    assert.equal(r.error, undefined);
    const addrs = r.accessList.map((e) => e.address);
    assert.ok(
      addrs.includes(inner) && addrs.includes(payee.toLowerCase() as Hex),
      JSON.stringify(r.accessList),
    );
    assert.ok(!addrs.includes(sender.address.toLowerCase() as Hex));
    const outerEntry = r.accessList.find((e) => e.address === outer)!;
    assert.ok(outerEntry.storageKeys.includes(pad("0x2")));
    // The gas limit must leave room for the 63/64 rule and refunds; the gas used is what was reported.
    const hash = await wallet().sendTransaction({
      to: outer,
      data,
      value: 10n,
      gas: BigInt(r.gasUsed) * 2n,
      accessList: r.accessList,
      chain: null,
      account: sender,
    });
    const receipt = await pub.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    assert.equal(receipt.status, "success");
    assert.equal(receipt.gasUsed, BigInt(r.gasUsed));
    // A failing call: the list so far, and the error.
    const failing = await rpc<{ gasUsed: string; error?: string }>(seq.rpcUrl, "eth_createAccessList", [
      {
        from: sender.address,
        to: outer,
        data: encodeFunctionData({ abi: OUTER_ABI, functionName: "nestedRevert", args: [1n] }),
      },
    ]);
    assert.equal(failing.error, "execution reverted");
    assert.ok(BigInt(failing.gasUsed) > 21_000n);
  });
});

type SimBlock = {
  number: string;
  hash: string;
  parentHash: string;
  timestamp: string;
  gasUsed: string;
  transactions: (string | { hash: string; from: string })[];
  calls: {
    status: string;
    returnData: string;
    gasUsed: string;
    logs?: { address: string; topics: string[]; data: string; blockHash: string }[];
    error?: { code: number; message: string };
  }[];
};

describe("eth_simulateV1", () => {
  it("a transfer and a call depending on it in one simulated block; a second block on top", async () => {
    const a = freshAddress();
    const b = freshAddress();
    const pendingNumber = async () =>
      BigInt((await rpc<{ number: string }>(seq.rpcUrl, "eth_getBlockByNumber", ["pending", false])).number);
    // `latest` state is the newest mini-block's: the simulation builds on the block being filled.
    const head = await pendingNumber();
    const blocks = await rpc<SimBlock[]>(seq.rpcUrl, "eth_simulateV1", [
      {
        blockStateCalls: [
          {
            calls: [
              { from: sender.address, to: a, value: numberToHex(10n ** 18n) },
              // `a` only has funds because of the call before.
              { from: a, to: b, value: numberToHex(10n ** 17n) },
              {
                from: b,
                to: inner,
                data: encodeFunctionData({ abi: INNER_ABI, functionName: "ping", args: [1n] }),
                value: "0x5",
              },
            ],
          },
          {
            calls: [
              { from: a, to: inner, data: encodeFunctionData({ abi: INNER_ABI, functionName: "pings" }) },
            ],
          },
        ],
        traceTransfers: true,
        returnFullTransactions: true,
      },
      "latest",
    ]);
    assert.equal(blocks.length, 2);
    const [b1, b2] = blocks;
    const headAfter = await pendingNumber();
    assert.ok(BigInt(b1!.number) >= head + 1n && BigInt(b1!.number) <= headAfter + 1n, b1!.number);
    assert.equal(BigInt(b2!.number), BigInt(b1!.number) + 1n);
    assert.equal(b2!.parentHash, b1!.hash);
    assert.ok(BigInt(b2!.timestamp) > BigInt(b1!.timestamp));
    assert.deepEqual(
      b1!.calls.map((c) => c.status),
      ["0x1", "0x1", "0x1"],
    );
    assert.equal(b1!.transactions.length, 3);
    assert.equal((b1!.transactions[1] as { from: string }).from, a.toLowerCase());
    // traceTransfers: each ETH movement is an ERC-20 Transfer log from 0xeeee…eeee.
    const t = b1!.calls[1]!.logs![0]!;
    assert.equal(t.address, `0x${"ee".repeat(20)}`);
    assert.deepEqual(t.topics, [
      toEventSelector("Transfer(address,address,uint256)"),
      pad(a.toLowerCase() as Hex),
      pad(b.toLowerCase() as Hex),
    ]);
    assert.equal(BigInt(t.data), 10n ** 17n);
    assert.equal(t.blockHash, b1!.hash);
    // The ping: its value transfer, then Inner's own log.
    const pingLogs = b1!.calls[2]!.logs!;
    assert.equal(pingLogs.length, 2);
    assert.equal(pingLogs[1]!.address, inner);
    // Block 2 sees block 1's ping.
    const pingsNow = BigInt(
      await rpc<string>(seq.rpcUrl, "eth_call", [
        { to: inner, data: encodeFunctionData({ abi: INNER_ABI, functionName: "pings" }) },
      ]),
    );
    assert.equal(BigInt(b2!.calls[0]!.returnData), pingsNow + 1n);
    // Nothing happened for real.
    assert.equal(await rpc(seq.rpcUrl, "eth_getBalance", [a, "latest"]), "0x0");
  });

  it("balance and code overrides, a revert result, validation errors, bad params", async () => {
    const rich = freshAddress();
    const blocks = await rpc<SimBlock[]>(seq.rpcUrl, "eth_simulateV1", [
      {
        blockStateCalls: [
          {
            stateOverrides: {
              [rich]: { balance: numberToHex(5n * 10n ** 18n) },
              // Inner now runs Loop's code.
              [inner]: { code: contracts.Loop!.deployedBytecode },
            },
            calls: [
              { from: rich, to: sender.address, value: numberToHex(4n * 10n ** 18n) },
              {
                from: rich,
                to: inner,
                data: encodeFunctionData({ abi: LOOP_ABI, functionName: "spin", args: [4n] }),
              },
              {
                from: rich,
                to: outer,
                data: encodeFunctionData({ abi: OUTER_ABI, functionName: "nestedRevert", args: [0n] }),
              },
            ],
          },
        ],
      },
    ]);
    const [c0, c1, c2] = blocks[0]!.calls;
    assert.equal(c0!.status, "0x1");
    assert.equal(c1!.status, "0x1");
    assert.equal(BigInt(c1!.returnData), 6n);
    // Outer → Middle → Inner.fail, which Loop's code does not have: a revert, code 3.
    assert.equal(c2!.status, "0x0");
    assert.equal(c2!.error!.code, 3);
    const poor = freshAddress();
    const v = await rpcRaw(seq.rpcUrl, "eth_simulateV1", [
      { blockStateCalls: [{ calls: [{ from: poor, to: sender.address, value: "0x1" }] }], validation: true },
    ]);
    assert.equal(v.error?.code, -38014);
    const order = await rpcRaw(seq.rpcUrl, "eth_simulateV1", [
      { blockStateCalls: [{ blockOverrides: { number: "0x1" } }] },
    ]);
    assert.equal(order.error?.code, -38020);
    const bad = await rpcRaw(seq.rpcUrl, "eth_simulateV1", [
      { blockStateCalls: [{ calls: [{ to: "0x12" }] }] },
    ]);
    assert.equal(bad.error?.code, -32602);
    assert.match(bad.error!.message, /param 0 \(payload\)\.blockStateCalls\[0\]\.calls\[0\]\.to/);
  });
});
