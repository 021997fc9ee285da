import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { P2PNode } from "@staccato/common";
import { SyncPeers } from "../../src/sync/syncPeers.ts";

type PeerId = P2PNode["peerId"];
const peer = (name: string) => ({ toString: () => name }) as unknown as PeerId;
const [a, b, c] = [peer("a"), peer("b"), peer("c")];

describe("fullnode sync / peer choice", () => {
  const setup = () => {
    let now = 0;
    const peers = new SyncPeers(
      { benchMs: 1_000, maxBenchMs: 4_000, rateLimitedMs: 50, maxTracked: 2 },
      () => now,
    );
    return { peers, tick: (ms: number) => (now += ms) };
  };

  it("takes turns among connected peers", () => {
    const { peers } = setup();
    const order = Array.from({ length: 6 }, () => peers.next([a, b, c])?.toString());
    assert.deepEqual(order, ["a", "b", "c", "a", "b", "c"]);
    assert.equal(peers.next([]), undefined);
  });

  it("leaves a failed peer out, twice as long each time, up to the cap; a good answer clears it", () => {
    const { peers, tick } = setup();
    assert.equal(peers.failed(a), 1_000);
    assert.deepEqual([peers.next([a, b]), peers.next([a, b])].map(String), ["b", "b"]);
    tick(1_000);
    assert.equal(peers.next([a])?.toString(), "a");
    assert.equal(peers.failed(a), 2_000);
    assert.equal(peers.failed(a), 4_000);
    assert.equal(peers.failed(a), 4_000);
    assert.equal(peers.next([a]), undefined, "every peer left out");
    tick(4_000);
    peers.succeeded(a);
    assert.equal(peers.failed(a), 1_000, "strikes start over after a good answer");
  });

  it("leaves a rate-limiting peer alone briefly, without a strike", () => {
    const { peers, tick } = setup();
    peers.rateLimited(a);
    assert.equal(peers.next([a]), undefined);
    assert.equal(peers.readyIn([a]), 50);
    tick(20);
    assert.equal(peers.readyIn([a, b]), 0, "b may be asked now");
    tick(30);
    assert.equal(peers.next([a])?.toString(), "a");
    assert.equal(peers.failed(a), 1_000);
  });

  it("remembers a bounded number of peers", () => {
    const { peers } = setup();
    peers.failed(a);
    peers.failed(b);
    peers.failed(c); // forgets a
    assert.equal(peers.next([a, b, c])?.toString(), "a");
  });
});
