import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type Abi,
  type Hex,
  type PublicClient,
  createPublicClient,
  createWalletClient,
  encodeAbiParameters,
  encodeFunctionData,
  fromRlp,
  getContractAddress,
  hexToBigInt,
  hexToBytes,
  http,
  keccak256,
  numberToHex,
  pad,
} from "viem";
import { devChain, devKeyAccount, freshAddress } from "../../sequencer/test/helpers/devChain.ts";
import { type RawBlock, type RawReceipt, rpc } from "../../sequencer/test/helpers/rpcClient.ts";
import { SequencerProcess } from "../../sequencer/test/helpers/sequencerProcess.ts";
import { compileSolidity } from "../../sequencer/test/helpers/solidity.ts";
import { verifyMerkleProof } from "../../common/node_modules/@ethereumjs/mpt/dist/esm/index.js";
import { FullnodeProcess, TempDirs, fullnodeArgs, killAllFullnodes } from "./helpers/fullnodeProcess.ts";

/**
 * Chain data that lasts (issue 14), as an indexer meets it: values written over 300+ blocks
 * (balances, nonces, contract deploys, a contract created and self-destructed in one transaction,
 * storage writes and deletes) read back at every block through viem: on a full node (an archive
 * by default, with only 257 blocks in memory so most history comes from its store, and 128 blocks
 * of state in memory so most state comes from its change sets), and on the sequencer (its window
 * set wide enough here). Then the full node is restarted,
 * and killed with SIGKILL mid-stream and restarted: it serves the same history and state. The
 * sequencer keeps 257 blocks in memory too, so its answers for old blocks come from its own store,
 * before and after it is killed and restarted.
 */

const SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
contract Child {
    function kill() external { selfdestruct(payable(msg.sender)); }
}
contract Hist {
    mapping(uint256 => uint256) public v;
    event Set(uint256 indexed k, uint256 x);
    function set(uint256 k, uint256 x) external { v[k] = x; emit Set(k, x); }
    function del(uint256 k) external { delete v[k]; }
    function spawn() external returns (address) { return address(new Child()); }
    function spawnAndKill() external payable { Child c = new Child(); c.kill(); }
    function hashOf(uint256 n) external view returns (bytes32) { return blockhash(n); }
    receive() external payable {}
}`;

const BLOCKS = 300;
/** Few transactions in memory: nearly every block's transactions and receipts come from disk. */
const CACHE_TXS = ["--block-cache-txs", "8"];
let histAddress: Hex;
/** keccak256(rlp("")): the storage root of an account without storage. */
const EMPTY_ROOT = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421";
const SLOTS = 4n;

let seq: SequencerProcess;
let fullnode: FullnodeProcess;
let fullnodeDir: string;
const dirs = new TempDirs();
let hist: { abi: Abi; bytecode: Hex; childCode: Hex };

/** One value a test wrote, and the block its receipt is in. */
interface Write {
  block: bigint;
  key: string;
  value: string;
}

const writes: Write[] = [];
const keys = new Map<
  string,
  { read: (c: PublicClient, blockNumber: bigint) => Promise<string>; initial: string }
>();
let firstBlock = 0n;
let lastBlock = 0n;
const txHashes: Hex[] = [];
/** Accounts proven with eth_getProof at every block: each with the keys of its values. */
const proven: { address: Hex; balance?: string; nonce?: string; slots: [slot: Hex, key: string][] }[] = [];

before(async () => {
  const out = compileSolidity({ "Hist.sol": SOURCE });
  hist = { abi: out.Hist!.abi, bytecode: out.Hist!.bytecode, childCode: out.Child!.deployedBytecode };
  // The sequencer keeps enough state history to be compared at every block (its window and 4444
  // beyond it: rpcSpec.test.ts).
  seq = await SequencerProcess.start({
    args: ["--block-ms", "100", "--state-history", "2000", "--block-cache", "257", ...CACHE_TXS],
  });
  fullnodeDir = dirs.make();
  fullnode = await FullnodeProcess.start([
    ...fullnodeArgs(seq, fullnodeDir),
    "--block-cache",
    "257",
    ...CACHE_TXS,
  ]);
});

after(async () => {
  await fullnode?.kill();
  await killAllFullnodes();
  await seq?.stop();
  await seq?.cleanup();
  dirs.cleanup();
});

/** The expected value of `key` at the end of `block`: the last write in a block ≤ it. */
function expected(key: string, block: bigint): string {
  let v = keys.get(key)!.initial;
  for (const w of writes) if (w.key === key && w.block <= block) v = w.value;
  return v;
}

const mappingSlot = (k: bigint): Hex =>
  keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }], [k, 0n]));

async function writeHistory(): Promise<void> {
  const account = devKeyAccount(17);
  const chain = devChain(seq.rpcUrl);
  const pub = createPublicClient({ chain, transport: http(), pollingInterval: 10 });
  const wallet = createWalletClient({ chain, transport: http(), account });
  const send = async (req: Parameters<typeof wallet.prepareTransactionRequest>[0]): Promise<RawReceipt> => {
    const prepared = await wallet.prepareTransactionRequest(req);
    const raw = await wallet.signTransaction(prepared as never);
    const r = await rpc<RawReceipt>(seq.rpcUrl, "eth_sendRawTransactionSync", [raw, 10_000]);
    assert.equal(r.status, "0x1");
    txHashes.push(r.transactionHash as Hex);
    const block = BigInt(r.blockNumber);
    writes.push({ block, key: "nonce", value: numberToHex(prepared.nonce! + 1) });
    return r;
  };
  keys.set("nonce", {
    initial: numberToHex(await pub.getTransactionCount({ address: account.address })),
    read: async (c, blockNumber) =>
      numberToHex(await c.getTransactionCount({ address: account.address, blockNumber })),
  });
  const deployed = await send({ data: hist.bytecode, gas: 2_000_000n });
  const addr = deployed.contractAddress as Hex;
  histAddress = addr;
  proven.push({ address: account.address, nonce: "nonce", slots: [] });
  proven.push({
    address: addr,
    balance: "hist.balance",
    slots: Array.from({ length: Number(SLOTS) }, (_, k) => [mappingSlot(BigInt(k)), `slot${k}`]),
  });
  firstBlock = BigInt(deployed.blockNumber);
  keys.set("hist.code", {
    initial: "0x",
    read: async (c, blockNumber) => (await c.getCode({ address: addr, blockNumber })) ?? "0x",
  });
  writes.push({ block: firstBlock, key: "hist.code", value: "deployed" });
  keys.set("hist.balance", {
    initial: "0x0",
    read: async (c, blockNumber) => numberToHex(await c.getBalance({ address: addr, blockNumber })),
  });
  for (let k = 0n; k < SLOTS; k++) {
    keys.set(`slot${k}`, {
      initial: numberToHex(0n, { size: 32 }),
      read: async (c, blockNumber) =>
        (await c.getStorageAt({ address: addr, slot: mappingSlot(k), blockNumber })) ??
        numberToHex(0n, { size: 32 }),
    });
    keys.set(`view${k}`, {
      initial: "0x0",
      read: async (c, blockNumber) =>
        numberToHex(
          (await c.readContract({
            address: addr,
            abi: hist.abi,
            functionName: "v",
            args: [k],
            blockNumber,
          })) as bigint,
        ),
    });
  }
  const recipients = [freshAddress(), freshAddress(), freshAddress()];
  const paid = new Map<string, bigint>();
  for (const [i, to] of recipients.entries()) {
    proven.push({ address: to, balance: `balance${i}`, slots: [] });
    keys.set(`balance${i}`, {
      initial: "0x0",
      read: async (c, blockNumber) => numberToHex(await c.getBalance({ address: to, blockNumber })),
    });
  }
  let histBalance = 0n;
  // A contract's nonce starts at 1 (EIP-161) and counts its CREATEs.
  let contractNonce = 1n;
  const children: Hex[] = [];
  for (let i = 0; ; i++) {
    const op = i % 6;
    let r: RawReceipt;
    if (op === 0 || op === 3) {
      const j = i % recipients.length;
      const to = recipients[j]!;
      const value = BigInt(i + 1);
      r = await send({ to, value });
      paid.set(to, (paid.get(to) ?? 0n) + value);
      writes.push({ block: BigInt(r.blockNumber), key: `balance${j}`, value: numberToHex(paid.get(to)!) });
    } else if (op === 1 || op === 4) {
      const k = BigInt(i) % SLOTS;
      const x = BigInt(1000 + i);
      r = await send({ to: addr, data: encodeCall("set", [k, x]), gas: 200_000n });
      writes.push({ block: BigInt(r.blockNumber), key: `slot${k}`, value: numberToHex(x, { size: 32 }) });
      writes.push({ block: BigInt(r.blockNumber), key: `view${k}`, value: numberToHex(x) });
    } else if (op === 2) {
      const k = BigInt(i + 1) % SLOTS;
      r = await send({ to: addr, data: encodeCall("del", [k]), gas: 200_000n });
      writes.push({ block: BigInt(r.blockNumber), key: `slot${k}`, value: numberToHex(0n, { size: 32 }) });
      writes.push({ block: BigInt(r.blockNumber), key: `view${k}`, value: "0x0" });
    } else if (i % 12 === 5) {
      // A contract created and self-destructed in one transaction (EIP-6780): its value returns.
      r = await send({ to: addr, data: encodeCall("spawnAndKill", []), value: 7n, gas: 500_000n });
      contractNonce++;
      histBalance += 7n;
      writes.push({ block: BigInt(r.blockNumber), key: "hist.balance", value: numberToHex(histBalance) });
    } else {
      r = await send({ to: addr, data: encodeCall("spawn", []), gas: 500_000n });
      const child = getContractAddress({ from: addr, nonce: contractNonce++ });
      children.push(child);
      const key = `child${children.length - 1}`;
      keys.set(key, {
        initial: "0x",
        read: async (c, blockNumber) => (await c.getCode({ address: child, blockNumber })) ?? "0x",
      });
      writes.push({ block: BigInt(r.blockNumber), key, value: hist.childCode });
    }
    lastBlock = BigInt(r.blockNumber);
    if (lastBlock - firstBlock >= BLOCKS) break;
  }
  // hist.code's "deployed" stands for its runtime code, known once deployed.
  const code = await pub.getCode({ address: addr });
  for (const w of writes) if (w.key === "hist.code") w.value = code!;

  function encodeCall(functionName: string, args: unknown[]): Hex {
    return encodeFunctionData({ abi: hist.abi, functionName, args });
  }
}

/** Reads every key at every block from firstBlock to lastBlock through `url` and compares. */
async function readBack(url: string, from: bigint, to: bigint): Promise<number> {
  const c = createPublicClient({ chain: devChain(url), transport: http(url, { batch: { batchSize: 200 } }) });
  let n = 0;
  for (let b = from; b <= to; b++) {
    const jobs = [...keys].map(async ([key, k]) => {
      assert.equal(await k.read(c as PublicClient, b), expected(key, b), `${key} at block ${b} via ${url}`);
      n++;
    });
    await Promise.all(jobs);
  }
  return n;
}

/**
 * eth_getProof (through viem) of every proven account at every `step`-th block from `from` to
 * `to`, verified with @ethereumjs/mpt against that block's stateRoot, and its values against what
 * was written.
 */
async function checkProofs(url: string, from: bigint, to: bigint, step = 1n): Promise<number> {
  const c = createPublicClient({ chain: devChain(url), transport: http(url) });
  let n = 0;
  for (let b = from; b <= to; b += step) {
    const block = await c.getBlock({ blockNumber: b });
    for (const subject of proven) {
      const p = await c.getProof({
        address: subject.address,
        storageKeys: subject.slots.map(([slot]) => slot),
        blockNumber: b,
      });
      const where = `${subject.address} at block ${b} via ${url}`;
      const leaf = await verifyMerkleProof(
        hexToBytes(keccak256(subject.address)),
        p.accountProof.map((x) => hexToBytes(x)),
        { root: hexToBytes(block.stateRoot) },
      ).catch((err: Error) => assert.fail(`account proof of ${where}: ${err.message}`));
      if (leaf === null) {
        // Proven absent (a recipient not paid yet, the contract before its deployment).
        assert.equal(p.balance, 0n, where);
        assert.equal(p.nonce, 0, where);
        assert.equal(p.storageHash, EMPTY_ROOT, where);
      } else {
        const [nonce, balance, storageRoot] = fromRlp(leaf, "hex") as Hex[];
        const q = (h: Hex) => (h === "0x" ? 0n : hexToBigInt(h));
        assert.equal(q(nonce!), BigInt(p.nonce), where);
        assert.equal(q(balance!), p.balance, where);
        assert.equal(storageRoot, p.storageHash, where);
      }
      if (subject.nonce !== undefined)
        assert.equal(BigInt(p.nonce), BigInt(expected(subject.nonce, b)), where);
      if (subject.balance !== undefined) assert.equal(p.balance, BigInt(expected(subject.balance, b)), where);
      for (const [i, [slot, key]] of subject.slots.entries()) {
        const sp = p.storageProof[i]!;
        const want = BigInt(expected(key, b));
        assert.equal(sp.value, want, `${key} of ${where}`);
        if (p.storageHash === EMPTY_ROOT) {
          // No storage: nothing to prove against.
          assert.deepEqual(sp.proof, [], `${key} of ${where}`);
          continue;
        }
        const value = await verifyMerkleProof(
          hexToBytes(keccak256(pad(slot))),
          sp.proof.map((x) => hexToBytes(x)),
          { root: hexToBytes(p.storageHash) },
        ).catch((err: Error) => assert.fail(`${key} proof of ${where}: ${err.message}`));
        if (want === 0n) assert.equal(value, null, `${key} of ${where} proven absent`);
        else assert.equal(hexToBigInt(fromRlp(value!, "hex") as Hex), want, `${key} of ${where}`);
      }
      n++;
    }
  }
  return n;
}

describe("archive / state and history at every block", () => {
  it(`writes values over ${BLOCKS} blocks, then reads every one back at every block from the full node`, async () => {
    await writeHistory();
    // The full node has verified the last block.
    await waitUntil(async () => BigInt(await fullnode.rpc<string>("eth_blockNumber")) >= lastBlock);
    const reads = await readBack(fullnode.rpcUrl, firstBlock, lastBlock);
    assert.ok(reads > 4_000, `${reads} reads`);
  });

  it("the sequencer, within its state window, serves the same values", async () => {
    await readBack(seq.rpcUrl, firstBlock, lastBlock);
  });

  it("eth_getProof at every block verifies against that block's stateRoot, on both daemons", async () => {
    // The full node proves from its change sets (only 128 blocks of state in memory), the sequencer
    // from its state window; both rewind their state trie to the older root.
    const n = await checkProofs(fullnode.rpcUrl, firstBlock - 1n, lastBlock);
    assert.ok(n >= BLOCKS * proven.length, `${n} proofs`);
    await checkProofs(seq.rpcUrl, firstBlock - 1n, lastBlock);
  });

  it("blocks, receipts and logs of blocks no longer in the full node's memory match the sequencer's", async () => {
    for (const h of txHashes) {
      const [a, b] = await Promise.all([
        rpc<RawReceipt>(seq.rpcUrl, "eth_getTransactionReceipt", [h]),
        fullnode.rpc<RawReceipt>("eth_getTransactionReceipt", [h]),
      ]);
      assert.deepEqual(b, a, `receipt of ${h}`);
    }
    // A transaction read alone from disk (only its mini-block is read) is what its whole block,
    // rebuilt from disk, says of it: receipt and transaction, on both daemons.
    for (const url of [seq.rpcUrl, fullnode.rpcUrl]) {
      const blocks = new Map<string, { receipts: RawReceipt[]; block: RawBlock }>();
      for (const h of txHashes.filter((_, i) => i % 5 === 0)) {
        const r = await rpc<RawReceipt>(url, "eth_getTransactionReceipt", [h]);
        let whole = blocks.get(r.blockNumber);
        if (whole === undefined) {
          whole = {
            receipts: await rpc<RawReceipt[]>(url, "eth_getBlockReceipts", [r.blockNumber]),
            block: await rpc<RawBlock>(url, "eth_getBlockByNumber", [r.blockNumber, true]),
          };
          blocks.set(r.blockNumber, whole);
        }
        const i = Number(r.transactionIndex);
        assert.deepEqual(r, whole.receipts[i], `receipt of ${h} alone and in its block`);
        assert.deepEqual(
          await rpc(url, "eth_getTransactionByHash", [h]),
          whole.block.transactions[i],
          `transaction ${h} alone and in its block`,
        );
      }
    }
    for (let n = firstBlock; n <= lastBlock; n += 7n) {
      const [a, b] = await Promise.all([
        rpc<RawBlock>(seq.rpcUrl, "eth_getBlockByNumber", [numberToHex(n), true]),
        fullnode.rpc<RawBlock>("eth_getBlockByNumber", [numberToHex(n), true]),
      ]);
      assert.deepEqual(b, a, `block ${n}`);
      assert.deepEqual(
        await fullnode.rpc("eth_getBlockByHash", [a.hash, false]),
        await rpc(seq.rpcUrl, "eth_getBlockByHash", [a.hash, false]),
      );
    }
    const filter = { fromBlock: numberToHex(firstBlock), toBlock: numberToHex(lastBlock) };
    const [la, lb] = await Promise.all([
      rpc<unknown[]>(seq.rpcUrl, "eth_getLogs", [filter]),
      fullnode.rpc<unknown[]>("eth_getLogs", [filter]),
    ]);
    assert.ok(la.length > 50);
    assert.deepEqual(lb, la);
  });

  it("BLOCKHASH reaches 256 blocks back on both daemons, though those blocks' transactions left memory", async () => {
    await checkBlockHashes(seq.rpcUrl);
    await checkBlockHashes(fullnode.rpcUrl);
  });

  it("after a restart, and after SIGKILL mid-stream and a restart, the full node serves the same", async () => {
    await fullnode.kill("SIGTERM");
    const args = [...fullnodeArgs(seq, fullnodeDir), "--block-cache", "257", ...CACHE_TXS];
    fullnode = await FullnodeProcess.start(args);
    await readBack(fullnode.rpcUrl, firstBlock, lastBlock);
    await checkProofs(fullnode.rpcUrl, firstBlock, lastBlock, 13n);
    // Traffic while it is killed.
    const wallet = createWalletClient({
      chain: devChain(seq.rpcUrl),
      transport: http(),
      account: devKeyAccount(18),
    });
    const sending = (async () => {
      for (let i = 0; i < 40; i++) await wallet.sendTransaction({ to: freshAddress(), value: 1n });
    })();
    await new Promise((r) => setTimeout(r, 150));
    await fullnode.kill("SIGKILL");
    await sending;
    fullnode = await FullnodeProcess.start(args);
    await readBack(fullnode.rpcUrl, firstBlock, lastBlock);
    const latest = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
    await waitUntil(async () => BigInt(await fullnode.rpc<string>("eth_blockNumber")) >= latest);
    const [a, b] = await Promise.all([
      rpc<RawBlock>(seq.rpcUrl, "eth_getBlockByNumber", [numberToHex(latest), false]),
      fullnode.rpc<RawBlock>("eth_getBlockByNumber", [numberToHex(latest), false]),
    ]);
    assert.equal(b.hash, a.hash);
    await checkBlockHashes(fullnode.rpcUrl);
  });

  it("the sequencer, killed with SIGKILL and restarted, serves its old blocks and receipts from disk", async () => {
    const before = await Promise.all(
      txHashes.slice(0, 50).map((h) => rpc<RawReceipt>(seq.rpcUrl, "eth_getTransactionReceipt", [h])),
    );
    const blockBefore = await rpc<RawBlock>(seq.rpcUrl, "eth_getBlockByNumber", [
      numberToHex(firstBlock),
      true,
    ]);
    await seq.kill9();
    seq = await seq.restart({
      args: ["--block-ms", "100", "--state-history", "2000", "--block-cache", "257", ...CACHE_TXS],
    });
    const after = await Promise.all(
      txHashes.slice(0, 50).map((h) => rpc<RawReceipt>(seq.rpcUrl, "eth_getTransactionReceipt", [h])),
    );
    assert.deepEqual(after, before);
    assert.deepEqual(
      await rpc<RawBlock>(seq.rpcUrl, "eth_getBlockByNumber", [numberToHex(firstBlock), true]),
      blockBefore,
    );
    await checkBlockHashes(seq.rpcUrl);
  });
});

/**
 * BLOCKHASH(n) from an eth_call at block `top` equals block n's hash for every n in the 256
 * blocks before `top`, and is zero for `top` itself and beyond the 256. `top` is 20 blocks old,
 * so the oldest of them are past the 257 recent headers the daemons keep in memory (--block-cache
 * 257) and come from their history stores.
 */
async function checkBlockHashes(url: string): Promise<void> {
  const c = createPublicClient({ chain: devChain(url), transport: http(url) });
  const top = (await c.getBlockNumber()) - 20n;
  assert.ok(top > 300n, `${top} blocks`);
  const zero = pad("0x0", { size: 32 });
  for (let n = top - 257n; n <= top; n++) {
    const got = await c.readContract({
      address: histAddress,
      abi: hist.abi,
      functionName: "hashOf",
      args: [n],
      blockNumber: top,
    });
    const want = n === top || n < top - 256n ? zero : (await c.getBlock({ blockNumber: n })).hash;
    assert.equal(got, want, `BLOCKHASH(${n}) at block ${top} via ${url}`);
  }
}

async function waitUntil(cond: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}
