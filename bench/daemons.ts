import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { log } from "./report.ts";
import { REPO_ROOT, sleep } from "./targets.ts";

// `ws` is a dependency of packages/common; the bench borrows it from there.
export const WebSocket = createRequire(join(REPO_ROOT, "packages/common/package.json"))(
  "ws",
) as typeof import("ws").default;

/** A Staccato daemon the bench started, with the fields of its "… started" log line. */
export interface Daemon {
  child: ChildProcess;
  started: Record<string, unknown>;
}

const live = new Set<Daemon>();
const stopping = new WeakSet<ChildProcess>();
process.once("exit", () => {
  for (const d of live) d.child.kill("SIGKILL");
});

/** `BENCH_CPU_PROF_DIR=<dir>`: every daemon started here writes a V8 CPU profile there on exit. */
const PROFILE = process.env.BENCH_CPU_PROF_DIR
  ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`]
  : [];

/**
 * Starts `cli` (a TypeScript entry point; `nodeArgs` go to node before it) and resolves once it
 * logs `ready`. A daemon that exits later without `stopDaemon` is reported with the tail of its
 * output.
 */
export async function startDaemon(
  cli: string,
  args: string[],
  ready: string,
  nodeArgs: string[] = [],
): Promise<Daemon> {
  const child = spawn(process.execPath, [...PROFILE, ...nodeArgs, "--import", "tsx", cli, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, STACCATO_LOG_FORMAT: "json", NODE_OPTIONS: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const onData = (d: Buffer) => {
    out += d.toString();
    if (out.length > 1_000_000) out = out.slice(-100_000);
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  child.once("exit", (code, signal) => {
    if (!stopping.has(child))
      log(`${cli} exited on its own (code ${code}, signal ${signal}); last output:\n${out.slice(-3000)}`);
  });
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const line = out.split("\n").find((l) => l.includes(`"msg":"${ready}"`));
    if (line !== undefined) {
      const d = { child, started: JSON.parse(line) as Record<string, unknown> };
      live.add(d);
      return d;
    }
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  stopping.add(child);
  child.kill("SIGKILL");
  throw new Error(`${cli} did not start: ${out.slice(-2000)}`);
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopDaemon(d: Daemon, graceMs = 10_000): Promise<void> {
  stopping.add(d.child);
  if (d.child.exitCode === null && d.child.signalCode === null) {
    const exited = new Promise((r) => d.child.once("exit", r));
    d.child.kill("SIGTERM");
    await Promise.race([exited, sleep(graceMs)]);
    d.child.kill("SIGKILL");
  }
  live.delete(d);
}

/** Stops every daemon still running. */
export async function stopAllDaemons(): Promise<void> {
  for (const d of [...live]) await stopDaemon(d);
}

/** The sum of a Prometheus metric's samples (0 if absent). */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const l of text.split("\n"))
    if (l.startsWith(name) && (l[name.length] === " " || l[name.length] === "{"))
      sum += Number(l.slice(l.lastIndexOf(" ") + 1));
  return sum;
}
