import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Chain } from "./chain.ts";
import { loadConfig } from "./config.ts";
import { timedRun } from "./load.ts";
import { Report, errorMessage, log } from "./report.ts";
import { prepareTarget } from "./setup.ts";
import { chooseSigner } from "./signer.ts";
import { REPO_ROOT, type Target, installCleanupHandlers, sleep, startStaccato } from "./targets.ts";
import { buildWorkload } from "./workload.ts";

/**
 * `node --import tsx bench/dashboard.ts`: is the dashboard still responsive while the sequencer
 * runs flat out? Opens the sequencer's page in Debian's chromium (playwright-core, as the test
 * does), sends ETH transfers as fast as the sequencer takes them (bench/load.ts), and reports the
 * load reached and how the page kept up: frames per second, long tasks (main-thread work over
 * 50 ms), the JS heap, and what its own transactions/s tile showed. Browser, sequencer and load
 * generator share this machine's cores, so the same load is first sent without the page, and the
 * ratio of the two is reported. JSON lines on stdout; BENCH_TX sets the transactions per run
 * (default 30,000), STACCATO_CHROMIUM the browser, BENCH_PAGE_PROFILE a file for the page's CPU
 * profile under load. Asserts nothing.
 */

interface CdpSession {
  send(method: string, params?: Record<string, unknown>): Promise<{ profile?: unknown }>;
}
interface PageLike {
  context(): { newCDPSession(page: PageLike): Promise<CdpSession> };
  goto(url: string): Promise<unknown>;
  evaluate<T>(expr: string): Promise<T>;
  waitForSelector(sel: string, opts?: { timeout?: number }): Promise<unknown>;
  screenshot(opts: { path: string; fullPage?: boolean }): Promise<unknown>;
}
interface BrowserLike {
  newPage(opts: { viewport: { width: number; height: number } }): Promise<PageLike>;
  close(): Promise<void>;
}
const { chromium } = createRequire(join(REPO_ROOT, "packages/devnet/package.json"))("playwright-core") as {
  chromium: { launch(o: { executablePath: string; args: string[] }): Promise<BrowserLike> };
};

const CHROMIUM = process.env.STACCATO_CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = join(REPO_ROOT, "test-output", "dashboard");

/** Installed in the page: counts frames and long tasks, and samples the tx/s tile. */
const PROBE = `(() => {
  const p = { frames: 0, longTasks: 0, longMs: 0, maxLongMs: 0, tile: [] };
  const tick = () => { p.frames++; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) { p.longTasks++; p.longMs += e.duration; p.maxLongMs = Math.max(p.maxLongMs, e.duration); }
  }).observe({ type: "longtask", buffered: false });
  setInterval(() => {
    const t = document.getElementById("rate-txs")?.textContent ?? "";
    const m = t.match(/^([\\d.,]+)\\s*(k|M)?$/);
    if (m) p.tile.push(Number(m[1].replaceAll(",", "")) * (m[2] === "k" ? 1e3 : m[2] === "M" ? 1e6 : 1));
  }, 500);
  window.__probe = p;
})()`;

interface Probe {
  frames: number;
  longTasks: number;
  longMs: number;
  maxLongMs: number;
  tile: number[];
}

const cfg = loadConfig();
const report = new Report();
installCleanupHandlers();

async function main(): Promise<void> {
  const txs = Number(process.env.BENCH_TX ?? 30_000);
  let target: Target | null = null;
  let browser: BrowserLike | null = null;
  try {
    target = await startStaccato(cfg.verbose);
    const chain = await Chain.connect(target);
    const env = await prepareTarget(chain, await chooseSigner(cfg.signer), cfg.senders);
    const sendOpts = {
      batch: cfg.sendBatch,
      concurrency: cfg.sendConcurrency,
      pollMs: cfg.pollMs,
      stallMs: cfg.stallSeconds * 1000,
    };
    // The same load without the page first: the machine is shared, so only the ratio is telling.
    log(`dashboard: sending ${txs} ETH transfers without the page`);
    const baseline = await timedRun(env, await buildWorkload(env, "eth", txs), sendOpts);
    report.emit("dashboard.baseline_eth_tx_per_s", baseline.txPerSecond, "tx/s");
    const work = await buildWorkload(env, "eth", txs);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${target.rpcUrl}/`);
    await page.waitForSelector("#conn[data-state=live]", { timeout: 30_000 });
    await sleep(2_000);
    await page.evaluate(PROBE);
    // BENCH_PAGE_PROFILE=<file>: the page's CPU profile while loaded (bench/micro/profSummary.mjs reads it).
    const profileTo = process.env.BENCH_PAGE_PROFILE;
    const cdp = profileTo === undefined ? null : await page.context().newCDPSession(page);
    await cdp?.send("Profiler.enable");
    await cdp?.send("Profiler.start");
    const before = await page.evaluate<Probe>("window.__probe");
    const started = performance.now();
    let shot: Promise<unknown> | null = null;
    const shotTimer = setTimeout(() => {
      mkdirSync(SHOTS, { recursive: true });
      shot = page.screenshot({ path: join(SHOTS, "under-load-1280x800.png") }).catch(() => undefined);
    }, 6_000);
    log(`dashboard: sending ${txs} ETH transfers with the page open`);
    const run = await timedRun(env, work, sendOpts);
    clearTimeout(shotTimer);
    await shot;
    if (cdp !== null) writeFileSync(profileTo!, JSON.stringify((await cdp.send("Profiler.stop")).profile));
    const seconds = (performance.now() - started) / 1000;
    const p = await page.evaluate<Probe>("window.__probe");
    const heap = await page.evaluate<number>("performance.memory ? performance.memory.usedJSHeapSize : 0");
    report.emit("dashboard.load_eth_tx_per_s", run.txPerSecond, "tx/s");
    report.emit("dashboard.ratio_with_page_vs_without", run.txPerSecond / baseline.txPerSecond, "x");
    report.emit("dashboard.page_frames_per_s", (p.frames - before.frames) / seconds, "fps");
    report.emit("dashboard.page_long_tasks", p.longTasks, "count");
    report.emit("dashboard.page_long_task_ms_per_s", p.longMs / seconds, "ms/s");
    report.emit("dashboard.page_long_task_max_ms", p.maxLongMs, "ms");
    report.emit("dashboard.page_tile_tx_per_s_max", Math.max(0, ...p.tile), "tx/s");
    report.emit("dashboard.page_js_heap_mb", heap / 2 ** 20, "MB");
    log(`dashboard: ${run.txPerSecond.toFixed(0)} tx/s for ${seconds.toFixed(1)} s; screenshot in ${SHOTS}`);
  } catch (err) {
    report.fail("dashboard.load_eth_tx_per_s", "tx/s", err);
    log(`dashboard bench failed: ${errorMessage(err)}`);
  } finally {
    await browser?.close();
    await target?.stop();
  }
  process.exit(report.failed > 0 ? 1 : 0);
}

void main();
