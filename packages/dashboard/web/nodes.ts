import { bytes, clock, duration, h, ms, short } from "./format.ts";
import { HttpRpc } from "./rpc.ts";
import type { NodeInfo } from "./types.ts";

/** A node the page watches: the one it was served by, and those named in `?nodes=`. */
export interface NodeTarget {
  name: string;
  url: string;
}

export type NodeHealth = "ok" | "unhealthy" | "down" | "unknown";

interface Row {
  target: NodeTarget;
  rpc: HttpRpc;
  info: NodeInfo | null;
  error: string | null;
  health: NodeHealth;
  expanded: boolean;
  el: HTMLTableRowElement;
  log: HTMLTableRowElement;
  dirty: boolean;
}

/** How long a node has to answer `staccato_nodeInfo` before its row says it is down. */
const NODE_TIMEOUT_MS = 1_500;
const LOG_LINES = 14;
const LEVELS: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};

/**
 * `?nodes=` entries: comma-separated `[name@]url`, where url is a full http(s) URL, `host:port`,
 * or just a port on the page's own host (`fullnode-1@8546`).
 */
export function parseNodeList(param: string | null, here: URL): NodeTarget[] {
  if (param === null || param.trim() === "") return [];
  const out: NodeTarget[] = [];
  for (const raw of param.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const at = entry.indexOf("@");
    const name = at > 0 ? entry.slice(0, at) : "";
    let where = at > 0 ? entry.slice(at + 1) : entry;
    if (/^\d+$/.test(where)) where = `${here.protocol}//${here.hostname}:${where}`;
    else if (!/^https?:\/\//.test(where)) where = `${here.protocol}//${where}`;
    let url: URL;
    try {
      url = new URL(where);
    } catch {
      continue;
    }
    out.push({ name: name || url.host, url: url.origin + "/" });
  }
  return out;
}

/** The nodes table: every node's `staccato_nodeInfo`, polled each second. */
export class Nodes {
  private readonly rows: Row[] = [];
  private readonly tbody: HTMLTableSectionElement;
  /** The chain's newest block as the page's own node sees it: prover lag is measured against it. */
  latestBlock = 0;

  constructor(table: HTMLTableElement, targets: NodeTarget[]) {
    this.tbody = table.tBodies[0];
    for (const target of targets) {
      const el = h("tr", { class: "node", "data-node": target.name, "data-health": "unknown" });
      const log = h("tr", { class: "log-row", hidden: true });
      const row: Row = {
        target,
        rpc: new HttpRpc(target.url, NODE_TIMEOUT_MS),
        info: null,
        error: null,
        health: "unknown",
        expanded: false,
        el,
        log,
        dirty: true,
      };
      el.addEventListener("click", () => {
        row.expanded = !row.expanded;
        row.dirty = true;
      });
      this.rows.push(row);
      this.tbody.append(el, log);
    }
  }

  /** Names of nodes that are down or report themselves unhealthy, with why. */
  problems(): { name: string; why: string }[] {
    return this.rows
      .filter((r) => r.health === "down" || r.health === "unhealthy")
      .map((r) => ({ name: r.target.name, why: r.error ?? "unhealthy" }));
  }

  async refresh(): Promise<void> {
    await Promise.all(
      this.rows.map(async (r) => {
        try {
          const info = await r.rpc.call<NodeInfo>("staccato_nodeInfo", [LOG_LINES]);
          r.info = info;
          r.health = info.health.ok ? "ok" : "unhealthy";
          r.error = info.health.ok ? null : String(info.health.error ?? "reports itself unhealthy");
        } catch (err) {
          r.health = "down";
          r.error = `not answering: ${err instanceof Error ? err.message : String(err)}`;
        }
        r.dirty = true;
      }),
    );
  }

  render(): void {
    for (const r of this.rows) if (r.dirty) this.fill(r);
  }

  private fill(r: Row): void {
    r.dirty = false;
    const i = r.info;
    r.el.dataset.health = r.health;
    r.el.className = `node ${r.health}${r.expanded ? " open" : ""}`;
    const healthText =
      r.health === "ok"
        ? "healthy"
        : r.health === "down"
          ? "down"
          : r.health === "unhealthy"
            ? "unhealthy"
            : "…";
    const stale = r.health === "down" && i !== null;
    r.el.replaceChildren(
      h(
        "td",
        null,
        h("div", { class: "node-name" }, r.target.name),
        h("div", { class: "muted small" }, r.target.url.replace(/^https?:\/\//, "").replace(/\/$/, "")),
      ),
      h("td", { class: "hide-s" }, i?.role ?? "—"),
      h(
        "td",
        { title: r.error ?? "" },
        h("span", { class: `pill ${r.health}` }, healthText),
        r.error !== null ? h("div", { class: "small err-text" }, r.error) : null,
      ),
      h("td", { class: `r${stale ? " stale" : ""}` }, i === null ? "—" : head(i)),
      h("td", { class: `r${stale ? " stale" : ""}` }, i === null ? "—" : this.lag(i)),
      h(
        "td",
        { class: `r hide-s${stale ? " stale" : ""}`, title: i === null ? "" : memTitle(i) },
        bytes(i?.memory.rss),
      ),
      h("td", { class: "mono hide-s", title: i?.peerId ?? "" }, short(i?.peerId, 8, 6)),
      h("td", { class: "r hide-s" }, i === null || stale ? "—" : duration(i.uptimeSeconds)),
    );
    r.log.hidden = !r.expanded;
    if (r.expanded) {
      const lines = i?.logTail ?? [];
      r.log.replaceChildren(
        h(
          "td",
          { colspan: 8 },
          h(
            "pre",
            { class: "log" },
            lines.length === 0 ? "(no log lines)" : lines.slice(-LOG_LINES).map(formatLogLine).join("\n"),
          ),
        ),
      );
    }
  }

  private lag(i: NodeInfo): string {
    if (i.role === "sequencer") return "source";
    if (i.role === "prover") {
      const through = Number(i.status.attestedThrough ?? 0);
      return this.latestBlock > 0 ? `${Math.max(0, this.latestBlock - through)} blk` : "—";
    }
    const blocks = i.lag?.blocks;
    const lagMs = i.lag?.ms;
    return `${blocks ?? "—"} blk · ${lagMs === null || lagMs === undefined ? "—" : ms(lagMs)}`;
  }
}

function head(i: NodeInfo): string {
  const s = i.status;
  const n =
    i.role === "sequencer" ? s.latestBlock : i.role === "fullnode" ? s.verifiedBlock : s.attestedThrough;
  return n === undefined ? "—" : Number(n).toLocaleString("en-US");
}

function memTitle(i: NodeInfo): string {
  const m = i.memory;
  return `rss ${bytes(m.rss)}, heap ${bytes(m.heapUsed)} of ${bytes(m.heapTotal)}, array buffers ${bytes(m.arrayBuffers)}`;
}

/** A pino JSON line as `12:34:56.789 INFO  module message key=value …`. */
export function formatLogLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line);
  } catch {
    return line;
  }
  const { level, time, msg, name: _n, pid: _p, hostname: _h, module, ...rest } = o;
  const t = typeof time === "number" ? clock(time) : "";
  const lvl = (LEVELS[Number(level)] ?? String(level)).padEnd(5);
  const extra = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  return `${t} ${lvl} ${module ? `[${module}] ` : ""}${msg ?? ""}${extra ? `  ${extra}` : ""}`;
}
