import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import WebSocket from "ws";
import { DevnetProcess, freePortRange, sleep, waitFor } from "./helpers/devnetProcess.ts";

/** Debian's `chromium` package (`.ci/run` installs it); STACCATO_CHROMIUM names another binary. */
const CHROMIUM = process.env.STACCATO_CHROMIUM ?? "/usr/bin/chromium";
/** CI sets this so a missing browser fails the run instead of skipping the file. */
const REQUIRED = process.env.STACCATO_REQUIRE_CHROMIUM === "1";
const SKIP = existsSync(CHROMIUM)
  ? false
  : `no browser at ${CHROMIUM}: apt-get install chromium (or set STACCATO_CHROMIUM)`;
if (SKIP !== false && REQUIRED) throw new Error(`STACCATO_REQUIRE_CHROMIUM=1 but ${SKIP}`);

/** Screenshots land here (gitignored), one set per run. */
const SHOTS = join(import.meta.dirname, "..", "..", "..", "test-output", "dashboard");
/** Dev account 2 of the mnemonic: the other devnet test uses account 1. */
const DEV_KEY_2 = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const CHAIN_ID = 21364;

const rpc = async <T>(url: string, method: string, params: unknown[] = []): Promise<T> => {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const j = (await res.json()) as { result?: T; error?: { message: string } };
  if (j.error !== undefined) throw new Error(`${method}: ${j.error.message}`);
  return j.result as T;
};

/**
 * The dashboard in a real browser (Debian's chromium through playwright-core) against a real
 * devnet: the URL its banner prints, the head advancing, a transaction in the mini-block strip
 * within 500 ms of its receipt, both provers' attestations on a finalized block, search, a killed
 * full node's row turning unhealthy; screenshots at 1280×800 and 390 px wide.
 */
