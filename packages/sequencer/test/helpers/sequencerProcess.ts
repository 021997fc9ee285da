import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: the CLI is started from here so `--import tsx` and the workspace resolve. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
const CLI = "packages/sequencer/src/cli.ts";

export interface SequencerStartOptions {
  /** Data directory; default a fresh temp dir that `cleanup()` removes. */
  dataDir?: string;
  /** Extra CLI flags, e.g. `["--txpool-max", "5"]`. */
  args?: string[];
  /** How long to wait for "sequencer started" (default 30 s). */
  startTimeoutMs?: number;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Every process started here, so an aborted test run never leaves a sequencer behind. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

/**
 * A real `staccato-sequencer --dev` process on 127.0.0.1 with ephemeral RPC and metrics ports.
 * Its stdout/stderr (pino JSON lines) are captured for assertions and for error messages.
 */
export class SequencerProcess {
  private lines: string[] = [];
  private partial = "";
  readonly rpcUrl: string;
  readonly wsUrl: string;
  readonly metricsUrl: string;
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | null = null;

  private constructor(
    readonly child: ChildProcess,
    readonly dataDir: string,
    readonly args: readonly string[],
    private ownsDataDir: boolean,
    started: { rpc: string; ws: string; metrics: string },
    lines: string[],
    partial: string,
    exited: Promise<ExitStatus>,
  ) {
    this.rpcUrl = started.rpc;
    this.wsUrl = started.ws;
    this.metricsUrl = started.metrics;
    this.lines = lines;
    this.partial = partial;
    this.exited = exited.then((s) => {
      this.exitStatus = s;
      return s;
    });
    const onData = (chunk: Buffer) => this.append(chunk.toString("utf8"));
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
  }

  /** Spawns the CLI and resolves once it logs "sequencer started"; rejects with its output otherwise. */
  static async start(opts: SequencerStartOptions = {}): Promise<SequencerProcess> {
    const ownsDataDir = opts.dataDir === undefined;
    const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "staccato-seq-test-"));
    const args = opts.args ?? [];
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        CLI,
        "--dev",
        "--data-dir",
        dataDir,
        "--rpc-host",
        "127.0.0.1",
        "--rpc-port",
        "0",
        "--metrics-host",
        "127.0.0.1",
        "--metrics-port",
        "0",
        "--p2p-listen",
        "/ip4/127.0.0.1/tcp/0",
        ...args,
      ],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, STACCATO_LOG_FORMAT: "json", NODE_OPTIONS: "" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    live.add(child);
    const exited = new Promise<ExitStatus>((resolve) => {
      child.once("exit", (code, signal) => {
        live.delete(child);
        resolve({ code, signal });
      });
    });

    const lines: string[] = [];
    let partial = "";
    const timeoutMs = opts.startTimeoutMs ?? 30_000;
    try {
      const started = await new Promise<{ rpc: string; ws: string; metrics: string }>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `sequencer did not start within ${timeoutMs} ms; output:\n${[...lines, partial].join("\n")}`,
            ),
          );
        }, timeoutMs);
        const onData = (chunk: Buffer) => {
          const text = partial + chunk.toString("utf8");
          const parts = text.split("\n");
          partial = parts.pop() ?? "";
          for (const line of parts) {
            lines.push(line);
            const entry = parseLine(line);
            if (entry?.msg === "sequencer started") {
              clearTimeout(timer);
              child.stdout?.off("data", onData);
              child.stderr?.off("data", onData);
              resolve({ rpc: String(entry.rpc), ws: String(entry.ws), metrics: String(entry.metrics) });
              return;
            }
          }
        };
        child.stdout?.on("data", onData);
        child.stderr?.on("data", onData);
        exited.then((s) => {
          clearTimeout(timer);
          reject(
            new Error(
              `sequencer exited during start (code ${s.code}, signal ${s.signal}); output:\n${[...lines, partial].join("\n")}`,
            ),
          );
        });
      });
      return new SequencerProcess(child, dataDir, args, ownsDataDir, started, lines, partial, exited);
    } catch (err) {
      child.kill("SIGKILL");
      await exited;
      if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exitStatus === null;
  }

  /** Everything the process printed so far. */
  output(): string {
    return [...this.lines, this.partial].join("\n");
  }

  /** The JSON log lines printed so far. */
  logs(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const l of this.lines) {
      const e = parseLine(l);
      if (e !== undefined) out.push(e);
    }
    return out;
  }

  /** Resolves with the first log line (already printed or to come) that `match` accepts. */
  async waitForLog(
    match: (entry: Record<string, unknown>) => boolean,
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs().find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline)
        throw new Error(`log line not seen within ${timeoutMs} ms; output:\n${this.output()}`);
      await sleep(25);
    }
  }

  /** SIGTERM (a clean stop) and wait for exit. */
  async stop(timeoutMs = 15_000): Promise<ExitStatus> {
    if (!this.running) return this.exitStatus!;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL: a crash. Nothing gets flushed or closed. */
  async kill9(): Promise<ExitStatus> {
    if (!this.running) return this.exitStatus!;
    this.child.kill("SIGKILL");
    return await this.exited;
  }

  /** Starts a new process on the same data dir (and flags); this one must have exited. */
  async restart(opts: { args?: string[]; startTimeoutMs?: number } = {}): Promise<SequencerProcess> {
    if (this.running) throw new Error("restart() needs the process stopped first (stop() or kill9())");
    const next = await SequencerProcess.start({
      dataDir: this.dataDir,
      args: opts.args ?? [...this.args],
      startTimeoutMs: opts.startTimeoutMs,
    });
    // The data dir (and removing it) now belongs to the new process.
    next.ownsDataDir = this.ownsDataDir;
    this.ownsDataDir = false;
    return next;
  }

  /** Kills the process if it still runs and removes the data dir it created. Safe to call twice. */
  async cleanup(): Promise<void> {
    await this.kill9();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  private append(text: string): void {
    const parts = (this.partial + text).split("\n");
    this.partial = parts.pop() ?? "";
    for (const l of parts) this.lines.push(l);
  }
}

function parseLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
