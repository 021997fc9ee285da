import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

/**
 * Memory of a target, read from /proc (Linux only). A target is measured as its process tree:
 * the spawned pid plus every descendant, so a daemon that forks helpers is not under-counted.
 * RSS is summed over the tree; the peak (VmHWM) is summed too, which is an upper bound when
 * several processes peaked at different times (equal to the real peak for one process).
 */

export interface MemSample {
  rssMb: number;
  peakMb: number;
  processes: number;
}

export function sampleMemory(rootPid: number): MemSample {
  let rssKb = 0;
  let peakKb = 0;
  const pids = processTree(rootPid);
  let processes = 0;
  for (const pid of pids) {
    const status = readStatus(pid);
    if (status === null) continue;
    processes++;
    rssKb += field(status, "VmRSS");
    peakKb += field(status, "VmHWM");
  }
  if (processes === 0) throw new Error(`process ${rootPid} is gone`);
  return { rssMb: rssKb / 1024, peakMb: peakKb / 1024, processes };
}

/** CPU time a target has used so far, in ms: its whole process tree, and its main thread alone. */
export interface CpuSample {
  totalMs: number;
  mainMs: number;
}

/**
 * Reads utime + stime from /proc. The main thread is the one that executes transactions in
 * Staccato's sequencer, so its share is the figure that bounds throughput there; for a
 * multi-threaded target (Anvil) only the total means anything.
 */
export function sampleCpu(rootPid: number): CpuSample {
  let ticks = 0;
  for (const pid of processTree(rootPid)) ticks += statTicks(`/proc/${pid}/stat`) ?? 0;
  const main = statTicks(`/proc/${rootPid}/task/${rootPid}/stat`);
  if (main === null) throw new Error(`process ${rootPid} is gone`);
  const msPerTick = 1000 / clockTicks();
  return { totalMs: ticks * msPerTick, mainMs: main * msPerTick };
}

function statTicks(path: string): number | null {
  let stat: string;
  try {
    stat = readFileSync(path, "utf8");
  } catch {
    return null;
  }
  // Fields after "pid (comm) ": state is the 3rd field, utime the 14th and stime the 15th.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(rest[11]) + Number(rest[12]);
}

let clkTck: number | null = null;
function clockTicks(): number {
  if (clkTck === null) {
    try {
      clkTck = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

function readStatus(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
}

function field(status: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
  return m === null ? 0 : Number(m[1]);
}

function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // "pid (comm) state ppid ..." – comm may contain spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(rest[1]);
    const list = children.get(ppid);
    if (list === undefined) children.set(ppid, [Number(entry)]);
    else list.push(Number(entry));
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return out;
}

/** Samples memory every `intervalMs` until stopped; keeps the highest RSS seen. */
export class MemorySampler {
  private timer: NodeJS.Timeout | null = null;
  maxRssMb = 0;
  samples = 0;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.tick();
  }

  private tick(): void {
    try {
      const s = sampleMemory(this.pid);
      this.samples++;
      if (s.rssMb > this.maxRssMb) this.maxRssMb = s.rssMb;
    } catch {
      // the process died; the run that depends on it reports the failure
    }
  }
}
