import "./style.css";
import { Blocks } from "./blocks.ts";
import { LiveChart } from "./charts.ts";
import { Drawer } from "./drawer.ts";
import { byId, count, h, num, setText, short } from "./format.ts";
import { type NodeTarget, Nodes, parseNodeList } from "./nodes.ts";
import { type Metric, RateWindow } from "./rates.ts";
import { HttpRpc, WsRpc } from "./rpc.ts";
import { Strip } from "./strip.ts";
import type { BlockStats, Finality, HeadNote, MiniBlockNote, NodeInfo } from "./types.ts";
import { Views } from "./views.ts";

/**
 * The dashboard. It reads only the public JSON-RPC of the node that served it (HTTP, and one
 * WebSocket for `miniBlocks` and `newHeads`) and `staccato_nodeInfo` of the nodes listed in
 * `?nodes=`. Arrivals only update the model; the DOM and the charts are drawn once per
 * animation frame, from bounded lists.
 */

const here = new URL(location.href);
const rpc = new HttpRpc(new URL("/", here).href);
const wsUrl = `${here.protocol === "https:" ? "wss" : "ws"}://${here.host}/`;

/** 10 s in 100 ms buckets, 5 min in 1 s buckets. */
const fine = new RateWindow(100, 100);
const coarse = new RateWindow(1000, 300);
/** Blocks whose counts are already in `coarse` from the backfill: live mini-blocks skip them. */
let backfilledThrough = -1;

const drawer = new Drawer();
const views = new Views(rpc, drawer);
const strip = new Strip(byId("strip"), (mb) => void views.miniBlock(mb));
const blocks = new Blocks(byId<HTMLTableElement>("blocks"), rpc, (n) => void views.block(BigInt(n)));
const nodes = new Nodes(byId<HTMLTableElement>("nodes"), nodeTargets());

/** This node first (named as `?nodes=` names it, if it does), then the others listed there. */
function nodeTargets(): NodeTarget[] {
  const own = new URL("/", here).href;
  const listed = parseNodeList(here.searchParams.get("nodes"), here);
  const mine = listed.find((t) => t.url === own);
  return [{ name: mine?.name ?? "this node", url: own }, ...listed.filter((t) => t.url !== own)];
}

let latestMiniBlock: MiniBlockNote | null = null;
let latestHead: HeadNote | null = null;
let latestHeadAt = 0;
let finality: Finality | null = null;
let self: NodeInfo | null = null;
let chainId: number | null = null;
let connected = false;

// ---- rate cards ----

interface RateCard {
  metric: Metric;
  value: HTMLElement;
  sub: HTMLElement;
  short: LiveChart;
  long: LiveChart;
}

const RATE_CARDS: { metric: Metric; title: string; color: string }[] = [
  { metric: "txs", title: "Transactions / s", color: "#38bdf8" },
  { metric: "gas", title: "Gas / s", color: "#a78bfa" },
  { metric: "miniBlocks", title: "Mini-blocks / s", color: "#34d399" },
];

const cards: RateCard[] = RATE_CARDS.map(({ metric, title, color }) => {
  const value = h("div", { class: "value", id: `rate-${metric}` }, "—");
  const sub = h("div", { class: "sub" }, " ");
  const shortEl = h("div", { class: "chart" });
  const longEl = h("div", { class: "chart" });
  byId("rates").append(
    h(
      "div",
      { class: "card rate" },
      h("div", { class: "rate-head" }, h("div", { class: "label" }, title), value, sub),
      h(
        "div",
        { class: "rate-charts" },
        h("div", null, h("div", { class: "chart-label" }, "last 10 s"), shortEl),
        h("div", null, h("div", { class: "chart-label" }, "last 5 min"), longEl),
      ),
    ),
  );
  return {
    metric,
    value,
    sub,
    short: new LiveChart(shortEl, { color, label: title, windowS: 10, ticksS: [2, 5, 10] }),
    long: new LiveChart(longEl, { color, label: title, windowS: 300, ticksS: [60, 120, 300] }),
  };
});

// ---- the frame loop ----

let frameQueued = false;
let lastShortDraw = 0;
let lastLongDraw = 0;
let lastStripDraw = 0;
let tilesDirty = true;
/**
 * The strip moves at most 10 times a second: each move repaints all of it, and at 100 mini-blocks
 * a second a move per animation frame kept the browser busier than the chart and tables together.
 */
const STRIP_EVERY_MS = 100;

