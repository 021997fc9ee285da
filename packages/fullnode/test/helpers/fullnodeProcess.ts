import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type P2PNode, type Topic, createP2PNode, silentLogger } from "@staccato/common";
import { DEV_CHAIN_ID } from "../../../sequencer/test/helpers/devChain.ts";
import type { SequencerProcess } from "../../../sequencer/test/helpers/sequencerProcess.ts";
import { DaemonProcess } from "./daemonProcess.ts";

export { metricValue } from "./daemonProcess.ts";

/** Every full node started here, so an aborted test run never leaves one behind. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

/**
 * Kills every full node this test process started and still runs (`after` hooks call it: a test
 * that failed halfway, e.g. one of two nodes starting in parallel, may not have kept the handle).
 */
export async function killAllFullnodes(): Promise<void> {
  await Promise.all(
    [...live].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once("exit", () => resolve());
          c.kill("SIGKILL");
        }),
    ),
  );
}

/** A real staccato-fullnode process; its pino JSON lines are captured for assertions. */
export class FullnodeProcess extends DaemonProcess {
  rpcUrl = "";

  static async start(args: string[], startTimeoutMs = 30_000): Promise<FullnodeProcess> {
    const p = await DaemonProcess.spawnDaemon(
      (child) => new FullnodeProcess(child),
      "packages/fullnode/src/cli.ts",
      args,
      "fullnode started",
      live,
      startTimeoutMs,
    );
    p.rpcUrl = p.started.rpc as string;
    return p;
  }

  get dataDir(): string {
    const args = this.child.spawnargs;
    return args[args.indexOf("--data-dir") + 1]!;
  }

  /** The node's own libp2p address (with its peer id). */
  p2pAddress(): string {
    return (this.started.p2p as string[])[0]!;
  }

  rpc<T>(method: string, params: unknown[] = []): Promise<T> {
    return rpc<T>(this.rpcUrl, method, params);
  }

  /** HTTP status of `/health` on the RPC port. */
  async health(): Promise<number> {
    return (await fetch(this.rpcUrl.replace(/\/?$/, "/health"))).status;
  }
}

/** The flags a test full node needs next to sequencer `seq`: ephemeral ports, `seq` as bootnode. */
export function fullnodeArgs(seq: SequencerProcess, dataDir: string): string[] {
  const boot = (seq.logs().find((l) => l.msg === "sequencer started")!.p2p as string[])[0]!;
  return [
    "--chain",
    join(seq.dataDir, "chain.json"),
    "--data-dir",
    dataDir,
    "--rpc-port",
    "0",
    "--metrics-port",
    "0",
    "--p2p-listen",
    "/ip4/127.0.0.1/tcp/0",
    "--bootnodes",
    boot,
    "--sequencer-rpc",
    seq.rpcUrl,
  ];
}

/** Temp dirs made by a test file, all removed by `cleanup()`. */
export class TempDirs {
  private readonly dirs: string[] = [];
  make(): string {
    const d = mkdtempSync(join(tmpdir(), "staccato-fn-"));
    this.dirs.push(d);
    return d;
  }
  cleanup(): void {
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

export async function rpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const j = (await r.json()) as { result: T; error?: unknown };
  if (j.error !== undefined) throw new Error(`${method} ${JSON.stringify(j.error)}`);
  return j.result;
}

/** Calls in JSON-RPC batches of at most `size`; results in call order, any error throws. */
export async function rpcBatch<T = unknown>(
  url: string,
  calls: { method: string; params: unknown[] }[],
  size = 500,
): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < calls.length; i += size) {
    const part = calls.slice(i, i + size);
    const r = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(part.map((c, j) => ({ jsonrpc: "2.0", id: j, ...c }))),
    });
    const body = (await r.json()) as { id: number; result?: T; error?: unknown }[];
    if (!Array.isArray(body)) throw new Error(`batch failed: ${JSON.stringify(body)}`);
    body.sort((a, b) => a.id - b.id);
    for (const [j, res] of body.entries()) {
      if (res.error !== undefined)
        throw new Error(
          `${part[j]!.method} ${JSON.stringify(part[j]!.params)}: ${JSON.stringify(res.error)}`,
        );
      out.push(res.result as T);
    }
  }
  return out;
}

/** Polls `fn` (errors count as false) every 100 ms until it holds, or throws after `ms`. */
export async function waitFor(what: string, fn: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** `latest` block number of the node at `url`. */
export async function blockNumber(url: string): Promise<bigint> {
  return BigInt(await rpc<string>(url, "eth_blockNumber"));
}

/**
 * A libp2p peer that is not the sequencer, built with the project's own factory, connected to
 * `bootnode`. It subscribes to `topics` (accepting everything) and, when asked, waits until
 * `bootnode`'s peer is in its mesh for the first of them.
 */
export async function roguePeer(
  bootnode: string,
  keyFile: string,
  topics: Topic[] = ["miniBlock"],
): Promise<P2PNode> {
  const rogue = await createP2PNode(
    {
      listen: ["/ip4/127.0.0.1/tcp/0"],
      announce: [],
      bootnodes: [bootnode],
      keyFile,
      maxGossipBytes: 8 << 20,
      maxOutboundBufferBytes: 32 << 20,
      heartbeatMs: 700,
      chainId: DEV_CHAIN_ID,
    },
    { logger: silentLogger() },
  );
  for (const t of topics) rogue.subscribe(t, { validate: () => "accept", onMessage: () => {} });
  await rogue.start();
  return rogue;
}

/** A rogue meshed with full node `target` on the mini-block topic. */
export async function rogueFor(target: FullnodeProcess, keyFile: string): Promise<P2PNode> {
  const rogue = await roguePeer(target.p2pAddress(), keyFile);
  try {
    await waitFor("rogue meshed", async () => rogue.topicPeers("miniBlock").length > 0, 10_000);
  } catch (err) {
    await rogue.stop();
    throw err;
  }
  return rogue;
}
