import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { metricValue } from "../../../fullnode/test/helpers/fullnodeProcess.ts";

const ROOT = join(import.meta.dirname, "..", "..", "..", "..");

/** Every prover started here, so an aborted test run never leaves one behind. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

/** A real staccato-prover process; its pino JSON lines are captured for assertions. */
export class ProverProcess {
  private out = "";
  metricsUrl = "";
  p2p: string[] = [];

  private constructor(
    readonly child: ChildProcess,
    readonly args: string[],
  ) {
    const onData = (d: Buffer) => {
      this.out += d.toString();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
  }

  /** Flags for a test prover: chain config, key, data dir, ephemeral ports, the sequencer as bootnode. */
  static args(o: {
    chain: string;
    keyFile: string;
    dataDir: string;
    bootnode: string;
    workers?: number;
  }): string[] {
    return [
      "--chain",
      o.chain,
      "--key-file",
      o.keyFile,
      "--data-dir",
      o.dataDir,
      "--workers",
      String(o.workers ?? 2),
      "--metrics-port",
      "0",
      "--p2p-listen",
      "/ip4/127.0.0.1/tcp/0",
      "--bootnodes",
      o.bootnode,
    ];
  }

  static async start(args: string[], startTimeoutMs = 30_000): Promise<ProverProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", "packages/prover/src/cli.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(child);
    child.once("exit", () => live.delete(child));
    const p = new ProverProcess(child, args);
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      const started = p.logs().find((l) => l.msg === "prover started");
      if (started !== undefined) {
        p.metricsUrl = started.metrics as string;
        p.p2p = started.p2p as string[];
        return p;
      }
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await p.kill("SIGKILL");
    throw new Error(`prover did not start:\n${p.out}`);
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

  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricValue(await (await fetch(this.metricsUrl)).text(), name, labels);
  }

  async health(): Promise<number> {
    return (await fetch(this.metricsUrl.replace(/\/metrics$/, "/health"))).status;
  }

  async kill(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill(signal);
    await exited;
  }
}
