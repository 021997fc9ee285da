import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ChainEvents,
  type ChainBlock,
  LogRing,
  type SignedMiniBlock,
  nodeInfoApi,
  silentLogger,
} from "../../src/index.ts";

describe("log / tail ring", () => {
  it("keeps the newest lines in order, a fixed number of them, each cut to a bounded length", () => {
    const ring = new LogRing(3);
    assert.deepEqual(ring.tail(5), []);
    for (const l of ["a\n", "b\n", "c\n", "d\n", "e\n"]) assert.equal(ring.push(l), l, "hands the line back");
    assert.deepEqual(ring.tail(10), ["c", "d", "e"]);
    assert.deepEqual(ring.tail(2), ["d", "e"]);
    ring.push(`${"x".repeat(5000)}\n`);
    assert.equal(ring.tail(1)[0].length, 2000);
  });
});

describe("rpc / staccato_nodeInfo", () => {
  const call = async (methods: ReturnType<typeof nodeInfoApi>["methods"], params: unknown[]) => {
    const m = methods.staccato_nodeInfo;
    return (await m.handler(m.params.parse(params), { transport: "http", connection: null })) as {
      role: string;
      peerId: string | null;
      memory: { rss: number; heapUsed: number };
      health: { ok: boolean; error?: string };
      status: Record<string, unknown>;
      lag: { blocks: number | null; ms: number | null; lastMiniBlockAt: number | null } | null;
      logTail: string[];
      uptimeSeconds: number;
    };
  };

  it("reports a full node's lag as the median delay from the sequencer's seal to the mini-block here", async () => {
    const events = new ChainEvents();
    let healthy = true;
    const api = nodeInfoApi({
      role: "fullnode",
      clientVersion: "staccato-fullnode/test",
      chainId: 1,
      logger: silentLogger(),
      peerId: () => "12D3KooWtest",
      peers: () => 2,
      health: () => (healthy ? { ok: true } : { ok: false, error: "halted" }),
      status: () => ({ verifiedBlock: 7 }),
      lagBlocks: () => 3,
      events,
    });
    try {
      let info = await call(api.methods, []);
      assert.deepEqual(info.lag, { blocks: 3, ms: null, lastMiniBlockAt: null }, "no mini-block yet");
      const nowUs = BigInt(Date.now()) * 1000n;
      for (const delayMs of [4, 5, 6, 400, 5]) {
        events.emit("miniBlock", {
          block: {} as ChainBlock,
          miniBlock: { timestampUs: nowUs - BigInt(delayMs * 1000) } as SignedMiniBlock,
          txs: [],
        });
      }
      info = await call(api.methods, [0]);
      assert.equal(info.role, "fullnode");
      assert.equal(info.peerId, "12D3KooWtest");
      assert.deepEqual(info.status, { verifiedBlock: 7 });
      assert.equal(info.lag?.blocks, 3);
      // median of ~[4, 5, 5, 6, 400] ms: one slow mini-block does not make the node look behind
      assert.ok(info.lag!.ms! >= 4 && info.lag!.ms! < 50, String(info.lag?.ms));
      assert.ok(info.memory.rss > 0 && info.memory.heapUsed > 0);
      assert.deepEqual(info.logTail, [], "a logger not made by createLogger has no tail");
      healthy = false;
      assert.deepEqual((await call(api.methods, [])).health, { ok: false, error: "halted" });
    } finally {
      api.close();
    }
    assert.equal(events.count("miniBlock"), 0, "close() unsubscribes");
  });

  it("reports the sequencer's lag as null: it is the source", async () => {
    const api = nodeInfoApi({
      role: "sequencer",
      clientVersion: "staccato-sequencer/test",
      chainId: 1,
      logger: silentLogger(),
      peerId: () => null,
      peers: () => 0,
      health: () => {
        throw new Error("boom");
      },
      status: () => ({}),
    });
    const info = await call(api.methods, []);
    assert.equal(info.lag, null);
    assert.deepEqual(
      info.health,
      { ok: false, error: "boom" },
      "a failing health check is unhealthy, not an error",
    );
    assert.throws(() => api.methods.staccato_nodeInfo.params.parse([201]));
  });
});
