import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { http, type Hash, createPublicClient, createWalletClient, defineChain, parseEther } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { DEV_CHAIN_ID, DEV_MNEMONIC } from "@staccato/common";
import { sleep, waitFor } from "./helpers/devnetProcess.ts";
import { NetnsLab } from "./helpers/netns.ts";

const REPO_ROOT = join(import.meta.dirname, "..", "..", "..");
const bin = (pkg: string) => join(REPO_ROOT, "packages", pkg, "bin", `staccato-${pkg}.js`);

const lab = NetnsLab.available();
// CI sets STACCATO_REQUIRE_NETNS=1: there the test must run, never skip.
const skip = !lab.ok && process.env.STACCATO_REQUIRE_NETNS !== "1" ? `network namespaces: ${lab.why}` : false;

/** A daemon on its own test host, with its output kept for log lines and failure messages. */
class HostDaemon {
  out = "";
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const add = (d: Buffer) => {
      this.out += d.toString();
    };
    child.stdout!.on("data", add);
    child.stderr!.on("data", add);
  }

  async logLine(msg: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    return waitFor(
      `${this.name} to log "${msg}"`,
      async () => {
        if (this.child.exitCode !== null) throw new Error(`${this.name} exited:\n${this.out}`);
        for (const l of this.out.split("\n"))
          if (l.includes(`"msg":"${msg}"`)) return JSON.parse(l) as Record<string, unknown>;
        return undefined;
      },
      timeoutMs,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${this.name} output:\n${this.out}`);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(t);
  }
}

/**
 * Four hosts (a sequencer, a prover, two full nodes) on one bridge, each daemon started with only
 * the flags README's "Running on separate machines" gives: chain config file, key file,
 * --p2p-listen/--p2p-announce with the host's address, --bootnodes, --sequencer-rpc.
 */
describe("hosts / sequencer, prover and two full nodes in separate network namespaces", { skip }, () => {
  const tag = `stc${process.pid % 10_000}`;
  const net = new NetnsLab(tag, `10.231.${process.pid % 200}`);
  const daemons: HostDaemon[] = [];
  let dir: string;
  let chainFile: string;
  let sequencerAddr: string;
  const rpc = (host: string, port: number) => `http://${net.host(host).ip}:${port}`;
  const env = { ...process.env, STACCATO_LOG_FORMAT: "json" };
  const onExit = () => net.destroy();

  const start = (host: string, pkg: string, flags: string[]) => {
    const d = new HostDaemon(host, net.spawn(host, [process.execPath, bin(pkg), ...flags], env));
    daemons.push(d);
    return d;
  };
  // as in README's "Running on separate machines": listen on every interface, announce the host's address
  const p2p = (host: string, port: number) => [
    "--p2p-listen",
    `/ip4/0.0.0.0/tcp/${port}`,
    "--p2p-announce",
    `/ip4/${net.host(host).ip}/tcp/${port}`,
  ];

  before(async () => {
    process.once("exit", onExit);
    net.create(["sequencer", "prover", "fullnode1", "fullnode2"]);
    dir = mkdtempSync(join(tmpdir(), "staccato-netns-"));
    // The README's way to make a chain config and keys: once, on any machine.
    const init = spawnSync(
      process.execPath,
      [
        bin("devnet"),
        "--init-only",
        "--data-dir",
        join(dir, "gen"),
        "--provers",
        "1",
        "--prover-quorum",
        "1",
      ],
      { encoding: "utf8" },
    );
    assert.equal(init.status, 0, init.stderr);
    // ... then each host gets the chain config and its own key (copied, as to another machine)
    for (const h of ["sequencer", "prover", "fullnode1", "fullnode2"]) {
      mkdirSync(join(dir, h));
      copyFileSync(join(dir, "gen", "chain.json"), join(dir, h, "chain.json"));
    }
    copyFileSync(join(dir, "gen", "sequencer", "sequencer.key"), join(dir, "sequencer", "sequencer.key"));
    copyFileSync(join(dir, "gen", "prover-1", "prover.key"), join(dir, "prover", "prover.key"));
    chainFile = "chain.json";
  });

  after(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    net.destroy();
    process.off("exit", onExit);
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts each daemon from flags alone, the others finding the sequencer by its address", async () => {
    const h = (name: string) => join(dir, name);
    const seq = start("sequencer", "sequencer", [
      ...["--chain", join(h("sequencer"), chainFile), "--key-file", join(h("sequencer"), "sequencer.key")],
      ...["--data-dir", join(h("sequencer"), "data"), "--rpc-host", "0.0.0.0"],
      ...p2p("sequencer", 9000),
    ]);
    const started = await seq.logLine("sequencer started");
    const addrs = started.p2p as string[];
    sequencerAddr = addrs.find((a) => a.includes(net.host("sequencer").ip))!;
    assert.match(sequencerAddr, /\/p2p\/12D3Koo/, JSON.stringify(addrs));

    const prover = start("prover", "prover", [
      ...["--chain", join(h("prover"), chainFile), "--key-file", join(h("prover"), "prover.key")],
      ...["--data-dir", join(h("prover"), "data"), "--workers", "1"],
      ...["--metrics-host", net.host("prover").ip],
      ...p2p("prover", 9002),
      ...["--bootnodes", sequencerAddr],
    ]);
    const fullnodes = ["fullnode1", "fullnode2"].map((name) =>
      start(name, "fullnode", [
        ...["--chain", join(h(name), chainFile), "--data-dir", join(h(name), "data")],
        ...["--rpc-host", "0.0.0.0"],
        ...p2p(name, 9001),
        ...["--bootnodes", sequencerAddr, "--sequencer-rpc", rpc("sequencer", 8545)],
      ]),
    );
    await Promise.all([
      prover.logLine("prover started"),
      ...fullnodes.map((f) => f.logLine("fullnode started")),
    ]);
    for (const url of [
      `${rpc("sequencer", 8545)}/health`,
      `http://${net.host("prover").ip}:9547/health`,
      `${rpc("fullnode1", 8546)}/health`,
      `${rpc("fullnode2", 8546)}/health`,
    ])
      await waitFor(url, async () => ((await fetch(url)).ok ? true : undefined));
  });

  const chain = defineChain({
    id: DEV_CHAIN_ID,
    name: "Staccato",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [] } },
  });
  const client = (url: string) => createPublicClient({ chain, transport: http(url) });
  const sendVia = async (url: string, from: number, to: string, n: number): Promise<Hash[]> => {
    const wallet = createWalletClient({
      chain,
      account: mnemonicToAccount(DEV_MNEMONIC, { addressIndex: from }),
      transport: http(url),
    });
    const hashes: Hash[] = [];
    for (let i = 0; i < n; i++)
      hashes.push(await wallet.sendTransaction({ to: to as `0x${string}`, value: parseEther("0.01") }));
    return hashes;
  };
  const recipient = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 15 }).address;
  let lastAfterCut = 0n;

  it("shows transactions sent to one full node on the other", async () => {
    const fn1 = client(rpc("fullnode1", 8546));
    const fn2 = client(rpc("fullnode2", 8546));
    const hashes = await sendVia(rpc("fullnode1", 8546), 3, recipient, 3);
    const receipts = await Promise.all(
      hashes.map((hash) => fn1.waitForTransactionReceipt({ hash, pollingInterval: 100 })),
    );
    const last = receipts.reduce((m, r) => (r.blockNumber > m ? r.blockNumber : m), 0n);
    await waitFor("fullnode2 to have the block", async () =>
      (await fn2.getBlockNumber()) >= last ? true : undefined,
    );
    for (const r of receipts) {
      const other = await fn2.getTransactionReceipt({ hash: r.transactionHash });
      assert.equal(other.blockNumber, r.blockNumber);
      assert.equal(other.status, "success");
    }
    assert.equal(
      (await fn2.getBlock({ blockNumber: last })).stateRoot,
      (await fn1.getBlock({ blockNumber: last })).stateRoot,
    );
  });

  it("brings a full node whose link was cut back to the same state root", async () => {
    const seq = client(rpc("sequencer", 8545));
    const fn1 = client(rpc("fullnode1", 8546));
    const fn2 = client(rpc("fullnode2", 8546));
    net.setLink("fullnode2", false);
    await assert.rejects(fetch(`${rpc("fullnode2", 8546)}/health`, { signal: AbortSignal.timeout(1_000) }));
    // keep sending while it is cut off, for longer than a few blocks
    const hashes: Hash[] = [];
    for (let round = 0; round < 4; round++) {
      hashes.push(...(await sendVia(rpc("fullnode1", 8546), 4, recipient, 2)));
      await sleep(1_500);
    }
    const receipts = await Promise.all(
      hashes.map((hash) => fn1.waitForTransactionReceipt({ hash, pollingInterval: 100 })),
    );
    const last = receipts.reduce((m, r) => (r.blockNumber > m ? r.blockNumber : m), 0n);
    net.setLink("fullnode2", true);

    await waitFor(
      `fullnode2 to catch up to block ${last}`,
      async () => ((await fn2.getBlockNumber()) >= last ? true : undefined),
      60_000,
    );
    for (const r of receipts)
      assert.equal((await fn2.getTransactionReceipt({ hash: r.transactionHash })).status, "success");
    const [a, b, c] = await Promise.all([
      seq.getBlock({ blockNumber: last }),
      fn1.getBlock({ blockNumber: last }),
      fn2.getBlock({ blockNumber: last }),
    ]);
    assert.equal(c.stateRoot, a.stateRoot);
    assert.equal(c.stateRoot, b.stateRoot);
    assert.equal(c.hash, a.hash);
    assert.equal(
      await fn2.getBalance({ address: recipient }),
      await fn1.getBalance({ address: recipient }),
      "same balance on both full nodes",
    );
    lastAfterCut = last;
  });

  it("finalizes blocks on the uncut full node through the prover on its own host", async () => {
    const fn1 = client(rpc("fullnode1", 8546));
    await waitFor(
      "fullnode1 to see the prover finalize the last block",
      async () => ((await fn1.getBlock({ blockTag: "finalized" })).number >= lastAfterCut ? true : undefined),
      60_000,
    );
  });

  it("finalizes blocks again on the full node that was cut off (it fetches the attestations it missed)", async () => {
    const fn2 = client(rpc("fullnode2", 8546));
    await waitFor(
      "fullnode2 to see the prover finalize the last block",
      async () => ((await fn2.getBlock({ blockTag: "finalized" })).number >= lastAfterCut ? true : undefined),
      60_000,
    );
  });
});
