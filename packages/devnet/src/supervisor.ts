import { ErrorCode, StaccatoError } from "@staccato/common";
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { DAEMON_BINARIES, type DaemonContext, daemonArgs, healthUrl } from "./daemons.ts";
import type { DaemonPlan } from "./layout.ts";

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Child {
  plan: DaemonPlan;
  proc: ChildProcess;
  exited: Promise<ExitInfo>;
  exit: ExitInfo | null;
}

export interface SupervisorIo {
  /** Progress lines (stdout). */
  info(line: string): void;
  /** Crashes and failures (stderr): loud on purpose. */
  error(line: string): void;
}

export class DevnetStartError extends StaccatoError {
  constructor(message: string) {
    super(ErrorCode.Devnet, message, undefined);
  }
}

/** How long a daemon gets to stop on SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 30_000;
const HEALTH_POLL_MS = 200;
const LOG_TAIL_LINES = 20;

/**
 * Runs the devnet's daemons as child processes, each writing its log to a file. A daemon that
 * exits while the devnet runs is a crash: it is reported with the tail of its log and the whole
 * devnet stops with status 1 (restarting it in a loop would hide the failure; the data dirs are
 * kept, so running the devnet again resumes). `stop()` sends SIGTERM to every daemon and waits.
 */
export class DevnetSupervisor {
  private readonly children: Child[] = [];
  private stopping: Promise<boolean> | null = null;
  private crashed = false;
  private started = false;
  private readonly abort = new AbortController();
  private resolveDone!: (code: number) => void;
  /** Resolves with the devnet's exit status once every daemon has stopped. */
  readonly done = new Promise<number>((r) => {
    this.resolveDone = r;
  });

  constructor(
    private readonly ctx: DaemonContext & { startTimeoutMs: number; onCrash?: "stop" | "continue" },
    private readonly io: SupervisorIo,
  ) {}

  /** Starts the sequencer, waits for it, then everything else; all of `plan` is healthy on return. */
  async start(plan: DaemonPlan[]): Promise<void> {
    try {
      await ensurePortsFree(plan, this.ctx.host);
      const [sequencer, ...rest] = plan;
      await this.launch([sequencer]);
      await this.launch(rest);
      this.started = true;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async launch(plans: DaemonPlan[]): Promise<void> {
    const env = childEnv(process.env);
    mkdirSync(this.ctx.layout.logsDir, { recursive: true });
    for (const plan of plans) {
      const log = openSync(this.ctx.layout.logFile(plan.name), "a");
      const proc = spawn(process.execPath, [DAEMON_BINARIES[plan.role], ...daemonArgs(plan, this.ctx)], {
        stdio: ["ignore", log, log],
        env,
      });
      closeSync(log);
      let child!: Child;
      const exited = new Promise<ExitInfo>((resolve) => {
        proc.once("exit", (code, signal) => {
          child.exit = { code, signal };
          resolve(child.exit);
          if (this.stopping === null) void this.onCrash(child);
        });
      });
      proc.once("error", (err) => this.io.error(`devnet: cannot start ${plan.name}: ${err.message}`));
      child = { plan, proc, exited, exit: null };
      this.children.push(child);
      this.io.info(`devnet: started ${plan.name} (pid ${proc.pid})`);
    }
    await Promise.all(plans.map((p) => this.waitHealthy(p)));
  }

  private async waitHealthy(plan: DaemonPlan): Promise<void> {
    const url = healthUrl(plan, this.ctx.host);
    const deadline = Date.now() + this.ctx.startTimeoutMs;
    while (!this.abort.signal.aborted) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new DevnetStartError(
          `${plan.name} did not answer ${url} within ${this.ctx.startTimeoutMs} ms; see ${this.ctx.layout.logFile(plan.name)}`,
        );
      await new Promise((r) => setTimeout(r, HEALTH_POLL_MS));
    }
    throw new DevnetStartError(`devnet stopped while ${plan.name} was starting`);
  }

  private async onCrash(child: Child): Promise<void> {
    this.crashed = true;
    const { code, signal } = child.exit!;
    const file = this.ctx.layout.logFile(child.plan.name);
    const bar = "!".repeat(78);
    this.io.error(
      [
        bar,
        `devnet: ${child.plan.name} (pid ${child.proc.pid}) EXITED UNEXPECTEDLY (${signal === null ? `exit code ${code}` : `signal ${signal}`})`,
        `devnet: last lines of ${file}:`,
        ...tail(file, LOG_TAIL_LINES).map((l) => `  ${l}`),
        this.ctx.onCrash === "continue"
          ? "devnet: --on-crash continue: the other daemons keep running; Ctrl-C stops them (exit status 1)"
          : "devnet: stopping the other daemons; run the devnet again to resume the chain",
        bar,
      ].join("\n"),
    );
    // While starting, a crash always stops everything: the devnet never came up.
    if (this.ctx.onCrash !== "continue" || !this.started) await this.stop();
  }

  /** SIGTERM to every running daemon, then wait (SIGKILL after 30 s). True if all stopped cleanly. */
  stop(): Promise<boolean> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<boolean> {
    this.abort.abort();
    const running = this.children.filter((c) => c.exit === null);
    if (running.length > 0) this.io.info(`devnet: stopping ${running.map((c) => c.plan.name).join(", ")}`);
    for (const c of running) c.proc.kill("SIGTERM");
    const results = await Promise.all(
      running.map(async (c) => {
        const timer = setTimeout(() => {
          this.io.error(`devnet: ${c.plan.name} did not stop within ${STOP_TIMEOUT_MS} ms: killing it`);
          c.proc.kill("SIGKILL");
        }, STOP_TIMEOUT_MS);
        const exit = await c.exited;
        clearTimeout(timer);
        const clean = exit.code === 0;
        if (!clean)
          this.io.error(`devnet: ${c.plan.name} stopped with ${exit.signal ?? `exit code ${exit.code}`}`);
        return clean;
      }),
    );
    const clean = results.every(Boolean) && !this.crashed;
    this.resolveDone(clean ? 0 : 1);
    return clean;
  }
}

/** The daemons get the devnet's environment without `STACCATO_*` settings meant for one daemon. */
function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith("STACCATO_")) out[k] = v;
  out.STACCATO_LOG_FORMAT = "json";
  return out;
}

/** Fails before anything starts when a port is taken, naming the daemon and the flag to change. */
async function ensurePortsFree(plan: DaemonPlan[], host: string): Promise<void> {
  const wanted: { port: number; host: string; what: string; flag: string }[] = [];
  for (const d of plan) {
    wanted.push({ port: d.rpcPort, host, what: `${d.name} JSON-RPC`, flag: "--rpc-port" });
    wanted.push({ port: d.p2pPort, host: "127.0.0.1", what: `${d.name} libp2p`, flag: "--p2p-port" });
    wanted.push({
      port: d.metricsPort,
      host: "127.0.0.1",
      what: `${d.name} metrics`,
      flag: "--metrics-port",
    });
  }
  const seen = new Map<number, string>();
  for (const w of wanted) {
    const other = seen.get(w.port);
    if (other !== undefined)
      throw new DevnetStartError(
        `port ${w.port} is planned for both ${other} and ${w.what}: change ${w.flag}`,
      );
    seen.set(w.port, w.what);
    if (!(await portFree(w.port, w.host)))
      throw new DevnetStartError(`port ${w.port} (${w.what}) is already in use: pass another ${w.flag}`);
  }
}

/** Whether `port` can be listened on at `host` right now. */
export function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function tail(file: string, n: number): string[] {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-n);
  } catch {
    return ["(no log)"];
  }
}