function schedule(): void {
  if (frameQueued) return;
  frameQueued = true;
  requestAnimationFrame(frame);
}

function frame(now: number): void {
  frameQueued = false;
  if (now - lastStripDraw >= STRIP_EVERY_MS && strip.render()) lastStripDraw = now;
  blocks.render();
  nodes.render();
  if (tilesDirty) drawTiles();
  const wall = Date.now();
  if (now - lastShortDraw >= 200) {
    lastShortDraw = now;
    drawRates(wall, now - lastLongDraw >= 1000);
    if (now - lastLongDraw >= 1000) lastLongDraw = now;
  }
}

/** Charts and ages move with time even when nothing arrives. */
setInterval(() => {
  tilesDirty = true;
  schedule();
}, 250);

function drawRates(wall: number, long: boolean): void {
  const s = fine.series(wall);
  const l = long ? coarse.series(wall) : null;
  for (const c of cards) {
    c.short.update(s.x, s.rates[c.metric]);
    if (l !== null) c.long.update(l.x, l.rates[c.metric]);
    setText(c.value, count(fine.average(wall, c.metric)));
    if (l !== null) setText(c.sub, `10 s average · 5 min: ${count(coarse.average(wall, c.metric))}`);
  }
}

function ago(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  return s < 10
    ? `${s.toFixed(1)} s ago`
    : s < 120
      ? `${Math.round(s)} s ago`
      : `${Math.round(s / 60)} min ago`;
}

function drawTiles(): void {
  tilesDirty = false;
  const now = Date.now();
  if (latestHead !== null) {
    setText(byId("latest-block"), num(latestHead.number).toLocaleString("en-US"));
    setText(byId("latest-block-sub"), `${short(latestHead.hash, 8, 4)} · ${ago(now - latestHeadAt)}`);
  }
  if (latestMiniBlock !== null) {
    const mb = latestMiniBlock;
    setText(byId("latest-mini-block"), num(mb.number).toLocaleString("en-US"));
    setText(
      byId("latest-mini-block-sub"),
      `block ${num(mb.blockNumber).toLocaleString("en-US")} · index ${num(mb.index)} · ${ago(now - Number(BigInt(mb.timestampUs) / 1000n))}`,
    );
  }
  if (finality !== null) {
    setText(byId("finalized"), num(finality.finalized).toLocaleString("en-US"));
    const behind = num(finality.latest) - num(finality.finalized);
    setText(
      byId("finalized-sub"),
      finality.quorum === 0
        ? "no provers: every sealed block is final"
        : `${behind} behind latest · quorum ${finality.quorum} of ${finality.provers.length} provers`,
    );
  }
  if (chainId !== null) {
    setText(byId("chain"), String(chainId));
    setText(byId("chain-sub"), self === null ? "" : `watching a ${self.role} · ${self.clientVersion}`);
  }
  const conn = byId("conn");
  conn.dataset.state = connected ? "live" : "down";
  setText(byId("conn-text"), connected ? "live" : "reconnecting");
  drawAlarms();
}

function drawAlarms(): void {
  const el = byId("alarms");
  const items: HTMLElement[] = [];
  for (const a of finality?.alarms ?? [])
    items.push(
      h(
        "div",
        { class: "alarm", "data-kind": "invalid" },
        h("strong", null, `INVALID verdict for block ${num(a.blockNumber).toLocaleString("en-US")}`),
        ` from prover ${short(a.prover)}: ${a.reason}${a.canonical === false ? " (another block at this height)" : ""}`,
      ),
    );
  if (finality?.haltedAt !== null && finality?.haltedAt !== undefined)
    items.push(
      h(
        "div",
        { class: "alarm", "data-kind": "halted" },
        h("strong", null, "Finality halted"),
        ` before block ${num(finality.haltedAt).toLocaleString("en-US")}`,
      ),
    );
  for (const p of nodes.problems())
    items.push(
      h(
        "div",
        { class: "alarm", "data-kind": "node" },
        h("strong", null, `${p.name} is unhealthy`),
        `: ${p.why}`,
      ),
    );
  const key = items.map((i) => i.textContent).join("|");
  if (el.dataset.key === key) return;
  el.dataset.key = key;
  el.replaceChildren(...items);
  el.hidden = items.length === 0;
}

// ---- live data ----

