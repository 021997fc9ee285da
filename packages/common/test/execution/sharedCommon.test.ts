import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createFeeMarket1559Tx } from "@ethereumjs/tx";
import { bytesToHex } from "@ethereumjs/util";
import { executionBlock } from "../../src/chain/blockHeader.ts";
import { createEthCommon } from "../../src/chain/ethCommon.ts";
import { KECCAK256_NULL, keccak256 } from "../../src/crypto/keccak.ts";
import { signingKeyFromPrivate } from "../../src/crypto/secp256k1.ts";
import { CallRunner } from "../../src/execution/callRunner.ts";
import { Executor } from "../../src/execution/executor.ts";
import { MemoryState } from "../../src/state/memoryState.ts";

/**
 * A long-lived `Common` (a prover worker's, a node's RPC) sees a new EVM per block or per call.
 * ethereumjs' EVM subscribes to its Common's `hardforkChanged` event and never unsubscribes: on
 * a shared Common every EVM, its state and (in a prover) its block's witness stayed reachable
 * forever. Each EVM must be built on its own copy.
 */

const common = createEthCommon({ chainId: 4242 });
const sender = signingKeyFromPrivate(keccak256(Uint8Array.of(1)));
const to = `0x${"be".repeat(20)}` as const;
const block = executionBlock(
  {
    number: 1n,
    timestamp: 1n,
    baseFee: 7n,
    gasLimit: 30_000_000n,
    coinbase: new Uint8Array(20),
    prevRandao: new Uint8Array(32),
  },
  common,
);
const listeners = () => common.events.listenerCount("hardforkChanged");

function funded(): MemoryState {
  const state = new MemoryState();
  state.writeAccount(bytesToHex(sender.address), {
    nonce: 0n,
    balance: 10n ** 24n,
    codeHash: KECCAK256_NULL,
  });
  state.takeDiff();
  return state;
}

describe("execution / an EVM per block or call on a shared Common", () => {
  it("leaves no listener on the Common after 50 executors, each executing a block", async () => {
    const before = listeners();
    for (let i = 0; i < 50; i++) {
      const state = funded();
      const ex = await Executor.create(common, state, async () => undefined, { plainTransfers: false });
      const tx = createFeeMarket1559Tx(
        { nonce: 0n, to, value: 1n, gasLimit: 21_000n, maxFeePerGas: 100n, maxPriorityFeePerGas: 1n },
        { common },
      ).sign(sender.privateKey);
      const out = await ex.execute(tx, block, 0n);
      assert.ok(out.ok, "the transfer executes");
    }
    assert.equal(listeners(), before);
  });

  it("leaves no listener on the Common after 50 eth_calls", async () => {
    const before = listeners();
    const calls = new CallRunner(common, async () => undefined);
    const state = funded();
    for (let i = 0; i < 50; i++) {
      const r = await calls.call(state, block, { from: sender.address, value: 1n }, 1_000_000n);
      assert.ok(r.ok, "the call succeeds");
    }
    assert.equal(listeners(), before);
  });
});
