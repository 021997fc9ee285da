import assert from "node:assert/strict";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { after, before, describe, it } from "node:test";
import { lpStream } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import type { P2PNode } from "../../src/p2p/node.ts";
import { type ReqHandleOptions, ReqRespError, type ReqRespErrorCode } from "../../src/p2p/reqResp.ts";
import { type ReqProtocol, protocolId } from "../../src/p2p/topics.ts";
import { CHAIN_ID, startNode, tempDir, waitFor } from "./helpers.ts";

const OPTS: ReqHandleOptions = {
  maxRequestBytes: 1024,
  maxResponseBytes: 1024 * 1024,
  rateLimit: { perPeerPerSecond: 1000, burst: 1000 },
  timeoutMs: 5_000,
};
const CLIENT = { timeoutMs: 3_000, maxResponseBytes: 1024 * 1024 };
const enc = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

async function rejectsWith(p: Promise<unknown>, code: ReqRespErrorCode): Promise<void> {
  await assert.rejects(p, (err) => {
    assert.ok(err instanceof ReqRespError, `expected ReqRespError, got ${err}`);
    assert.equal(err.reason, code, err.message);
    return true;
  });
}

describe("p2p / req-resp", () => {
  const tmp = tempDir("p2p-reqresp");
  let server: P2PNode;
  let client: P2PNode;
  let serving = 0;
  let maxServing = 0;

  /**
   * One request on a raw stream, past our client's limits (libp2p's 64 outbound streams per
   * protocol included), as a greedy or hostile peer sends it: the result code the server wrote,
   * or what went wrong instead.
   */
  const rawRequest = async (protocol: ReqProtocol, body: Uint8Array): Promise<string> => {
    try {
      const stream = await client.libp2p.dialProtocol(server.peerId, protocolId(CHAIN_ID, protocol), {
        maxOutboundStreams: 10_000,
        signal: AbortSignal.timeout(5_000),
      });
      const lp = lpStream(stream);
      await lp.write(body);
      await stream.close();
      const code = (await lp.read({ signal: AbortSignal.timeout(5_000) })).subarray();
      const codes = ["ok", "unavailable", "invalid", "rate-limited"];
      const name = code.length === 1 ? codes[code[0]!] : undefined;
      // Then frames up to the empty one that ends every response.
      for (;;) if ((await lp.read({ signal: AbortSignal.timeout(5_000) })).byteLength === 0) break;
      return name ?? `bad code frame ${Buffer.from(code).toString("hex")}`;
    } catch (err) {
      return `error: ${(err as Error).message}`;
    }
  };

  /** `n` requests on `protocol` all at once; how many ended each way. */
  const flood = async (protocol: ReqProtocol, n: number): Promise<Record<string, number>> => {
    const outcomes = await Promise.all(Array.from({ length: n }, () => rawRequest(protocol, enc("x"))));
    const counts: Record<string, number> = {};
    for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
    return counts;
  };

  before(async () => {
    server = await startNode(join(tmp.dir, "server.key"));
    client = await startNode(join(tmp.dir, "client.key"), { bootnodes: server.multiaddrs() });
    await waitFor(() => client.peers().length === 1, "connection");

    // block-by-number: echoes "block <n>", unavailable past 100, invalid on a non-number.
    await server.handle(
      "blockByNumber",
      (body) => {
        const n = Number(dec(body));
        if (!Number.isInteger(n)) return { code: "invalid", message: "not a number" };
        if (n > 100) return { code: "unavailable", message: `no block ${n}` };
        if (n === 42) return new Uint8Array(200_000).fill(42);
        return enc(`block ${n}`);
      },
      OPTS,
    );
    // witness-by-number: never answers.
    await server.handle("witnessByNumber", () => new Promise<Uint8Array>(() => {}), OPTS);
    // mini-blocks-by-range: one request per second, burst 2.
    await server.handle("miniBlocksByRange", () => enc("range"), {
      ...OPTS,
      rateLimit: { perPeerPerSecond: 1, burst: 2 },
    });
    // attestations-by-range: one request a second, burst 3 (flooded below).
    await server.handle("attestationsByRange", () => enc("attestations"), {
      ...OPTS,
      rateLimit: { perPeerPerSecond: 1, burst: 3 },
    });
    // da-head: no per-peer limit to speak of, but 4 requests served at once; each takes 200 ms
    // (long enough for the first four of a flood to overlap on a loaded machine: with 50 ms, one
    // had sometimes finished before the fourth arrived).
    await server.handle(
      "daHead",
      async () => {
        serving++;
        maxServing = Math.max(maxServing, serving);
        await sleep(200);
        serving--;
        return enc("head");
      },
      { ...OPTS, maxInboundStreams: 4 },
    );
    // state-snapshot: N chunks of 64 KiB, chunk i filled with i.
    await server.handle(
      "stateSnapshot",
      async function* (body) {
        const n = Number(dec(body));
        for (let i = 0; i < n; i++) yield new Uint8Array(64 * 1024).fill(i);
      },
      { ...OPTS, maxResponseBytes: 64 * 1024 * 1024 },
    );
  });

  after(async () => {
    await client.stop();
    await server.stop();
    tmp.cleanup();
  });

  it("ok", async () => {
    const res = await client.request(server.peerId, "blockByNumber", enc("7"), CLIENT);
    assert.equal(res.code, "ok");
    assert.equal(dec(res.body), "block 7");
  });

  it("unavailable and invalid, with a reason", async () => {
    const un = await client.request(server.peerId, "blockByNumber", enc("101"), CLIENT);
    assert.deepEqual([un.code, dec(un.body)], ["unavailable", "no block 101"]);
    const inv = await client.request(server.peerId, "blockByNumber", enc("x"), CLIENT);
    assert.deepEqual([inv.code, dec(inv.body)], ["invalid", "not a number"]);
  });

  it("an oversized request is answered invalid", async () => {
    const res = await client.request(server.peerId, "blockByNumber", new Uint8Array(2048), CLIENT);
    assert.equal(res.code, "invalid");
  });

  it("a garbage request is answered invalid, and the server keeps serving", async () => {
    const protocol = protocolId(CHAIN_ID, "blockByNumber");
    for (const garbage of [
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1), // absurd varint
      Uint8Array.of(100, 1, 2, 3), // claims 100 bytes, sends 3, closes
    ]) {
      const stream = await client.libp2p.dialProtocol(server.peerId, protocol);
      stream.send(garbage);
      await stream.close();
      const chunks: Uint8Array[] = [];
      for await (const c of stream) chunks.push(c.subarray());
      const reply = Buffer.concat(chunks);
      assert.deepEqual([reply[0], reply[1]], [1, 2], `reply ${reply.toString("hex")}`); // lp([invalid])
    }
    const res = await client.request(server.peerId, "blockByNumber", enc("1"), CLIENT);
    assert.equal(dec(res.body), "block 1");
  });

  it("rate-limited past the burst", async () => {
    const codes = [];
    for (let i = 0; i < 4; i++)
      codes.push((await client.request(server.peerId, "miniBlocksByRange", enc(""), CLIENT)).code);
    assert.deepEqual(codes, ["ok", "ok", "rate-limited", "rate-limited"]);
  });

  it("a flood of requests at once past the per-peer rate: each one answered, ok or rate-limited, none reset", async () => {
    // More at once than libp2p lets a connection open on one protocol by default (64): libp2p
    // reset the streams past it before the handler could answer them.
    const counts = await flood("attestationsByRange", 200);
    assert.deepEqual(Object.keys(counts).sort(), ["ok", "rate-limited"], JSON.stringify(counts));
    assert.ok(counts.ok! >= 3 && counts.ok! <= 5, JSON.stringify(counts)); // the burst, plus refill
    // Refused, the client backs off; the bucket refills and it is served again.
    await sleep(1_100);
    assert.equal(await rawRequest("attestationsByRange", enc("x")), "ok");
  });

  it("past the requests served at once, a request is answered rate-limited, not reset", async () => {
    maxServing = 0;
    const counts = await flood("daHead", 40);
    assert.deepEqual(Object.keys(counts).sort(), ["ok", "rate-limited"], JSON.stringify(counts));
    assert.ok(counts.ok! >= 4, JSON.stringify(counts));
    assert.equal(maxServing, 4, "at most 4 handlers ran at once");
    await sleep(250);
    assert.equal(await rawRequest("daHead", enc("x")), "ok");
  });

  it("times out on a handler that never answers", async () => {
    const t0 = performance.now();
    await rejectsWith(
      client.request(server.peerId, "witnessByNumber", enc("1"), { ...CLIENT, timeoutMs: 300 }),
      "timeout",
    );
    const ms = performance.now() - t0;
    assert.ok(ms >= 290 && ms < 2_000, `took ${ms} ms`);
  });

  it("times out even when a garbage collection runs while it waits (Node 20's AbortSignal.any drops a timeout source)", async () => {
    const t0 = performance.now();
    const pending = rejectsWith(
      client.request(server.peerId, "witnessByNumber", enc("1"), { ...CLIENT, timeoutMs: 600 }),
      "timeout",
    );
    for (let i = 0; i < 3; i++) {
      await sleep(50);
      gc();
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      pending,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("the request's timeout never fired")), 5_000);
      }),
    ]).finally(() => clearTimeout(timer));
    const ms = performance.now() - t0;
    assert.ok(ms >= 590 && ms < 3_000, `took ${ms} ms`);
  });

  it("refuses a response larger than the client's cap", async () => {
    await rejectsWith(
      client.request(server.peerId, "blockByNumber", enc("42"), { ...CLIENT, maxResponseBytes: 100_000 }),
      "too-large",
    );
    const res = await client.request(server.peerId, "blockByNumber", enc("42"), CLIENT);
    assert.equal(res.body.length, 200_000);
  });

  it("fails to dial a peer that is not there", async () => {
    await rejectsWith(
      client.request(multiaddr("/ip4/127.0.0.1/tcp/1"), "blockByNumber", enc("1"), CLIENT),
      "dial-failed",
    );
  });

  it("streams chunks, in order, with a per-chunk cap", async () => {
    const res = await client.requestStream(server.peerId, "stateSnapshot", enc("40"), {
      timeoutMs: 10_000,
      maxChunkBytes: 64 * 1024,
    });
    assert.equal(res.code, "ok");
    if (res.code !== "ok") return;
    let i = 0;
    for await (const chunk of res.chunks) {
      assert.equal(chunk.length, 64 * 1024);
      assert.equal(chunk[0], i);
      i++;
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 20)); // a slow consumer
    }
    assert.equal(i, 40);

    const small = await client.requestStream(server.peerId, "stateSnapshot", enc("3"), {
      timeoutMs: 10_000,
      maxChunkBytes: 1024,
    });
    assert.equal(small.code, "ok");
    if (small.code !== "ok") return;
    await rejectsWith(
      (async () => {
        for await (const _ of small.chunks) {
          // drain
        }
      })(),
      "too-large",
    );
  });

  it("a consumer that stops early releases the stream", async () => {
    const res = await client.requestStream(server.peerId, "stateSnapshot", enc("1000"), {
      timeoutMs: 10_000,
      maxChunkBytes: 64 * 1024,
    });
    assert.equal(res.code, "ok");
    if (res.code !== "ok") return;
    for await (const chunk of res.chunks) {
      assert.equal(chunk[0], 0);
      break;
    }
    const ok = await client.request(server.peerId, "blockByNumber", enc("3"), CLIENT);
    assert.equal(dec(ok.body), "block 3");
  });

  it("garbage, truncated and unterminated responses are typed errors", async () => {
    const rogue = await startNode(join(tmp.dir, "rogue.key"));
    try {
      const cases: [Uint8Array, ReqRespErrorCode][] = [
        [Uint8Array.of(1, 9), "malformed"], // unknown code
        [Uint8Array.of(2, 0, 0), "malformed"], // two-byte code frame
        [Uint8Array.of(1, 0, 100, 1, 2, 3), "truncated"], // chunk claims 100 bytes, has 3
        [Uint8Array.of(1, 0, 3, 1, 2, 3), "truncated"], // no end frame
        [Uint8Array.of(1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f), "too-large"], // absurd length
        [new Uint8Array(0), "truncated"], // closes at once
      ];
      const protocol = protocolId(CHAIN_ID, "blockByNumber");
      let reply = cases[0][0];
      await rogue.libp2p.handle(protocol, async (stream) => {
        stream.send(reply);
        await stream.close();
      });
      for (const [bytes, code] of cases) {
        reply = bytes;
        await rejectsWith(
          client.request(multiaddr(rogue.multiaddrs()[0]), "blockByNumber", enc("1"), CLIENT),
          code,
        );
      }
    } finally {
      await rogue.stop();
    }
  });
});
