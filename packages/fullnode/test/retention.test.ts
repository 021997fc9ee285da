import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { numberToHex } from "viem";
import { DEV_CHAIN_ID, devKeyAccount, freshAddress } from "../../sequencer/test/helpers/devChain.ts";
import { type RawBlock, type RawReceipt, rpc, rpcRaw } from "../../sequencer/test/helpers/rpcClient.ts";
import { SequencerProcess } from "../../sequencer/test/helpers/sequencerProcess.ts";
import { FullnodeProcess, TempDirs, fullnodeArgs, killAllFullnodes } from "./helpers/fullnodeProcess.ts";

/**
 * Pruning (issue 14): with small `--history-retention` and `--state-history`, old blocks,
 * receipts and state are deleted and answer 4444 naming what is kept (receipts of deleted
 * blocks: null), `earliest` moves up, and what is kept is still served, across a restart.
 */

const KEEP = 300;
let seq: SequencerProcess;
let fullnode: FullnodeProcess;
let fnArgs: string[];
const dirs = new TempDirs();

before(async () => {
  const history = ["--history-retention", String(KEEP), "--block-cache", "257"];
  // Small log segments and frequent snapshots: the sequencer deletes log segments, so retention
  // reaches the blocks they held (it never deletes what a restart still needs).
  seq = await SequencerProcess.start({
    args: ["--block-ms", "20", "--snapshot-interval", "50", "--wal-segment-mb", "1", ...history],
  });
  fnArgs = [...fullnodeArgs(seq, dirs.make()), ...history, "--state-history", String(KEEP)];
  fullnode = await FullnodeProcess.start(fnArgs);
});

after(async () => {
  await fullnode?.kill();
  await killAllFullnodes();
  await seq?.stop();
  await seq?.cleanup();
  dirs.cleanup();
});

const FEES = { maxFeePerGas: 10_000_000_000n, maxPriorityFeePerGas: 1_000_000n };

describe("retention / blocks and state past the window are deleted and answer 4444", () => {
  it(`keeps the last ${KEEP} blocks' history and state on the sequencer and a full node`, async () => {
    const account = devKeyAccount(19);
    const to = freshAddress();
    const early: RawReceipt[] = [];
    const send = async (nonce: number) => {
      const raw = await account.signTransaction({
        chainId: DEV_CHAIN_ID,
        type: "eip1559",
        nonce,
        to,
        value: 1n,
        // Four kilobytes of data: the log's 1 MB segments fill in a few hundred blocks.
        data: `0x${"ab".repeat(4096)}`,
        gas: 300_000n,
        ...FEES,
      });
      return rpc<RawReceipt>(seq.rpcUrl, "eth_sendRawTransactionSync", [raw]);
    };
    for (let n = 0; n < 5; n++) early.push(await send(n));
    const firstBlock = BigInt(early[0]!.blockNumber);
    // Past the window, and past a retention pass (every 64 blocks), with a little traffic.
    let nonce = 5;
    for (;;) {
      const r = await send(nonce++);
      if (BigInt(r.blockNumber) > firstBlock + BigInt(KEEP) + 230n) break;
    }
    const latest = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
    for (const url of [seq.rpcUrl, fullnode.rpcUrl]) {
      await waitUntil(async () => BigInt(await rpc<string>(url, "eth_blockNumber")) >= latest);
      await waitUntil(async () => {
        const e = await rpc<RawBlock>(url, "eth_getBlockByNumber", ["earliest", false]);
        return BigInt(e.number) > firstBlock;
      });
      const earliest = BigInt((await rpc<RawBlock>(url, "eth_getBlockByNumber", ["earliest", false])).number);
      assert.ok(earliest >= latest - BigInt(KEEP) - 64n, `${url}: earliest ${earliest}, latest ${latest}`);
      const old = await rpcRaw(url, "eth_getBlockByNumber", [numberToHex(firstBlock), false]);
      assert.equal(old.error?.code, 4444, `${url}: ${JSON.stringify(old)}`);
      assert.match(old.error!.message, /^pruned history unavailable: this node keeps blocks \d+ to \d+/);
      assert.equal(await rpc(url, "eth_getTransactionReceipt", [early[0]!.transactionHash]), null);
      const oldState = await rpcRaw(url, "eth_getBalance", [to, numberToHex(firstBlock)]);
      assert.equal(oldState.error?.code, 4444);
      const logs = await rpcRaw(url, "eth_getLogs", [{ fromBlock: "0x1", toBlock: numberToHex(firstBlock) }]);
      assert.equal(logs.error?.code, 4444);
      // What is kept is served: a block inside the window, and its state.
      const kept = latest - 100n;
      const b = await rpc<RawBlock>(url, "eth_getBlockByNumber", [numberToHex(kept), false]);
      assert.equal(BigInt(b.number), kept);
      assert.match(await rpc<string>(url, "eth_getBalance", [to, numberToHex(kept)]), /^0x[1-9a-f]/);
    }
    // The full node restarts on its pruned store and serves the same.
    await fullnode.kill();
    fullnode = await FullnodeProcess.start(fnArgs);
    const again = await rpcRaw(fullnode.rpcUrl, "eth_getBlockByNumber", [numberToHex(firstBlock), false]);
    assert.equal(again.error?.code, 4444);
    const kept = latest - 100n;
    assert.equal(
      BigInt(
        (await rpc<RawBlock>(fullnode.rpcUrl, "eth_getBlockByNumber", [numberToHex(kept), false])).number,
      ),
      kept,
    );
    // And the sequencer, killed and restarted, too.
    await seq.kill9();
    seq = await seq.restart();
    const seqOld = await rpcRaw(seq.rpcUrl, "eth_getBlockByNumber", [numberToHex(firstBlock), false]);
    assert.equal(seqOld.error?.code, 4444);
    const r = await send(nonce++);
    assert.equal(r.status, "0x1");
  });
});

async function waitUntil(cond: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}
