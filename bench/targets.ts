import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TargetName } from "./config.ts";
import { log } from "./report.ts";
import { RpcClient } from "./rpc.ts";

/**
 * A node under test: a child process serving JSON-RPC on 127.0.0.1. The bench only ever talks
 * to `rpcUrl` and reads `/proc/<pid>`; nothing else about a target is special-cased.
 */
export interface Target {
  readonly name: TargetName;
  readonly rpcUrl: string;
  readonly pid: number;
  /** Its data dir (Staccato's holds the DA blobs), or null. */
  readonly dataDir: string | null;
  /** Why the process exited, or null while it is running. */
  exitReason(): string | null;
  stop(): Promise<void>;
}

export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

// Everything spawned or created is tracked here so that it is torn down on any exit path.
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();

export function installCleanupHandlers(): void {
  process.on("exit", () => {
    for (const c of liveChildren) c.kill("SIGKILL");
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      log(`${sig}: stopping targets`);
      process.exit(130);
    });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") return reject(new Error("no port"));
      srv.close(() => resolve(addr.port));
    });
  });
}

interface SpawnSpec {
  name: TargetName;
  command: string;
  args: string[];
  port: number;
  dataDir: string | null;
  readyTimeoutMs: number;
  verbose: boolean;
}

async function spawnTarget(spec: SpawnSpec): Promise<Target> {
  const rpcUrl = `http://127.0.0.1:${spec.port}`;
  log(`starting ${spec.name}: ${spec.command} ${spec.args.join(" ")}`);
  const child = spawn(spec.command, spec.args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  liveChildren.add(child);
  if (spec.dataDir !== null) liveDirs.add(spec.dataDir);

  const tail: string[] = [];
  const onOutput = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    for (const line of text.split("\n")) {
      if (line === "") continue;
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (spec.verbose) process.stderr.write(`[${spec.name}] ${line}\n`);
    }
  };
  child.stdout!.on("data", onOutput);
  child.stderr!.on("data", onOutput);

  let exitReason: string | null = null;
  const exited = new Promise<void>((resolve) => {
    child.on("exit", (code, signal) => {
      exitReason = `${spec.name} exited (code ${code}, signal ${signal})`;
      liveChildren.delete(child);
      resolve();
    });
    child.on("error", (err) => {
      exitReason = `${spec.name} failed to spawn: ${err.message}`;
      liveChildren.delete(child);
      resolve();
    });
  });
  const describeExit = () =>
    `${exitReason}${tail.length > 0 ? `; last output:\n  ${tail.join("\n  ")}` : ""}`;

  const removeDir = () => {
    if (spec.dataDir === null) return;
    rmSync(spec.dataDir, { recursive: true, force: true });
    liveDirs.delete(spec.dataDir);
  };
  const stop = async () => {
    if (exitReason === null) {
      child.kill("SIGTERM");
      const killed = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
      if (!killed) {
        log(`${spec.name} ignored SIGTERM for 5 s; sending SIGKILL`);
        child.kill("SIGKILL");
        await exited;
      }
    }
    removeDir();
  };

  const rpc = new RpcClient(rpcUrl, { maxSockets: 1, timeoutMs: 2_000 });
  const deadline = Date.now() + spec.readyTimeoutMs;
  try {
    for (;;) {
      if (exitReason !== null) throw new Error(describeExit());
      try {
        await rpc.call("eth_chainId");
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          throw new Error(`${spec.name} did not answer eth_chainId within ${spec.readyTimeoutMs} ms: ${err}`);
        }
        await sleep(100);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  } finally {
    rpc.close();
  }
  if (child.pid === undefined) throw new Error(`${spec.name}: no pid`);
  log(`${spec.name} ready at ${rpcUrl} (pid ${child.pid})`);
  return {
    name: spec.name,
    rpcUrl,
    pid: child.pid,
    dataDir: spec.dataDir,
    exitReason: () => (exitReason ? describeExit() : null),
    stop,
  };
}

/** `cpuProfDir`: write a V8 CPU profile of the sequencer there when it exits (BENCH_CPU_PROF_DIR). */
export async function startStaccato(verbose: boolean, cpuProfDir: string | null = null): Promise<Target> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "staccato-bench-"));
  return spawnTarget({
    name: "staccato",
    command: process.execPath,
    args: [
      ...(cpuProfDir === null ? [] : ["--cpu-prof", "--cpu-prof-dir", cpuProfDir]),
      // Extra Node/V8 flags for the sequencer, to compare settings (e.g. BENCH_NODE_ARGS="--max-semi-space-size=32").
      ...(process.env.BENCH_NODE_ARGS ?? "").split(" ").filter((a) => a !== ""),
      "--import",
      "tsx",
      "packages/sequencer/src/cli.ts",
      "--dev",
      "--data-dir",
      dataDir,
      "--rpc-host",
      "127.0.0.1",
      "--rpc-port",
      String(port),
      "--metrics-port",
      "0",
      "--p2p-listen",
      "/ip4/127.0.0.1/tcp/0",
      "--log-level",
      "warn",
      // Extra sequencer flags, to compare settings (e.g. BENCH_STACCATO_ARGS="--sender-workers 0").
      ...(process.env.BENCH_STACCATO_ARGS ?? "").split(" ").filter((a) => a !== ""),
    ],
    port,
    dataDir,
    readyTimeoutMs: 90_000,
    verbose,
  });
}

export async function startAnvil(gasLimit: bigint, verbose: boolean): Promise<Target> {
  const port = await freePort();
  const args = ["--port", String(port), "--host", "127.0.0.1", "--block-time", "1", "--silent"];
  args.push("--gas-limit", gasLimit.toString());
  return spawnTarget({
    name: "anvil",
    command: anvilBinary(),
    args,
    port,
    dataDir: null,
    readyTimeoutMs: 30_000,
    verbose,
  });
}

/**
 * The native anvil executable. `node_modules/.bin/anvil` is a shell script that runs a Node
 * wrapper that spawns the binary: measuring that pid would measure Node, so resolve the
 * platform package the wrapper would pick. `ANVIL_BIN` overrides.
 */
function anvilBinary(): string {
  if (process.env.ANVIL_BIN) return process.env.ANVIL_BIN;
  const rootRequire = createRequire(join(REPO_ROOT, "package.json"));
  const wrapperPkg = rootRequire.resolve("@foundry-rs/anvil/package.json");
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const platformPkg = `@foundry-rs/anvil-${process.platform}-${arch}/package.json`;
  const resolved = createRequire(wrapperPkg).resolve(platformPkg);
  return join(dirname(resolved), "bin", "anvil");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