function onMiniBlock(mb: MiniBlockNote): void {
  latestMiniBlock = mb;
  const at = Number(BigInt(mb.timestampUs) / 1000n);
  const txs = mb.transactions.length;
  const gas = mb.gasUsed === undefined ? 0 : num(mb.gasUsed);
  fine.add(at, 1, txs, gas);
  if (num(mb.blockNumber) > backfilledThrough) coarse.add(at, 1, txs, gas);
  strip.push(mb);
  tilesDirty = true;
  schedule();
}

function onHead(head: HeadNote): void {
  latestHead = head;
  latestHeadAt = Date.now();
  nodes.latestBlock = Math.max(nodes.latestBlock, num(head.number));
  blocks.add(head);
  tilesDirty = true;
  schedule();
}

/**
 * Fills the 5-minute chart from the last 300 blocks' figures (block timestamps have 1 s
 * resolution, like the chart's buckets) and the blocks table from the newest ones.
 */
async function backfill(latest: number): Promise<void> {
  const from = Math.max(0, latest - 299);
  const calls: [string, unknown[]][] = [];
  for (let n = from; n <= latest; n++) calls.push(["staccato_getBlockStats", [`0x${n.toString(16)}`]]);
  const stats = await rpc.batch<BlockStats | null>(calls);
  const now = Date.now();
  for (const s of stats) {
    if (s === null || s instanceof Error || s.timestamp === undefined) continue;
    const at = num(s.timestamp) * 1000;
    if (now - at > coarse.windowMs) continue;
    coarse.add(at, s.miniBlocks, s.transactions, num(s.gasUsed));
  }
  backfilledThrough = latest;
  for (const s of stats.slice(-12)) {
    if (s === null || s instanceof Error) continue;
    blocks.add(
      { number: s.number, hash: s.hash, gasUsed: s.gasUsed, timestamp: s.timestamp ?? "0x0" },
      s.sealedAt ?? num(s.timestamp ?? "0x0") * 1000,
    );
  }
}

async function start(): Promise<void> {
  const ws = new WsRpc(wsUrl, (up) => {
    connected = up;
    tilesDirty = true;
    schedule();
  });
  ws.subscribe("miniBlocks", undefined, (r) => onMiniBlock(r as MiniBlockNote));
  ws.subscribe("newHeads", undefined, (r) => onHead(r as HeadNote));
  ws.connect();

  const [id, info, latest, status] = await rpc.batch<unknown>([
    ["eth_chainId", []],
    ["staccato_nodeInfo", [0]],
    ["eth_getBlockByNumber", ["latest", false]],
    ["staccato_status", []],
  ]);
  if (!(id instanceof Error)) chainId = num(id as string);
  if (!(info instanceof Error)) self = info as NodeInfo;
  if (!(latest instanceof Error) && latest !== null) {
    const head = latest as HeadNote;
    if (latestHead === null) onHead(head);
    await backfill(num(head.number)).catch(() => undefined);
  }
  if (!(status instanceof Error) && latestMiniBlock === null) {
    const s = status as Record<string, unknown>;
    const n = s.latestMiniBlock ?? s.appliedMiniBlock;
    if (typeof n === "number" && n > 0) {
      const mb = await rpc.call<MiniBlockNote | null>("staccato_getMiniBlockByNumber", [
        `0x${n.toString(16)}`,
      ]);
      if (mb !== null && latestMiniBlock === null) latestMiniBlock = mb;
    }
  }
  setText(
    byId("foot"),
    `Reading ${here.host} over public JSON-RPC and WebSocket (miniBlocks, newHeads, staccato_*), and ` +
      `staccato_nodeInfo of every node in the table. Add nodes with ?nodes=name@port,name@host:port.`,
  );
  tilesDirty = true;
  schedule();
  poll();
}

/** Finality, attestations and the nodes, every second; one round at a time. */
async function poll(): Promise<void> {
  const started = Date.now();
  try {
    const f = await rpc.call<Finality>("staccato_finality");
    finality = f;
    blocks.setFinality(f);
    nodes.latestBlock = Math.max(nodes.latestBlock, num(f.latest));
  } catch {
    // the node is unreachable: the connection indicator and the nodes table say so
  }
  await Promise.all([blocks.refresh().catch(() => undefined), nodes.refresh()]);
  tilesDirty = true;
  schedule();
  setTimeout(poll, Math.max(0, 1000 - (Date.now() - started)));
}

byId<HTMLFormElement>("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  views.search(byId<HTMLInputElement>("search").value);
});

void start();
