// Summarises a V8 CPU profile (.cpuprofile, from `--cpu-prof` or BENCH_CPU_PROF): self time by
// function and by package/file, as a share of the profile's wall time.
// Usage: node bench/micro/profSummary.mjs <file.cpuprofile> [top=40] [from_s] [to_s]
// from_s/to_s: only samples in that window (seconds from the profile's start); the timeline it
// prints first (busy share per second) shows where the load was.
// UNDER=<function name>: only samples with that function on their stack (e.g. UNDER=runAll).
import { readFileSync } from "node:fs";

const [file, topArg, fromArg, toArg] = process.argv.slice(2);
if (file === undefined) {
  console.error("usage: node bench/micro/profSummary.mjs <file.cpuprofile> [top=40]");
  process.exit(2);
}
const top = Number(topArg ?? 40);
const out = (...parts) => process.stdout.write(`${parts.join(" ")}\n`);
const prof = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const idleIds = new Set(prof.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id));
const under = process.env.UNDER;
const parentOf = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const underMemo = new Map();
/** Whether a sample's stack holds the function UNDER names. */
function isUnder(id) {
  let known = underMemo.get(id);
  if (known === undefined) {
    known = false;
    for (let at = id; at !== undefined; at = parentOf.get(at))
      if (byId.get(at).callFrame.functionName === under) {
        known = true;
        break;
      }
    underMemo.set(id, known);
  }
  return known;
}
const from = Number(fromArg ?? 0) * 1e6;
const to = toArg === undefined ? Number.POSITIVE_INFINITY : Number(toArg) * 1e6;
const self = new Map();
const perSecond = [];
let t = 0;
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i] ?? 0;
  t += dt;
  const sec = Math.floor(t / 1e6);
  perSecond[sec] ??= { busy: 0, all: 0 };
  perSecond[sec].all += dt;
  if (!idleIds.has(prof.samples[i])) perSecond[sec].busy += dt;
  if (t < from || t > to) continue;
  if (under !== undefined && !isUnder(prof.samples[i])) continue;
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
}
out(
  `busy share per second: ${perSecond.map((s) => Math.round((100 * s.busy) / Math.max(1, s.all))).join(" ")}`,
);
const total = [...self.values()].reduce((a, b) => a + b, 0);

function where(url) {
  if (url === "") return "(native/vm)";
  const m = url.match(/node_modules\/\.pnpm\/([^/]+)\/node_modules\/(@[^/]+\/[^/]+|[^/]+)\//);
  if (m) return m[2];
  const p = url.match(/packages\/([^/]+)\/src\/(.*)$/);
  if (p) return `@staccato/${p[1]}/${p[2]}`;
  return url.replace(/^file:\/\//, "").replace(/^node:/, "node:");
}

const fns = new Map();
const pkgs = new Map();
for (const [id, us] of self) {
  const n = byId.get(id);
  const cf = n.callFrame;
  const w = where(cf.url);
  const key = `${cf.functionName || "(anonymous)"}  ${w}:${cf.lineNumber + 1}`;
  fns.set(key, (fns.get(key) ?? 0) + us);
  const pkg = w.startsWith("@staccato/") ? w : w.split(":")[0];
  pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + us);
}
const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
out(`profile: ${(total / 1e6).toFixed(1)} s sampled`);
out("\n-- self time by package/file --");
for (const [k, v] of [...pkgs].sort((a, b) => b[1] - a[1]).slice(0, top)) out(pct(v), k);
out("\n-- self time by function --");
for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) out(pct(v), k);
