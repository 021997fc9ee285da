import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { READY_LINE } from "../../src/banner.ts";
import { portFree } from "../../src/supervisor.ts";

const REPO_ROOT = join(import.meta.dirname, "..", "..", "..", "..");
/** The root script `pnpm devnet` / `npm run devnet` runs this after setup. */
const BIN = "packages/devnet/bin/staccato-devnet.js";
/** The banner's last line: everything before it has been printed. */
const BANNER_END = "Ctrl-C stops every daemon";

export interface DevnetUrls {
  /** JSON-RPC URLs by daemon name, as the banner printed them. */
  rpc: Record<string, string>;
}

/**
 * `staccato-devnet` in its own process group, as a terminal runs it: `interrupt()` sends SIGINT
 * to the whole group, which is what Ctrl-C does.
 */
export class DevnetProcess {
  private out = "";
  private err = "";
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on("data", (d: Buffer) => {
      this.out += d.toString();
    });
    child.stderr!.on("data", (d: Buffer) => {
      this.err += d.toString();
    });
    this.exited = new Promise((r) => child.once("exit", (code) => r(code)));
  }

  static async start(args: string[], timeoutMs = 120_000): Promise<DevnetProcess> {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const p = new DevnetProcess(child);
    const deadline = Date.now() + timeoutMs;
    while (!p.out.includes(BANNER_END)) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await p.kill();
        throw new Error(`devnet did not come up:\n${p.output()}`);
      }
      await sleep(100);
    }
    return p;
  }

  output(): string {
    return `--- stdout\n${this.out}\n--- stderr\n${this.err}`;
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** The URLs from the banner's JSON-RPC table. */
  urls(): DevnetUrls {
    const rpc: Record<string, string> = {};
    const banner = this.out.slice(this.out.lastIndexOf(READY_LINE));
    for (const m of banner.matchAll(/^ {2}(\S+)\s+(http:\/\/\S+)\s+ws:\/\/\S+$/gm)) rpc[m[1]] = m[2];
    return { rpc };
  }

  /** Daemon pids as reported by "started <name> (pid N)". */
  pids(): Map<string, number> {
    const pids = new Map<string, number>();
    for (const m of this.out.matchAll(/started (\S+) \(pid (\d+)\)/g)) pids.set(m[1], Number(m[2]));
    return pids;
  }

  /** Ctrl-C: SIGINT to the process group; resolves with the devnet's exit code. */
  async interrupt(timeoutMs = 60_000): Promise<number | null> {
    process.kill(-this.child.pid!, "SIGINT");
    const timer = setTimeout(() => void this.kill(), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL to the whole group (the devnet and every daemon it started). Safe to call twice. */
  async kill(): Promise<void> {
    try {
      process.kill(-this.child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
    if (this.child.exitCode === null && this.child.signalCode === null) await this.exited;
  }
}

/** Processes whose command line mentions `needle` (e.g. a devnet's data dir). */
export function processesMentioning(needle: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      continue;
    }
    if (cmd.includes(needle)) found.push({ pid: Number(entry), cmd });
  }
  return found;
}

/**
 * A base port with `count` consecutive free ports on 127.0.0.1 (the devnet assigns ranges), below
 * Linux's ephemeral range (32768+): there, the daemons' own outgoing connections could take one of
 * the ports between the check and a restart.
 */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (32_768 - 20_000 - count));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portFree(p, "127.0.0.1");
    if (ok) return base;
  }
  throw new Error("no free port range found");
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `f` until it returns a value other than undefined. */
export async function waitFor<T>(
  what: string,
  f: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}
