import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..", "..", "..");

/** The sum of a Prometheus metric's samples whose labels include `labels` (0 if absent). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const ls = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/**
 * A real Staccato daemon process started by a test: its pino JSON lines are captured for
 * assertions, and `started` holds the fields of its "… started" line (URLs, p2p addresses).
 */
export class DaemonProcess {
  private out = "";
  started: Record<string, unknown> = {};
  metricsUrl = "";

  protected constructor(readonly child: ChildProcess) {
    const onData = (d: Buffer) => {
      this.out += d.toString();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
  }

  /**
   * Spawns `cli` with `args`, adds it to `live` while it runs, and resolves once it logs `ready`;
   * kills it and rejects with its output otherwise.
   */
  protected static async spawnDaemon<T extends DaemonProcess>(
    make: (child: ChildProcess) => T,
    cli: string,
    args: string[],
    ready: string,
    live: Set<ChildProcess>,
    startTimeoutMs: number,
  ): Promise<T> {
    const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], {
      cwd: ROOT,
      env: { ...process.env, STACCATO_LOG_FORMAT: "json", NODE_OPTIONS: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(child);
    child.once("exit", () => live.delete(child));
    const p = make(child);
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      const started = p.logs().find((l) => l.msg === ready);
      if (started !== undefined) {
        p.started = started;
        p.metricsUrl = started.metrics as string;
        return p;
      }
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await p.kill("SIGKILL");
    throw new Error(`${cli} did not log "${ready}":\n${p.out}`);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.out;
  }

  logs(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const l of this.out.split("\n")) {
      if (!l.startsWith("{")) continue;
      try {
        out.push(JSON.parse(l));
      } catch {
        // a line still being written
      }
    }
    return out;
  }

  /** The sum of a Prometheus metric's samples whose labels include `labels` (0 if absent). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricValue(await (await fetch(this.metricsUrl)).text(), name, labels);
  }

  async kill(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill(signal);
    await exited;
  }
}
