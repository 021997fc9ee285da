import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Contract, ContractFactory, JsonRpcProvider, Network, Wallet } from "ethers";
import { type Abi, type Hex, createPublicClient, createWalletClient, http, numberToHex, pad } from "viem";
import {
  DEV_CHAIN_ID,
  devChain,
  devKeyAccount,
  devPrivateKey,
  freshAddress,
} from "../../sequencer/test/helpers/devChain.ts";
import { SequencerProcess } from "../../sequencer/test/helpers/sequencerProcess.ts";
import { compileSolidity } from "../../sequencer/test/helpers/solidity.ts";
import { FullnodeProcess, TempDirs, fullnodeArgs, killAllFullnodes } from "./helpers/fullnodeProcess.ts";

/**
 * Read-your-writes (DESIGN §1), as a dapp meets it: viem and ethers, with their default block tags,
 * send a transaction, wait for its receipt, and read its effects at once, 100 times in a row and
 * with no sleeps, against the sequencer and against a full node. The same reads at the block
 * before the receipt's give the values from before the transaction.
 */

const SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
contract Box {
    uint256 public value;                        // slot 0
    function set(uint256 v) external { value = v; }
}`;

let seq: SequencerProcess;
let fullnode: FullnodeProcess;
const dirs = new TempDirs();
let box: { abi: Abi; bytecode: Hex; deployedBytecode: Hex };

before(async () => {
  const c = compileSolidity({ "Box.sol": SOURCE }).Box!;
  box = { abi: c.abi, bytecode: c.bytecode, deployedBytecode: c.deployedBytecode };
  seq = await SequencerProcess.start();
  fullnode = await FullnodeProcess.start(fullnodeArgs(seq, dirs.make()));
});

after(async () => {
  await fullnode?.kill();
  await killAllFullnodes();
  await seq?.stop();
  await seq?.cleanup();
  dirs.cleanup();
});

const ROUNDS = 100;

/** What one round did, and the values it must be read back with. */
type Round =
  | { kind: "transfer"; to: Hex; value: bigint }
  | { kind: "set"; value: bigint }
  | { kind: "deploy"; address: Hex };

/** The values a round's reads expect: at the receipt's block (now) and at the block before it. */
interface Expect {
  nonceAfter: bigint;
  nonceBefore: bigint;
  boxValueBefore: bigint;
}

/**
 * Tracks the sender's nonce and the box's value per block, so a read at any earlier block has
 * an exact expectation: the state at the end of block B holds every round whose receipt is in a
 * block ≤ B.
 */
class History {
  private rounds: { block: bigint; boxValue: bigint }[] = [];
  constructor(
    private readonly nonce0: bigint,
    private readonly boxValue0: bigint,
  ) {}

  add(block: bigint, boxValue: bigint): Expect {
    const before = this.rounds.filter((r) => r.block < block);
    const e = {
      nonceBefore: this.nonce0 + BigInt(before.length),
      boxValueBefore: before.at(-1)?.boxValue ?? this.boxValue0,
      nonceAfter: this.nonce0 + BigInt(this.rounds.length + 1),
    };
    this.rounds.push({ block, boxValue });
    return e;
  }
}

const kindOf = (i: number): Round["kind"] => (["transfer", "set", "deploy"] as const)[i % 3]!;

for (const target of ["sequencer", "fullnode"] as const) {
  const url = () => (target === "sequencer" ? seq.rpcUrl : fullnode.rpcUrl);

  describe(`read your writes / viem against the ${target}`, () => {
    it(`${ROUNDS} rounds: default-tag reads after waitForTransactionReceipt see the transaction, the block before does not`, async () => {
      const account = devKeyAccount(target === "sequencer" ? 11 : 12);
      const chain = devChain(url());
      // viem polls every 4 s by default (a 12 s chain's half block time): a 10 ms chain wants 10 ms.
      const pub = createPublicClient({ chain, transport: http(), pollingInterval: 10 });
      const wallet = createWalletClient({ chain, transport: http(), account, pollingInterval: 10 });
      const history = new History(BigInt(await pub.getTransactionCount({ address: account.address })), 0n);
      const deployHash = await wallet.deployContract({ abi: box.abi, bytecode: box.bytecode });
      const deployed = await pub.waitForTransactionReceipt({ hash: deployHash });
      const boxAddr = deployed.contractAddress!;
      history.add(deployed.blockNumber, 0n);
      let boxValue = 0n;

      for (let i = 0; i < ROUNDS; i++) {
        const kind = kindOf(i);
        let round: Round;
        let hash: Hex;
        if (kind === "transfer") {
          round = { kind, to: freshAddress(), value: BigInt(i + 1) };
          hash = await wallet.sendTransaction({ to: round.to, value: round.value });
        } else if (kind === "set") {
          round = { kind, value: BigInt(1000 + i) };
          hash = await wallet.writeContract({
            address: boxAddr,
            abi: box.abi,
            functionName: "set",
            args: [round.value],
          });
        } else {
          hash = await wallet.deployContract({ abi: box.abi, bytecode: box.bytecode });
          round = { kind, address: "0x" };
        }
        const r = await pub.waitForTransactionReceipt({ hash });
        assert.equal(r.status, "success", `round ${i}`);
        if (round.kind === "deploy") round.address = r.contractAddress!;
        if (round.kind === "set") boxValue = round.value;
        const e = history.add(r.blockNumber, boxValue);
        const before = r.blockNumber - 1n;
        const at = `round ${i} (${kind}, block ${r.blockNumber})`;

        // Default tags: the newest mini-block's state.
        assert.equal(await pub.getTransactionCount({ address: account.address }), Number(e.nonceAfter), at);
        assert.equal(
          await pub.readContract({ address: boxAddr, abi: box.abi, functionName: "value" }),
          boxValue,
          at,
        );
        assert.equal(
          await pub.getStorageAt({ address: boxAddr, slot: "0x0" }),
          pad(numberToHex(boxValue)),
          at,
        );
        if (round.kind === "transfer")
          assert.equal(await pub.getBalance({ address: round.to }), round.value, at);
        if (round.kind === "deploy")
          assert.equal(await pub.getCode({ address: round.address }), box.deployedBytecode, at);

        // The sealed block before the receipt's: as before the transaction.
        const old = { blockNumber: before };
        assert.equal(
          await pub.getTransactionCount({ address: account.address, ...old }),
          Number(e.nonceBefore),
          at,
        );
        // (A box deployed in the same block as this round did not exist before it: the call returns no data.)
        if (before >= deployed.blockNumber)
          assert.equal(
            await pub.readContract({ address: boxAddr, abi: box.abi, functionName: "value", ...old }),
            e.boxValueBefore,
            at,
          );
        else assert.equal((await pub.call({ to: boxAddr, data: "0x3fa4f245", ...old })).data, undefined, at);
        assert.equal(
          await pub.getStorageAt({ address: boxAddr, slot: "0x0", ...old }),
          pad(numberToHex(e.boxValueBefore)),
          at,
        );
        if (round.kind === "transfer")
          assert.equal(await pub.getBalance({ address: round.to, ...old }), 0n, at);
        if (round.kind === "deploy")
          assert.equal(await pub.getCode({ address: round.address, ...old }), undefined, at);
      }
    });
  });

  describe(`read your writes / ethers against the ${target}`, () => {
    /** ethers caches identical requests for 250 ms by default: a 10 ms chain turns it off. */
    const provider = () =>
      new JsonRpcProvider(url(), Network.from(DEV_CHAIN_ID), {
        staticNetwork: true,
        pollingInterval: 10,
        cacheTimeout: -1,
      });

    it(`${ROUNDS} rounds: default-tag reads after wait() see the transaction, the block before does not`, async () => {
      const p = provider();
      try {
        const wallet = new Wallet(devPrivateKey(target === "sequencer" ? 13 : 14), p);
        const factory = new ContractFactory(box.abi as never, box.bytecode, wallet);
        const history = new History(BigInt(await p.getTransactionCount(wallet.address)), 0n);
        const first = await factory.deploy();
        await first.waitForDeployment();
        const boxBlock = (await first.deploymentTransaction()!.wait())!.blockNumber;
        history.add(BigInt(boxBlock), 0n);
        const boxAddr = (await first.getAddress()) as Hex;
        const boxC = new Contract(boxAddr, box.abi as never, wallet);
        let boxValue = 0n;

        for (let i = 0; i < ROUNDS; i++) {
          const kind = kindOf(i);
          let round: Round;
          let blockNumber: number;
          if (kind === "transfer") {
            round = { kind, to: freshAddress(), value: BigInt(i + 1) };
            const tx = await wallet.sendTransaction({ to: round.to, value: round.value });
            blockNumber = (await tx.wait())!.blockNumber;
          } else if (kind === "set") {
            round = { kind, value: BigInt(2000 + i) };
            const tx = await boxC.getFunction("set")(round.value);
            blockNumber = (await tx.wait())!.blockNumber;
          } else {
            // A deploy script's next step reads the code at once: it must be there.
            const c = await factory.deploy();
            const deployed = await c.waitForDeployment();
            round = { kind, address: (await deployed.getAddress()) as Hex };
            blockNumber = (await c.deploymentTransaction()!.wait())!.blockNumber;
          }
          if (round.kind === "set") boxValue = round.value;
          const e = history.add(BigInt(blockNumber), boxValue);
          const before = blockNumber - 1;
          const at = `round ${i} (${kind}, block ${blockNumber})`;

          assert.equal(BigInt(await p.getTransactionCount(wallet.address)), e.nonceAfter, at);
          assert.equal(await boxC.getFunction("value")(), boxValue, at);
          assert.equal(await p.getStorage(boxAddr, 0), pad(numberToHex(boxValue)), at);
          if (round.kind === "transfer") assert.equal(await p.getBalance(round.to), round.value, at);
          if (round.kind === "deploy") assert.equal(await p.getCode(round.address), box.deployedBytecode, at);

          assert.equal(BigInt(await p.getTransactionCount(wallet.address, before)), e.nonceBefore, at);
          if (before >= boxBlock)
            assert.equal(await boxC.getFunction("value")({ blockTag: before }), e.boxValueBefore, at);
          else assert.equal(await p.call({ to: boxAddr, data: "0x3fa4f245", blockTag: before }), "0x", at);
          assert.equal(await p.getStorage(boxAddr, 0, before), pad(numberToHex(e.boxValueBefore)), at);
          if (round.kind === "transfer") assert.equal(await p.getBalance(round.to, before), 0n, at);
          if (round.kind === "deploy") assert.equal(await p.getCode(round.address, before), "0x", at);
        }
      } finally {
        p.destroy();
      }
    });

    it("with cacheTimeout -1, 20 transactions back to back from one wallet, each after wait(), none refused", async () => {
      const p = provider();
      try {
        const wallet = new Wallet(devPrivateKey(target === "sequencer" ? 15 : 16), p);
        const start = await p.getTransactionCount(wallet.address, "pending");
        for (let i = 0; i < 20; i++) {
          // ethers asks for the "pending" nonce each time: a cached answer would reuse the last one.
          const tx = await wallet.sendTransaction({ to: freshAddress(), value: 1n });
          assert.equal(tx.nonce, start + i);
          assert.equal((await tx.wait())!.status, 1);
        }
        assert.equal(await p.getTransactionCount(wallet.address), start + 20);
      } finally {
        p.destroy();
      }
    });
  });
}
