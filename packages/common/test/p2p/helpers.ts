import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/log/logger.ts";
import { createP2PNode, P2P_DEFAULTS, type P2PNode, type P2POptions } from "../../src/p2p/node.ts";

export const CHAIN_ID = 424242;

/** A scratch directory removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `staccato-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startNode(
  keyFile: string,
  opts: Partial<P2POptions> = {},
  chainId = CHAIN_ID,
): Promise<P2PNode> {
  const node = await createP2PNode(
    { ...P2P_DEFAULTS, listen: ["/ip4/127.0.0.1/tcp/0"], ...opts, keyFile, chainId },
    { logger: silentLogger() },
  );
  await node.start();
  return node;
}

/** Polls `cond` every 20 ms, or on every turn of the event loop when `tight` (for timing). */
export async function waitFor(
  cond: () => boolean,
  what: string,
  timeoutMs = 10_000,
  tight = false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => (tight ? setImmediate(r) : setTimeout(r, 20)));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}
