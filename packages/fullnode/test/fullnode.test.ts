import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  createP2PNode,
  encodeEnvelope,
  encodeSignedMiniBlock,
  miniBlockHash,
  randomPrivateKey,
  signPayload,
  SigningDomain,
  silentLogger,
} from "@staccato/common";
import { http, createPublicClient, createWalletClient, parseEther } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { SequencerProcess } from "../../sequencer/test/helpers/sequencerProcess.ts";
import { compileSolidity } from "../../sequencer/test/helpers/solidity.ts";
import { DEV_CHAIN_ID, DEV_MNEMONIC, devChain } from "../../sequencer/test/helpers/devChain.ts";

const ROOT = join(import.meta.dirname, "..", "..", "..");

/** A real staccato-fullnode process. */
class FullnodeProcess {
  private out = "";
  rpcUrl = "";
  private constructor(readonly child: ChildProcess) {
    child.stdout!.on("data", (d: Buffer) => {
      this.out += d.toString();
    });
    child.stderr!.on("data", (d: Buffer) => {
      this.out += d.toString();
    });
  }

  static async start(args: string[]): Promise<FullnodeProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", "packages/fullnode/src/cli.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, STACCATO_LOG_FORMAT: "json" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const p = new FullnodeProcess(child);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const line = p.out.split("\n").find((l) => l.includes('"fullnode started"'));
      if (line !== undefined) {
        p.rpcUrl = JSON.parse(line).rpc;
        return p;
      }
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    throw new Error(`fullnode did not start:\n${p.out}`);
  }

  logs(): Record<string, unknown>[] {
    return this.out
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l));
  }

  async rpc<T>(method: string, params: unknown[] = []): Promise<T> {
    const r = await fetch(this.rpcUrl, {
      method: "POST",
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    const j = (await r.json()) as { result: T; error?: unknown };
    if (j.error !== undefined) throw new Error(JSON.stringify(j.error));
    return j.result;
  }

  async kill(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill(signal);
    await exited;
  }
}

async function rpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const r = await fetch(url, {
    method: "POST",
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const j = (await r.json()) as { result: T; error?: unknown };
  if (j.error !== undefined) throw new Error(JSON.stringify(j.error));
  return j.result;
}

async function waitFor(what: string, fn: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A libp2p peer that is not the sequencer, meshed with full node `target` on the mini-block topic. */
async function rogueFor(target: FullnodeProcess, keyFile: string) {
  const rogue = await createP2PNode(
    {
      listen: ["/ip4/127.0.0.1/tcp/0"],
      announce: [],
      bootnodes: [(target.logs().find((l) => l.msg === "fullnode started")!.p2p as string[])[0]!],
      keyFile,
      maxGossipBytes: 8 << 20,
      maxOutboundBufferBytes: 32 << 20,
      heartbeatMs: 700,
      chainId: DEV_CHAIN_ID,
    },
    { logger: silentLogger() },
  );
  rogue.subscribe("miniBlock", { validate: () => "accept", onMessage: () => {} });
  await rogue.start();
  await waitFor("rogue meshed", async () => rogue.topicPeers("miniBlock").length > 0, 10_000);
  return rogue;
}

describe("fullnode / follows the sequencer", () => {
  let seq: SequencerProcess;
  const nodes: FullnodeProcess[] = [];
  const dirs: string[] = [];
  let boot = "";
  const args = (dir: string) => [
    "--chain",
    join(seq.dataDir, "chain.json"),
    "--data-dir",
    dir,
    "--rpc-port",
    "0",
    "--metrics-port",
    "0",
    "--p2p-listen",
    "/ip4/127.0.0.1/tcp/0",
    "--bootnodes",
    boot,
    "--sequencer-rpc",
    seq.rpcUrl,
  ];
  const newDir = () => {
    const d = mkdtempSync(join(tmpdir(), "staccato-fn-"));
    dirs.push(d);
    return d;
  };

  before(async () => {
    seq = await SequencerProcess.start();
    boot = (seq.logs().find((l) => l.msg === "sequencer started")!.p2p as string[])[0]!;
  });

  after(async () => {
    for (const n of nodes) await n.kill("SIGKILL");
    await seq?.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
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
    let last: `0x${string}` = "0x";
    for (let i = 0; i < 20; i++) {
      await viaA.sendTransaction({ to, value: parseEther("0.001") });
      last = await viaSeq.sendTransaction({ to, value: parseEther("0.002") });
    }
    const receipt = await readB.waitForTransactionReceipt({ hash: last, pollingInterval: 50 });
    assert.equal(receipt.status, "success");
    const target = receipt.blockNumber;
    for (const n of [a, b])
      await waitFor("verified block", async () => BigInt(await n.rpc<string>("eth_blockNumber")) >= target);
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
  });

  it("a mixed workload (token transfers, deploys, storage writes and deletes, reverts) leaves identical state, proofs, receipts and logs", async () => {
    const { Mixed } = compileSolidity({
      "Mixed.sol": `
pragma solidity 0.8.30;
contract Mixed {
  mapping(uint256 => uint256) public slots;
  mapping(address => uint256) public balanceOf;
  event Moved(address indexed from, address indexed to, uint256 amount);
  constructor() { balanceOf[msg.sender] = 1e24; }
  function transfer(address to, uint256 amount) external {
    require(balanceOf[msg.sender] >= amount, "balance");
    balanceOf[msg.sender] -= amount;
    balanceOf[to] += amount;
    emit Moved(msg.sender, to, amount);
  }
  function put(uint256 k, uint256 v) external { slots[k] = v; }
  function drop(uint256 k) external { delete slots[k]; }
}`,
    });
    const [a, b] = nodes as [FullnodeProcess, FullnodeProcess];
    const chain = devChain(seq.rpcUrl);
    const pub = createPublicClient({ chain, transport: http(seq.rpcUrl) });
    const deployer = createWalletClient({
      chain,
      transport: http(a.rpcUrl),
      account: mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 7 }),
    });
    const deployHash = await deployer.deployContract({ abi: Mixed!.abi, bytecode: Mixed!.bytecode });
    const token = (await pub.waitForTransactionReceipt({ hash: deployHash, pollingInterval: 20 }))
      .contractAddress!;
    const recipients = Array.from(
      { length: 8 },
      (_, i) => `0x${(i + 1).toString(16).padStart(40, "0")}` as const,
    );
    let last: `0x${string}` = "0x";
    for (let i = 0; i < 40; i++) {
      await deployer.writeContract({
        address: token,
        abi: Mixed!.abi,
        functionName: "transfer",
        args: [recipients[i % 8]!, BigInt(i + 1)],
      });
      await deployer.writeContract({
        address: token,
        abi: Mixed!.abi,
        functionName: "put",
        args: [BigInt(i % 5), BigInt(i + 100)],
      });
      if (i % 3 === 0)
        await deployer.writeContract({
          address: token,
          abi: Mixed!.abi,
          functionName: "drop",
          args: [BigInt(i % 5)],
        });
      if (i % 10 === 0) {
        // a reverting call mined with status 0
        last = await deployer.writeContract({
          address: token,
          abi: Mixed!.abi,
          functionName: "transfer",
          args: [recipients[0]!, 10n ** 30n],
          gas: 100_000n,
        });
      }
    }
    last = await deployer.deployContract({ abi: Mixed!.abi, bytecode: Mixed!.bytecode });
    const r = await pub.waitForTransactionReceipt({ hash: last, pollingInterval: 20 });
    const head = r.blockNumber;
    await waitFor(
      "the block after the workload to seal",
      async () => BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber")) > head,
    );
    for (const n of [a, b])
      await waitFor("full nodes at head", async () => BigInt(await n.rpc<string>("eth_blockNumber")) > head);
    const tag = `0x${head.toString(16)}`;
    const all = [
      (m: string, p: unknown[]) => rpc(seq.rpcUrl, m, p),
      (m: string, p: unknown[]) => a.rpc(m, p),
      (m: string, p: unknown[]) => b.rpc(m, p),
    ];
    const same = async (m: string, p: unknown[]) => {
      const [x, y, z] = await Promise.all(all.map((f) => f(m, p)));
      assert.deepEqual(y, x, `${m} ${JSON.stringify(p)} differs on full node A`);
      assert.deepEqual(z, x, `${m} ${JSON.stringify(p)} differs on full node B`);
      return x;
    };
    for (let n = 1n; n <= head; n++) {
      const blk = (await same("eth_getBlockByNumber", [`0x${n.toString(16)}`, false])) as { hash: string };
      await same("eth_getBlockReceipts", [blk.hash]);
    }
    await same("eth_getLogs", [{ fromBlock: "0x1", toBlock: tag, address: token }]);
    // No more transactions: every node's pending state is the same settled state.
    const latest = "pending";
    for (const who of [token, ...recipients, deployer.account.address]) {
      await same("eth_getBalance", [who, latest]);
      await same("eth_getTransactionCount", [who, latest]);
      await same("eth_getCode", [who, latest]);
    }
    const slotKeys = Array.from({ length: 5 }, (_, k) => `0x${k.toString(16).padStart(64, "0")}`);
    for (const k of slotKeys) await same("eth_getStorageAt", [token, k, latest]);
    const proof = (await same("eth_getProof", [token, slotKeys, "latest"])) as { storageProof: unknown[] };
    assert.equal(proof.storageProof.length, 5);
  });

  it("a full node killed with -9 resumes from its store and catches up", async () => {
    const a = nodes[0]!;
    const dir = a.child.spawnargs[a.child.spawnargs.indexOf("--data-dir") + 1]!;
    await a.kill("SIGKILL");
    const wallet = createWalletClient({
      chain: devChain(seq.rpcUrl),
      transport: http(seq.rpcUrl),
      account: mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 6 }),
    });
    for (let i = 0; i < 10; i++)
      await wallet.sendTransaction({ to: "0x00000000000000000000000000000000000beef1", value: 1n });
    await new Promise((r) => setTimeout(r, 1500));
    const again = await FullnodeProcess.start(args(dir));
    nodes[0] = again;
    const head = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
    await waitFor("catch-up", async () => BigInt(await again.rpc<string>("eth_blockNumber")) >= head);
    const h = `0x${head.toString(16)}`;
    const x = await again.rpc<{ hash: string }>("eth_getBlockByNumber", [h, false]);
    const y = await rpc<{ hash: string }>(seq.rpcUrl, "eth_getBlockByNumber", [h, false]);
    assert.equal(x.hash, y.hash);
    assert.equal(
      BigInt(
        await again.rpc<string>("eth_getBalance", ["0x00000000000000000000000000000000000beef1", "pending"]),
      ),
      10n,
    );
    assert.ok(
      again.logs().some((l) => l.msg === "loaded store" && Number(l.verifiedBlock) > 0),
      "resumed from its store",
    );
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
    assert.equal(
      BigInt(await c.rpc<string>("eth_getBalance", ["0x00000000000000000000000000000000000beef1", "latest"])),
      10n,
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
    const status = await b.rpc<{ appliedMiniBlock: number }>("staccato_status");
    const applied = BigInt(status.appliedMiniBlock);
    const last = await rpc<{ hash: `0x${string}` }>(seq.rpcUrl, "staccato_getMiniBlockByNumber", [
      `0x${applied.toString(16)}`,
    ]);
    const open = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber")) + 1n;
    const key = Buffer.from(
      readFileSync(join(seq.dataDir, "sequencer.key"), "utf8").trim().replace(/^0x/, ""),
      "hex",
    );
    const victim = `0x${"09".repeat(20)}`;
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
    const dir = newDir();
    const rogue = await rogueFor(b, join(dir, "k"));
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
    await rogue.stop();
    assert.equal(await b.rpc("eth_getBalance", [victim, "pending"]), "0x0");
    // It follows the real chain again.
    const wallet = createWalletClient({
      chain: devChain(seq.rpcUrl),
      transport: http(seq.rpcUrl),
      account: mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 8 }),
    });
    const tx = await wallet.sendTransaction({ to: "0x00000000000000000000000000000000000beef2", value: 5n });
    await waitFor(
      "the node to follow again",
      async () => (await b.rpc<unknown>("eth_getTransactionReceipt", [tx])) !== null,
    );
    const head = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
    await waitFor("verified to head", async () => BigInt(await b.rpc<string>("eth_blockNumber")) >= head);
    const h = `0x${head.toString(16)}`;
    assert.equal(
      (await b.rpc<{ hash: string }>("eth_getBlockByNumber", [h, false])).hash,
      (await rpc<{ hash: string }>(seq.rpcUrl, "eth_getBlockByNumber", [h, false])).hash,
    );
    assert.equal((await fetch(b.rpcUrl.replace(/\/?$/, "/health"))).status, 200);
  });
});
