import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { JsonRpcProvider, Wallet, parseEther } from "ethers";
import {
  DevnetProcess,
  freePortRange,
  processesMentioning,
  sleep,
  waitFor,
} from "./helpers/devnetProcess.ts";

/** Dev account 1 of the mnemonic (the banner prints it). */
const DEV_KEY_1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const CHAIN_ID = 21364;

/**
 * `pnpm devnet` as a person uses it: start, read the URLs it prints, send a transaction with
 * ethers, see it finalized everywhere, Ctrl-C, no process left, start again and the chain resumed.
 * Provers come from the default (two when packages/prover exists).
 */
describe("devnet / start, transact, Ctrl-C, resume", () => {
  let dataDir: string;
  let args: string[];
  let devnet: DevnetProcess | undefined;
  const providers: JsonRpcProvider[] = [];
  const provider = (url: string) => {
    const p = new JsonRpcProvider(url, CHAIN_ID, { staticNetwork: true, pollingInterval: 100 });
    providers.push(p);
    return p;
  };
  const recipient = Wallet.createRandom().address;
  const value = parseEther("1.25");
  let blockBeforeStop = 0;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "staccato-devnet-test-"));
    const base = await freePortRange(20);
    args = [
      "--data-dir",
      dataDir,
      "--rpc-port",
      String(base),
      "--p2p-port",
      String(base + 5),
      "--metrics-port",
      String(base + 12),
    ];
  });

  after(async () => {
    for (const p of providers) p.destroy();
    await devnet?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("starts and prints the RPC URLs, chain id, dev accounts, MetaMask steps and log files", async () => {
    devnet = await DevnetProcess.start(args);
    const out = devnet.stdout;
    const { rpc } = devnet.urls();
    assert.deepEqual(Object.keys(rpc), ["sequencer", "fullnode-1", "fullnode-2"], out);
    assert.match(out, /Chain id: 21364/);
    assert.match(
      out,
      /0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 {2}0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80/,
    );
    assert.match(out, /MetaMask/);
    assert.match(
      out,
      new RegExp(`Logs: ${dataDir}/logs/\\{sequencer,(prover-1,prover-2,)?fullnode-1,fullnode-2\\}\\.log`),
    );
    assert.match(out, new RegExp(`DA: {3}${dataDir}/sequencer/da `));
  });

  it("takes a transaction from a dev account through ethers and finalizes it on every node", async () => {
    const { rpc } = devnet!.urls();
    const wallet = new Wallet(DEV_KEY_1, provider(rpc.sequencer));
    const tx = await wallet.sendTransaction({ to: recipient, value });
    const receipt = await tx.wait();
    assert.equal(receipt?.status, 1);
    const mined = receipt!.blockNumber;
    for (const [name, url] of Object.entries(rpc)) {
      const p = provider(url);
      const finalized = await waitFor(`${name} to finalize block ${mined}`, async () => {
        const b = await p.getBlock("finalized");
        return b !== null && b.number >= mined ? b : undefined;
      });
      assert.ok(finalized.number >= mined);
      assert.equal(await p.getBalance(recipient), value, `${name} balance`);
    }
    // The block is in DA too, where provers and full nodes would read it if no peer served it.
    await waitFor(`block ${mined} published to DA`, async () => {
      const log = readFileSync(join(dataDir, "sequencer", "da-index.log"), "utf8");
      return log.includes(`{"n":${mined},`) ? true : undefined;
    });
    blockBeforeStop = await provider(rpc.sequencer).getBlockNumber();
  });

  it("stops every daemon on Ctrl-C and leaves no process behind", async () => {
    const pids = devnet!.pids();
    assert.ok(pids.size >= 3, devnet!.output());
    const code = await devnet!.interrupt();
    assert.equal(code, 0, devnet!.output());
    assert.match(devnet!.stdout, /devnet: stopped; data kept in/);
    for (const [name, pid] of pids)
      assert.throws(() => process.kill(pid, 0), { code: "ESRCH" }, `${name} (pid ${pid}) still runs`);
    assert.deepEqual(processesMentioning(dataDir), []);
  });

  it("resumes the same chain when started again", async () => {
    devnet = await DevnetProcess.start(args);
    assert.match(devnet.stdout, /devnet: resuming chain 21364/);
    const { rpc } = devnet.urls();
    const seq = provider(rpc.sequencer);
    assert.ok((await seq.getBlockNumber()) >= blockBeforeStop, "block numbers continue");
    for (const [name, url] of Object.entries(rpc))
      assert.equal(await provider(url).getBalance(recipient), value, `${name} keeps the balance`);
    // and it keeps going: a new transaction is finalized too
    const wallet = new Wallet(DEV_KEY_1, seq);
    const receipt = await (await wallet.sendTransaction({ to: recipient, value })).wait();
    for (const [name, url] of Object.entries(rpc)) {
      const p = provider(url);
      await waitFor(`${name} to finalize block ${receipt!.blockNumber} after the restart`, async () => {
        const b = await p.getBlock("finalized");
        return b !== null && b.number >= receipt!.blockNumber ? true : undefined;
      });
    }
  });

  it("reports a crashed daemon loudly and stops the rest", async () => {
    const pid = devnet!.pids().get("fullnode-2")!;
    process.kill(pid, "SIGKILL");
    const code = await devnet!.exited;
    assert.equal(code, 1, devnet!.output());
    assert.match(devnet!.stderr, /fullnode-2 \(pid \d+\) EXITED UNEXPECTEDLY \(signal SIGKILL\)/);
    await sleep(100);
    assert.deepEqual(processesMentioning(dataDir), []);
  });
});
