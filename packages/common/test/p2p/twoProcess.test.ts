import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { P2PNode } from "../../src/p2p/node.ts";
import { CHAIN_ID, percentile, startNode, tempDir, waitFor } from "./helpers.ts";

const FIXTURE = fileURLToPath(new URL("./gossipPeer.fixture.ts", import.meta.url));
const COUNT = 500;

describe("p2p / two processes", () => {
  const tmp = tempDir("p2p-2proc");
  let node: P2PNode | undefined;
  let child: ChildProcess | undefined;

  after(async () => {
    child?.kill("SIGTERM");
    await node?.stop();
    tmp.cleanup();
  });

  it("gossips both ways between processes; reports 1 KB latency", async (t) => {
    node = await startNode(join(tmp.dir, "parent.key"));
    let echoed: ((at: number) => void) | undefined;
    node.subscribe("attestation", {
      validate: () => "accept",
      onMessage: () => echoed?.(performance.now()),
    });
    child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        FIXTURE,
        join(tmp.dir, "child.key"),
        node.multiaddrs()[0],
        String(COUNT),
        String(CHAIN_ID),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const lines: Record<string, unknown>[] = [];
    createInterface({ input: child.stdout! }).on("line", (l) => lines.push(JSON.parse(l)));
    await waitFor(() => lines.length >= 1, "child start", 30_000);
    const childId = lines[0].peerId as string;
    await waitFor(
      () =>
        ["block", "attestation"].every((topic) =>
          node!.topicPeers(topic as "block").some((p) => p.toString() === childId),
        ),
      "child subscriptions",
      15_000,
    );

    const rtts: number[] = [];
    for (let i = 0; i < COUNT; i++) {
      const msg = new Uint8Array(1024);
      msg.set(Buffer.from(`message ${i}`), 8); // distinct ids
      const back = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no echo for message ${i}`)), 5_000);
        echoed = (at) => {
          clearTimeout(timer);
          resolve(at);
        };
      });
      new DataView(msg.buffer).setFloat64(0, performance.timeOrigin + performance.now());
      const t0 = performance.now();
      await node.publish("block", msg);
      rtts.push((await back) - t0);
    }
    await waitFor(() => lines.length >= 2, "child figures", 15_000);
    const oneWay = lines[1] as { n: number; p50: number; p99: number };
    assert.equal(oneWay.n, COUNT - COUNT / 5);
    const sorted = rtts.slice(COUNT / 5).sort((a, b) => a - b);
    t.diagnostic(
      `1 KB gossip, two processes: round trip p50 ${percentile(sorted, 50).toFixed(3)} ms, ` +
        `p99 ${percentile(sorted, 99).toFixed(3)} ms; one-way by the shared clock ` +
        `p50 ${oneWay.p50.toFixed(3)} ms, p99 ${oneWay.p99.toFixed(3)} ms`,
    );
  });
});
