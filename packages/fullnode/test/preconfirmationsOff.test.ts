import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { JsonRpcProvider, Network, Wallet } from "ethers";
import {
  type Abi,
  type Hex,
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  http,
  keccak256,
  numberToHex,
} from "viem";
import {
  DEV_CHAIN_ID,
  ZERO_HASH,
  devChain,
  devKeyAccount,
  devPrivateKey,
  freshAddress,
} from "../../sequencer/test/helpers/devChain.ts";
import { type RawLog, type RawReceipt, rpc } from "../../sequencer/test/helpers/rpcClient.ts";
import { SequencerProcess } from "../../sequencer/test/helpers/sequencerProcess.ts";
import { compileSolidity } from "../../sequencer/test/helpers/solidity.ts";
import { FullnodeProcess, TempDirs, fullnodeArgs, killAllFullnodes } from "./helpers/fullnodeProcess.ts";

/**
 * `--preconfirmations off`, as an indexer or explorer fed from a node would use it: receipts,
 * transactions, logs and `latest` state come only from sealed blocks, so every receipt's
 * blockHash finds its block; the `pending` tag and the sync sends stay real-time.
 */

const SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
contract Emitter {
    event Ping(address indexed from, uint256 n);
    function ping(uint256 n) external { emit Ping(msg.sender, n); emit Ping(msg.sender, n + 1); }
}`;

let seq: SequencerProcess;
let fullnode: FullnodeProcess;
const dirs = new TempDirs();
let emitter: { abi: Abi; bytecode: Hex };

before(async () => {
  const c = compileSolidity({ "Emitter.sol": SOURCE }).Emitter!;
  emitter = { abi: c.abi, bytecode: c.bytecode };
  seq = await SequencerProcess.start({ args: ["--preconfirmations", "off"] });
  fullnode = await FullnodeProcess.start([...fullnodeArgs(seq, dirs.make()), "--preconfirmations", "off"]);
});

after(async () => {
  await fullnode?.kill();
  await killAllFullnodes();
  await seq?.stop();
  await seq?.cleanup();
  dirs.cleanup();
});

interface RawTxInfo {
  hash: string;
  blockHash: string | null;
  blockNumber: string | null;
  blockTimestamp: string | null;
  transactionIndex: string | null;
}

for (const target of ["sequencer", "fullnode"] as const) {
  const url = () => (target === "sequencer" ? seq.rpcUrl : fullnode.rpcUrl);

  describe(`preconfirmations off / ${target}`, () => {
    it("viem: every receipt's blockHash, transactions and logs cross-reference their sealed block", async () => {
      const account = devKeyAccount(target === "sequencer" ? 3 : 4);
      const chain = devChain(url());
      const pub = createPublicClient({ chain, transport: http(), pollingInterval: 50 });
      const wallet = createWalletClient({ chain, transport: http(), account, pollingInterval: 50 });
      const deploy = await pub.waitForTransactionReceipt({
        hash: await wallet.deployContract({ abi: emitter.abi, bytecode: emitter.bytecode }),
      });
      const address = deploy.contractAddress!;
      // Sent back to back: several land in one block, and some blocks seal between them.
      const hashes: Hex[] = [];
      for (let i = 0; i < 20; i++)
        hashes.push(
          await wallet.writeContract({ address, abi: emitter.abi, functionName: "ping", args: [BigInt(i)] }),
        );
      let checked = 0;
      for (const hash of hashes) {
        const r = await pub.waitForTransactionReceipt({ hash });
        assert.notEqual(r.blockHash, ZERO_HASH, "never the placeholder");
        const block = await pub.getBlock({ blockHash: r.blockHash });
        assert.equal(block.number, r.blockNumber);
        assert.equal(block.transactions[r.transactionIndex], hash);
        assert.equal(r.logs.length, 2);
        for (const l of r.logs) {
          assert.equal(l.blockHash, r.blockHash);
          assert.equal(l.blockNumber, r.blockNumber);
        }
        const byHash = await pub.getLogs({ address, blockHash: r.blockHash });
        assert.ok(
          r.logs.every((l) => byHash.some((x) => x.logIndex === l.logIndex && x.transactionHash === hash)),
        );
        const tx = await rpc<RawTxInfo>(url(), "eth_getTransactionByHash", [hash]);
        assert.equal(tx.blockHash, r.blockHash);
        assert.equal(tx.blockTimestamp, numberToHex(block.timestamp));
        checked++;
      }
      assert.equal(checked, hashes.length);
    });

    it("ethers: receipt.getBlock() finds the block the receipt names", async () => {
      const p = new JsonRpcProvider(url(), Network.from(DEV_CHAIN_ID), {
        staticNetwork: true,
        pollingInterval: 50,
        cacheTimeout: -1,
      });
      try {
        const wallet = new Wallet(devPrivateKey(target === "sequencer" ? 5 : 6), p);
        for (let i = 0; i < 10; i++) {
          const tx = await wallet.sendTransaction({ to: freshAddress(), value: 1n });
          const r = (await tx.wait())!;
          const block = await r.getBlock();
          assert.equal(block.hash, r.blockHash);
          assert.equal(block.number, r.blockNumber);
          assert.ok(block.transactions.includes(r.hash));
        }
      } finally {
        p.destroy();
      }
    });

    it("a preconfirmed transaction: the sync send answers at once; by hash it is pending, latest state and logs wait for the seal, pending sees it", async () => {
      const account = devKeyAccount(target === "sequencer" ? 7 : 8);
      const chain = devChain(url());
      const pub = createPublicClient({ chain, transport: http() });
      const wallet = createWalletClient({ chain, transport: http(), account });
      const deploy = await pub.waitForTransactionReceipt({
        hash: await wallet.deployContract({ abi: emitter.abi, bytecode: emitter.bytecode }),
        pollingInterval: 50,
      });
      const address = deploy.contractAddress!;
      let seenUnsealed = 0;
      for (let attempt = 0; attempt < 10 && seenUnsealed < 3; attempt++) {
        const to = freshAddress();
        const nonce = await pub.getTransactionCount({ address: account.address, blockTag: "pending" });
        const raws = [
          await wallet.signTransaction(await wallet.prepareTransactionRequest({ to, value: 5n, nonce })),
          await wallet.signTransaction(
            await wallet.prepareTransactionRequest({
              to: address,
              data: encodeFunctionData({ abi: emitter.abi, functionName: "ping", args: [7n] }),
              nonce: nonce + 1,
              gas: 100_000n,
            }),
          ),
        ];
        // Real-time in both modes: EIP-7966 returns the preconfirmed receipt.
        await rpc<RawReceipt>(url(), "eth_sendRawTransactionSync", [raws[0]]);
        const sync = await rpc<RawReceipt>(url(), "eth_sendRawTransactionSync", [raws[1]]);
        assert.equal(sync.status, "0x1");
        const hash = keccak256(raws[1]!);
        const from = numberToHex(BigInt(sync.blockNumber) - 1n);
        const [receipt, tx, latestBal, pendingBal, latestLogs, pendingLogs, latest] = await Promise.all([
          rpc<RawReceipt | null>(url(), "eth_getTransactionReceipt", [hash]),
          rpc<RawTxInfo>(url(), "eth_getTransactionByHash", [hash]),
          rpc<string>(url(), "eth_getBalance", [to, "latest"]),
          rpc<string>(url(), "eth_getBalance", [to, "pending"]),
          rpc<RawLog[]>(url(), "eth_getLogs", [{ address, fromBlock: from, toBlock: "latest" }]),
          rpc<RawLog[]>(url(), "eth_getLogs", [{ address, fromBlock: from, toBlock: "pending" }]),
          rpc<string>(url(), "eth_blockNumber"),
        ]);
        assert.equal(pendingBal, "0x5");
        assert.equal(pendingLogs.filter((l) => l.transactionHash === hash).length, 2);
        if (receipt === null) {
          // Not sealed when asked: nothing about it is served as if it were.
          seenUnsealed++;
          assert.equal(tx.blockHash, null);
          assert.equal(tx.blockNumber, null);
          if (BigInt(latest) < BigInt(sync.blockNumber)) {
            assert.equal(latestBal, "0x0");
            assert.deepEqual(
              latestLogs.filter((l) => l.transactionHash === hash),
              [],
            );
          }
        } else {
          assert.notEqual(receipt.blockHash, ZERO_HASH);
        }
        const sealed = await pub.waitForTransactionReceipt({ hash, pollingInterval: 50 });
        assert.notEqual(sealed.blockHash, ZERO_HASH);
        assert.equal(await pub.getBalance({ address: to }), 5n);
      }
      assert.ok(seenUnsealed >= 3, `saw ${seenUnsealed} transactions before their block sealed`);
    });
  });
}
