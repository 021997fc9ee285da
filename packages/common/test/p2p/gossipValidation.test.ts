import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runGossipChecks, SeenCache } from "../../src/p2p/gossipValidation.ts";
import { TokenBucketLimiter } from "../../src/p2p/rateLimit.ts";
import {
  protocolId,
  REQ_PROTOCOLS,
  type ReqProtocol,
  TOPICS,
  type Topic,
  topicFromName,
  topicName,
} from "../../src/p2p/topics.ts";

describe("p2p / topics", () => {
  it("builds every topic and protocol id", () => {
    const topics: { [K in Topic]: string } = {
      miniBlock: "/staccato/7/mini-block/1",
      block: "/staccato/7/block/1",
      attestation: "/staccato/7/attestation/1",
      daPointer: "/staccato/7/da/1",
    };
    for (const t of TOPICS) {
      assert.equal(topicName(7, t), topics[t]);
      assert.equal(topicFromName(7, topics[t]), t);
    }
    assert.equal(topicFromName(8, topics.block), undefined);
    const protocols: { [K in ReqProtocol]: string } = {
      miniBlocksByRange: "/staccato/7/req/mini-blocks-by-range/1",
      blockByNumber: "/staccato/7/req/block-by-number/1",
      witnessByNumber: "/staccato/7/req/witness-by-number/1",
      stateSnapshot: "/staccato/7/req/state-snapshot/1",
      attestationsByRange: "/staccato/7/req/attestations-by-range/1",
      daHead: "/staccato/7/req/da-head/1",
    };
    for (const p of REQ_PROTOCOLS) assert.equal(protocolId(7, p), protocols[p]);
    assert.throws(() => topicName(-1, "block"), RangeError);
  });
});

describe("p2p / gossip checks", () => {
  it("returns the first failing check's verdict, in order", () => {
    const ran: string[] = [];
    const step = (name: string, verdict: "ignore" | "reject" | null) => () => {
      ran.push(name);
      return verdict;
    };
    const verdict = runGossipChecks([
      ["size", step("size", null)],
      ["window", step("window", "ignore")],
      ["signer", step("signer", "reject")],
    ]);
    assert.equal(verdict, "ignore");
    assert.deepEqual(ran, ["size", "window"]);
    assert.equal(runGossipChecks([["ok", () => null]]), "accept");
  });

  it("treats a throwing check as reject", () => {
    const verdict = runGossipChecks([
      [
        "decode",
        () => {
          throw new Error("bad rlp");
        },
      ],
    ]);
    assert.equal(verdict, "reject");
  });
});

describe("p2p / seen cache", () => {
  it("dedups and forgets the oldest past capacity", () => {
    const seen = new SeenCache(3);
    assert.equal(seen.add("a"), true);
    assert.equal(seen.add("a"), false);
    seen.add("b");
    seen.add("c");
    seen.add("d");
    assert.equal(seen.size, 3);
    assert.equal(seen.has("a"), false);
    assert.equal(seen.has("d"), true);
  });
});

describe("p2p / token bucket", () => {
  it("allows a burst, then refills at the rate, per key", () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(2, 3, () => now);
    assert.deepEqual(
      [1, 2, 3, 4].map(() => limiter.take("p")),
      [true, true, true, false],
    );
    assert.equal(limiter.take("q"), true);
    now += 500;
    assert.equal(limiter.take("p"), true);
    assert.equal(limiter.take("p"), false);
  });
});