describe("devnet / dashboard in a browser", { skip: SKIP }, () => {
  let dataDir: string;
  let devnet: DevnetProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let dashboard: string;
  let sequencerRpc: string;
  let provers: string[] = [];
  const pageErrors: string[] = [];
  let receipt: { transactionHash: string; blockNumber: string } | undefined;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "staccato-dashboard-test-"));
    mkdirSync(SHOTS, { recursive: true });
    const base = await freePortRange(20);
    devnet = await DevnetProcess.start([
      "--data-dir",
      dataDir,
      "--rpc-port",
      String(base),
      "--p2p-port",
      String(base + 5),
      "--metrics-port",
      String(base + 12),
      "--on-crash",
      "continue",
    ]);
    sequencerRpc = devnet.urls().rpc.sequencer;
    provers = [...devnet.stdout.matchAll(/^ {2}prover-\d+\s+(0x[0-9a-fA-F]{40})/gm)].map((m) =>
      m[1].toLowerCase(),
    );
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
  });

  after(async () => {
    await browser?.close();
    await devnet?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("is served at the URL the banner prints, to browsers only", async () => {
    const m = devnet!.stdout.match(/^Dashboard: (http:\/\/\S+)$/m);
    assert.ok(m, devnet!.output());
    dashboard = m[1];
    assert.ok(dashboard.startsWith(`${sequencerRpc}/?nodes=`), dashboard);
    assert.equal(provers.length, 2);
    // JSON clients asking for / still get the JSON 404; JSON-RPC on the same port is unchanged
    const json = await fetch(sequencerRpc, { headers: { accept: "application/json" } });
    assert.equal(json.status, 404);
    assert.equal(await rpc(sequencerRpc, "eth_chainId"), `0x${CHAIN_ID.toString(16)}`);
    const res = await page.goto(dashboard);
    assert.equal(res?.status(), 200);
    assert.match(res?.headers()["content-type"] ?? "", /text\/html/);
    assert.match(res?.headers()["content-security-policy"] ?? "", /script-src 'sha256-/);
  });

  it("shows the head advancing", async () => {
    const read = async () => Number((await page.textContent("#latest-block"))?.replaceAll(",", ""));
    const first = await waitFor("a latest block on the page", async () => {
      const n = await read();
      return Number.isFinite(n) && n > 0 ? n : undefined;
    });
    await waitFor(
      "the latest block to advance",
      async () => ((await read()) > first ? true : undefined),
      10_000,
    );
    await page.waitForSelector("#nodes tr[data-node=sequencer][data-health=ok]");
    await page.waitForSelector("#conn[data-state=live]");
  });

  it("shows a transaction in the mini-block strip within 500 ms of its receipt, and its receipt on click", async (t) => {
    // The test's own subscription tells which mini-block holds the transaction.
    const ws = new WebSocket(sequencerRpc.replace("http", "ws"));
    const miniBlockOf = new Map<string, number>();
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data));
      const r = msg.params?.result;
      if (r?.transactions) for (const t of r.transactions) miniBlockOf.set(t, Number(r.number));
    });
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["miniBlocks"] }));
    await sleep(300);
    try {
      const account = privateKeyToAccount(DEV_KEY_2);
      const nonce = Number(
        await rpc<string>(sequencerRpc, "eth_getTransactionCount", [account.address, "pending"]),
      );
      const raw = await account.signTransaction({
        chainId: CHAIN_ID,
        type: "eip1559",
        to: "0x000000000000000000000000000000000000dEaD",
        value: parseEther("0.5"),
        nonce,
        gas: 21_000n,
        maxFeePerGas: 10_000_000_000n,
        maxPriorityFeePerGas: 1n,
      });
      receipt = await rpc(sequencerRpc, "eth_sendRawTransactionSync", [raw]);
      const receivedAt = Date.now();
      const hash = receipt!.transactionHash;
      const mb = await waitFor(
        "the test's own miniBlocks notification",
        async () => miniBlockOf.get(hash),
        500,
      );
      const left = Math.max(1, 500 - (Date.now() - receivedAt));
      await page.waitForSelector(`#strip .mb[data-number="${mb}"]`, { timeout: left });
      const tookMs = Date.now() - receivedAt;
      t.diagnostic(`mini-block ${mb} on the strip ${tookMs} ms after the receipt`);
      assert.ok(tookMs <= 500, `on the strip ${tookMs} ms after the receipt`);

      await page.click(`#strip .mb[data-number="${mb}"]`);
      await page.waitForSelector("#drawer:not([hidden])");
      await page.locator(`#drawer-body button[title="${hash}"]`).waitFor({ timeout: 5_000 });
      await page.locator("#drawer-body .badge.ok", { hasText: "success" }).waitFor({ timeout: 5_000 });
      await page.screenshot({ path: join(SHOTS, "mini-block-drawer-1280.png") });
      await page.click("#drawer-close");
    } finally {
      ws.close();
    }
  });

  it("shows both provers' attestations on the finalized block of the transaction", async () => {
    const n = Number(receipt!.blockNumber);
    const row = `#blocks tr[data-number="${n}"]`;
    await page.waitForSelector(`${row}[data-finalized=true]`, { timeout: 60_000 });
    for (const p of provers)
      await page.locator(`${row} .att[data-verdict=valid][data-prover="${p}"]`).waitFor({ timeout: 30_000 });
    await page.waitForSelector("#blocks .badge.final");
    // the 10 s and 5 min charts have drawn
    assert.equal(await page.locator("#rates .uplot").count(), 6);
    await sleep(1_500); // a second of polling: every node row filled in
    await page.screenshot({ path: join(SHOTS, "desktop-1280x800.png") });
    await page.screenshot({ path: join(SHOTS, "desktop-1280-full.png"), fullPage: true });
  });

  it("reads what it shows from public RPC: attestation times, seal figures, every daemon's node info", async () => {
    const n = receipt!.blockNumber;
    const att = await rpc<{ attestations: { prover: string; receivedAt: number | null }[] }>(
      sequencerRpc,
      "staccato_getAttestations",
      [n],
    );
    const stats = await rpc<{ sealedAt: number; stateRootMs: number; da: string }>(
      sequencerRpc,
      "staccato_getBlockStats",
      [n],
    );
    assert.equal(stats.da, "published");
    for (const p of provers) {
      const a = att.attestations.find((x) => x.prover === p);
      assert.ok(a?.receivedAt !== null && a?.receivedAt !== undefined, `${p} attested, with a time`);
      assert.ok(a.receivedAt >= stats.sealedAt, "attested after the seal");
    }
    const nodes = new URL(dashboard).searchParams.get("nodes")!.split(",");
    assert.deepEqual(nodes.map((e) => e.split("@")[0]).sort(), [
      "fullnode-1",
      "fullnode-2",
      "prover-1",
      "prover-2",
      "sequencer",
    ]);
    for (const entry of nodes) {
      const [name, port] = entry.split("@");
      const info = await rpc<{
        role: string;
        peerId: string;
        health: { ok: boolean };
        memory: { rss: number };
        lag: { blocks: number; ms: number | null } | null;
        logTail: string[];
      }>(`http://127.0.0.1:${port}`, "staccato_nodeInfo", []);
      assert.equal(info.role, name.replace(/-\d+$/, ""), name);
      assert.match(info.peerId, /^12D3KooW/, name);
      assert.equal(info.health.ok, true, name);
      assert.ok(info.memory.rss > 0, name);
      assert.ok(info.logTail.length > 0, `${name} has a log tail`);
      if (info.role === "fullnode") {
        assert.equal(typeof info.lag?.blocks, "number", name);
        assert.ok(info.lag?.ms === null || info.lag!.ms >= 0, name);
      }
    }
  });

  it("finds a transaction, a block and an address with the search box", async () => {
    const search = async (q: string, expect: string) => {
      await page.fill("#search", q);
      await page.press("#search", "Enter");
      await page.locator("#drawer-body", { hasText: expect }).waitFor({ timeout: 10_000 });
    };
    await search(receipt!.transactionHash, "0.5 ETH");
    await search(String(Number(receipt!.blockNumber)), receipt!.transactionHash);
    await search("0x000000000000000000000000000000000000dEaD", "Recent transactions");
    await page.click("#drawer-close");
  });

  it("fits a 390-pixel-wide phone", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await sleep(600);
    const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the phone`);
    await page.screenshot({ path: join(SHOTS, "mobile-390.png") });
    await page.screenshot({ path: join(SHOTS, "mobile-390-full.png"), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it("turns a killed full node's row unhealthy and raises an alarm", async () => {
    // Nothing went wrong in the page so far (afterwards the browser logs the refused requests).
    assert.deepEqual(pageErrors, []);
    const pid = devnet!.pids().get("fullnode-2")!;
    process.kill(pid, "SIGKILL");
    await page.waitForSelector("#nodes tr[data-node=fullnode-2][data-health=down]", { timeout: 10_000 });
    await page.waitForSelector("#alarms:not([hidden]) .alarm[data-kind=node]");
    assert.match((await page.textContent("#alarms")) ?? "", /fullnode-2 is unhealthy/);
    // --on-crash continue: the rest of the devnet keeps running
    assert.match(devnet!.stderr, /fullnode-2 \(pid \d+\) EXITED UNEXPECTEDLY/);
    await page.waitForSelector("#nodes tr[data-node=sequencer][data-health=ok]");
    await page.waitForSelector("#nodes tr[data-node=fullnode-1][data-health=ok]");
    await page.screenshot({ path: join(SHOTS, "node-down-1280x800.png") });
    // Ctrl-C still stops everything, with status 1 for the crash
    assert.equal(await devnet!.interrupt(), 1, devnet!.output());
  });
});
