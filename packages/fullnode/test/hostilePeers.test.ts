import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { crc32 } from "node:zlib";
import { RLP } from "@ethereumjs/rlp";
import { bigIntToUnpaddedBytes } from "@ethereumjs/util";
import {
  type ReqHandleOptions,
  type P2PNode,
  REQ_PROTOCOLS,
  type ReqProtocol,
  type Topic,
  decodeBlockSeal,
  decodeEnvelope,
  decodeNumberRequest,
  decodeRangeRequest,
  decodeSignedMiniBlock,
  decodeSnapshot,
  encodeBlockSeal,
  encodeEnvelope,
  encodeNumberRequest,
  encodeRangeRequest,
  encodeSignedMiniBlock,
  encodeSnapshot,
  protocolId,
} from "@staccato/common";
import { type Hex, keccak256, parseEther } from "viem";
import { DEV_CHAIN_ID, devKeyAccount } from "../../sequencer/test/helpers/devChain.ts";
import { SequencerProcess } from "../../sequencer/test/helpers/sequencerProcess.ts";
import {
  FullnodeProcess,
  TempDirs,
  blockNumber,
  fullnodeArgs,
  killAllFullnodes,
  roguePeer,
  rpc,
  waitFor,
} from "./helpers/fullnodeProcess.ts";

/** Result code bytes of the req/resp wire (common/p2p/reqRespWire.ts). */
const CODE = { ok: 0, unavailable: 1, invalid: 2, rateLimited: 3 } as const;
const MESHSUB = ["/meshsub/1.2.0", "/meshsub/1.1.0"];

function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
/** One length-prefixed frame, as lpStream writes it. */
const frame = (body: Uint8Array): Uint8Array => concat(varint(body.length), body);
const END = frame(new Uint8Array(0));

type RawStream = Awaited<ReturnType<P2PNode["libp2p"]["dialProtocol"]>>;

/** Sends `bytes` on a new stream, closes our side, and returns everything the remote wrote back. */
async function exchange(
  from: P2PNode,
  to: P2PNode["peerId"],
  protocol: string | string[],
  bytes: Uint8Array,
) {
  const stream: RawStream = await from.libp2p.dialProtocol(to, protocol);
  if (bytes.length > 0) stream.send(bytes);
  const closing = stream.close().catch(() => undefined);
  const chunks: Uint8Array[] = [];
  const reading = (async () => {
    for await (const c of stream) chunks.push(c.subarray());
  })().catch(() => undefined);
  const timer = setTimeout(() => stream.abort(new Error("test timeout")), 10_000);
  await Promise.all([closing, reading]);
  clearTimeout(timer);
  return Buffer.concat(chunks);
}

/** Sends `bytes` on a new stream and closes our side; expects no answer (a gossipsub stream). */
async function sendOnly(from: P2PNode, to: P2PNode["peerId"], protocol: string[], bytes: Uint8Array) {
  const stream: RawStream = await from.libp2p.dialProtocol(to, protocol);
  stream.send(bytes);
  await stream.close();
}

/**
 * The same snapshot with another resume point (the mini-block a joiner continues after) in its
 * header, and a checksum to match: the header is not signed, only the state is checked.
 */
function withResumePoint(snapshot: Buffer, number: bigint, hash: Uint8Array): Buffer {
  const headerLen = snapshot.readUInt32BE(4);
  const [version, block, root] = RLP.decode(snapshot.subarray(8, 8 + headerLen)) as Uint8Array[];
  const header = RLP.encode([version!, block!, root!, bigIntToUnpaddedBytes(number), hash]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(header.length);
  const body = Buffer.concat([len, header, snapshot.subarray(8 + headerLen)]);
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(crc32(body));
  body.copy(out, 4);
  return out;
}

/** The result code of a raw req/resp response: its first frame must be one byte. */
function responseCode(res: Uint8Array): number {
  assert.ok(
    res.length >= 2 && res[0] === 1,
    `not a code frame: ${Buffer.from(res.subarray(0, 8)).toString("hex")}`,
  );
  return res[1]!;
}

describe("fullnode / hostile peers", () => {
  let seq: SequencerProcess;
  let fn: FullnodeProcess;
  const nodes: FullnodeProcess[] = [];
  const dirs = new TempDirs();
  const rogues: P2PNode[] = [];
  let nonce = 0;

  const rogue = async (bootnode: string, topics: Topic[] = []): Promise<P2PNode> => {
    const r = await roguePeer(bootnode, join(dirs.make(), "p2p.key"), topics);
    rogues.push(r);
    return r;
  };
  const seqAddress = () => (seq.logs().find((l) => l.msg === "sequencer started")!.p2p as string[])[0]!;
  const stopRogues = async () => {
    for (const r of rogues.splice(0)) await r.stop();
  };

  /**
   * A transfer through the sequencer: every full node in `followers` applies it and verifies its
   * block. Returns the transaction's hash.
   */
  const stillFollows = async (followers: FullnodeProcess[]): Promise<Hex> => {
    const raw = await devKeyAccount(12).signTransaction({
      chainId: DEV_CHAIN_ID,
      type: "eip1559",
      to: "0x000000000000000000000000000000000000b0b0",
      value: parseEther("0.001"),
      nonce: nonce++,
      gas: 21_000n,
      maxFeePerGas: 10n ** 11n,
      maxPriorityFeePerGas: 0n,
    });
    const hash = await rpc<Hex>(seq.rpcUrl, "eth_sendRawTransaction", [raw]);
    for (const n of followers) {
      await waitFor(
        `${hash} on the full node`,
        async () => (await n.rpc("eth_getTransactionReceipt", [hash])) !== null,
      );
      const r = await n.rpc<{ blockNumber: Hex; blockHash: Hex }>("eth_getTransactionReceipt", [hash]);
      await waitFor("its block verified", async () => (await blockNumber(n.rpcUrl)) >= BigInt(r.blockNumber));
      const want = await rpc<{ hash: Hex }>(seq.rpcUrl, "eth_getBlockByNumber", [r.blockNumber, false]);
      assert.equal(
        (await n.rpc<{ hash: Hex }>("eth_getBlockByNumber", [r.blockNumber, false])).hash,
        want.hash,
      );
      assert.equal(n.logs().filter((l) => l.msg === "BLOCK DOES NOT VERIFY: stopped applying").length, 0);
      assert.equal(await n.health(), 200);
      assert.ok(n.running);
    }
    assert.ok(seq.running);
    assert.equal((await fetch(seq.rpcUrl.replace(/\/?$/, "/health"))).status, 200);
    return hash;
  };

  /**
   * Sends transfers the full node follows until `done(sent)` holds, waiting 3 s after each, for
   * at most 40 s. The full node forwards gossip only to its mesh, which a new peer joins per topic
   * on a heartbeat that a loaded machine delays, so one transfer may go out before it has joined.
   */
  const sendUntil = async (what: string, done: (sent: Hex[]) => boolean): Promise<void> => {
    const sent: Hex[] = [];
    const deadline = Date.now() + 40_000;
    for (;;) {
      sent.push(await stillFollows([fn]));
      const through = await waitFor(what, async () => done(sent), 3_000).then(
        () => true,
        (e: unknown) => {
          if (Date.now() > deadline) throw e;
          return false;
        },
      );
      if (through) return;
    }
  };

  before(async () => {
    seq = await SequencerProcess.start();
    fn = await FullnodeProcess.start(fullnodeArgs(seq, dirs.make()));
    nodes.push(fn);
  });

  after(async () => {
    await stopRogues();
    for (const n of nodes) await n.kill("SIGKILL");
    await killAllFullnodes();
    await seq?.cleanup();
    dirs.cleanup();
  });

  it("garbage, truncated and oversized gossip is rejected by the full node, which keeps following", async (t) => {
    // Real messages to mutilate, heard from the full node (which forwards what it accepted).
    const listener = await rogue(fn.p2pAddress(), ["miniBlock", "block"]);
    const heard: Partial<Record<Topic, Uint8Array>> = {};
    for (const topic of ["miniBlock", "block"] as const)
      listener.subscribe(topic, {
        validate: () => "accept",
        onMessage: (d) => {
          heard[topic] ??= d;
        },
      });
    await waitFor(
      "the listener meshed",
      async () => listener.topicPeers("block").length > 0 && listener.topicPeers("miniBlock").length > 0,
      10_000,
    );
    await sendUntil(
      "a real mini-block and block",
      () => heard.miniBlock !== undefined && heard.block !== undefined,
    );
    const mb = heard.miniBlock!;
    const blk = heard.block!;
    const mbPayload = decodeEnvelope(mb, 1 << 25);
    const seal = decodeBlockSeal(decodeEnvelope(blk, 1 << 25));
    const badSig = Uint8Array.from(seal.signature);
    badSig[10]! ^= 0xff;
    const bomb = encodeEnvelope(new Uint8Array(40 << 20)); // inflates past the 32 MiB cap
    const cases: [Topic, string, Uint8Array][] = [
      ["miniBlock", "random bytes", randomBytes(2048)],
      ["miniBlock", "a truncated envelope", mb.subarray(0, mb.length >> 1)],
      ["miniBlock", "a truncated mini-block", encodeEnvelope(mbPayload.subarray(0, mbPayload.length >> 1))],
      ["miniBlock", "trailing bytes", encodeEnvelope(concat(mbPayload, Uint8Array.of(0xc0)))],
      ["miniBlock", "an unknown envelope version", concat(Uint8Array.of(9), mb.subarray(1))],
      ["miniBlock", "a compression bomb", bomb],
      ["miniBlock", "RLP that is not a mini-block", encodeEnvelope(RLP.encode([1, 2, 3]))],
      ["block", "random bytes", randomBytes(2048)],
      ["block", "a truncated envelope", blk.subarray(0, blk.length >> 1)],
      ["block", "a compression bomb", bomb],
      ["block", "a forged signature", encodeEnvelope(encodeBlockSeal({ ...seal, signature: badSig }))],
    ];
    const rejected0 = await fn.metric("staccato_fullnode_gossip_rejected_total");
    // One peer per message, so one message's penalty does not hide the next one.
    const senders = await Promise.all(cases.map(([topic]) => rogue(fn.p2pAddress(), [topic])));
    await waitFor(
      "every rogue sees the full node's subscriptions",
      async () => senders.every((r, i) => r.topicPeers(cases[i]![0]).length > 0),
      15_000,
    );
    for (const [i, [topic, what, data]] of cases.entries())
      assert.equal(await senders[i]!.publish(topic, data), 1, `${what} on ${topic} was not sent`);
    await waitFor(
      "every message rejected",
      async () => (await fn.metric("staccato_fullnode_gossip_rejected_total")) - rejected0 >= cases.length,
      10_000,
    ).catch(() => undefined);
    assert.equal(
      (await fn.metric("staccato_fullnode_gossip_rejected_total")) - rejected0,
      cases.length,
      "each bad message is rejected (not ignored) exactly once",
    );
    // A message over --p2p-max-gossip-bytes never reaches validation: gossipsub drops the stream.
    const big = await rogue(fn.p2pAddress(), ["miniBlock"]);
    await waitFor("the big sender meshed", async () => big.topicPeers("miniBlock").length > 0, 10_000);
    await big.publish("miniBlock", randomBytes(9 << 20));
    // With all these peers on the sequencer's address (loopback), the full node still takes the
    // sequencer's gossip: it forwards its next mini-block to a new peer (what it learns by catch-up
    // requests instead, it does not forward).
    const witness = await rogue(fn.p2pAddress(), ["miniBlock"]);
    const forwarded: Hex[] = [];
    witness.subscribe("miniBlock", {
      validate: () => "accept",
      onMessage: (d) => {
        for (const tx of decodeSignedMiniBlock(decodeEnvelope(d, 1 << 25)).txs) forwarded.push(keccak256(tx));
      },
    });
    await waitFor("the new peer meshed", async () => witness.topicPeers("miniBlock").length > 0, 10_000);
    await sendUntil("the full node to forward the sequencer's mini-block", (sent) =>
      sent.some((h) => forwarded.includes(h)),
    );
    t.diagnostic(
      `${cases.length} bad messages rejected; a 9 MiB message dropped; ${rogues.length} peers on loopback`,
    );
    await stopRogues();
  });

  it("garbage, truncated and oversized gossipsub frames to the sequencer and the full node are dropped", async () => {
    for (const target of [seqAddress(), fn.p2pAddress()]) {
      const r = await rogue(target, ["miniBlock", "block", "attestation"]);
      await waitFor("connected", async () => r.peers().length > 0, 10_000);
      const peer = r.peers()[0]!;
      // Publishes too, on every topic, in case the target subscribes to it.
      for (const topic of ["miniBlock", "block", "attestation"] as const)
        await r.publish(topic, randomBytes(512));
      const rpcFrames = [
        frame(randomBytes(64)), // not protobuf
        frame(Uint8Array.of(0x12, 0xff, 0xff, 0xff, 0x0f)), // a field claiming 4 GiB
        frame(new Uint8Array(0)), // an empty RPC
      ];
      await sendOnly(r, peer, MESHSUB, concat(...rpcFrames));
      await sendOnly(r, peer, MESHSUB, concat(varint(1000), randomBytes(10))); // truncated frame
      await sendOnly(r, peer, MESHSUB, concat(varint(2 ** 31), randomBytes(1024))); // over the size cap
      await sendOnly(r, peer, MESHSUB, concat(varint(2 ** 60), randomBytes(16))); // a varint past 2^53
      const s: RawStream = await r.libp2p.dialProtocol(peer, MESHSUB);
      s.send(concat(varint(100), randomBytes(50)));
      s.abort(new Error("reset mid-frame"));
    }
    await stillFollows([fn]);
    await stopRogues();
  });

  it("garbage, truncated and oversized req/resp requests to the sequencer are answered `invalid`, and it keeps serving", async () => {
    const r = await rogue(seqAddress());
    await waitFor("connected", async () => r.peers().length > 0, 10_000);
    const peer = r.peers()[0]!;
    // Every protocol it advertises (identify), which must include what full nodes use.
    let served: ReqProtocol[] = [];
    await waitFor(
      "the sequencer's protocols",
      async () => {
        const { protocols } = await r.libp2p.peerStore.get(peer);
        served = REQ_PROTOCOLS.filter((p) => protocols.includes(protocolId(DEV_CHAIN_ID, p)));
        return served.length > 0;
      },
      10_000,
    );
    for (const p of ["miniBlocksByRange", "blockByNumber", "stateSnapshot"] as const)
      assert.ok(served.includes(p), `the sequencer serves ${p}`);
    const opts = { timeoutMs: 10_000, maxResponseBytes: 64 << 20 };
    // The state snapshot allows one request a second (burst 2) per peer: a fresh peer for each case.
    const peerFor = async (proto: ReqProtocol) => {
      if (proto !== "stateSnapshot") return { r, peer };
      const fresh = await rogue(seqAddress());
      await waitFor("connected", async () => fresh.peers().length > 0, 10_000);
      return { r: fresh, peer: fresh.peers()[0]! };
    };
    for (const proto of served) {
      const id = protocolId(DEV_CHAIN_ID, proto);
      const bodies: [string, Uint8Array][] = [
        ["garbage", new Uint8Array(64).fill(0xff)],
        ["oversized", randomBytes(100_000)],
      ];
      // An empty body is the whole request of state-snapshot and da-head.
      if (proto !== "stateSnapshot" && proto !== "daHead") bodies.push(["empty", new Uint8Array(0)]);
      for (const [what, body] of bodies) {
        const p = await peerFor(proto);
        assert.equal(
          (await p.r.request(p.peer, proto, body, opts)).code,
          "invalid",
          `${proto}: ${what} request`,
        );
      }
      const frames: [string, Uint8Array][] = [
        ["a truncated frame", concat(varint(200), randomBytes(10))],
        ["an absurd length prefix", concat(varint(2 ** 40), randomBytes(10))],
        ["a varint past 2^53", concat(varint(2 ** 60), randomBytes(10))],
        ["no frame at all", new Uint8Array(0)],
      ];
      for (const [what, bytes] of frames) {
        const p = await peerFor(proto);
        assert.equal(responseCode(await exchange(p.r, p.peer, id, bytes)), CODE.invalid, `${proto}: ${what}`);
      }
      const s: RawStream = await r.libp2p.dialProtocol(peer, id);
      s.send(concat(varint(100), randomBytes(50)));
      s.abort(new Error("reset mid-request"));
    }
    // Well-formed but absurd requests.
    const absurd: [ReqProtocol, Uint8Array, string][] = [
      ["miniBlocksByRange", encodeRangeRequest(2n ** 64n - 1n, 1), "unavailable"],
      ["miniBlocksByRange", encodeRangeRequest(1n, 0), "invalid"],
      ["miniBlocksByRange", RLP.encode([1, 2, 3]), "invalid"],
      ["blockByNumber", encodeNumberRequest(2n ** 64n + 5n), "unavailable"],
      ["blockByNumber", RLP.encode([[1], 2]), "invalid"],
    ];
    for (const [proto, body, code] of absurd)
      assert.equal(
        (await r.request(peer, proto, body, opts)).code,
        code,
        `${proto} ${Buffer.from(body).toString("hex")}`,
      );
    // It still answers properly.
    const b = await r.request(peer, "blockByNumber", encodeNumberRequest(1n), opts);
    assert.equal(b.code, "ok");
    const block1 = await rpc<{ hash: Hex }>(seq.rpcUrl, "eth_getBlockByNumber", ["0x1", false]);
    assert.equal(`0x${Buffer.from(decodeBlockSeal(b.body).hash).toString("hex")}`, block1.hash);
    await stillFollows([fn]);
    await stopRogues();
  });

  it("a snapshot of an empty block is joined only where the mini-block chain goes on from it: a wrong resume point is refused, or stepped over, never a node stuck for good", async (t) => {
    const source = await rogue(seqAddress());
    await waitFor("connected", async () => source.peers().length > 0, 10_000);
    const seqPeer = source.peers()[0]!;
    const opts = { timeoutMs: 10_000, maxResponseBytes: 64 << 20 };
    const stream = { timeoutMs: 10_000, maxChunkBytes: 32 << 20 };
    const seals = new Map<bigint, Uint8Array>();
    const sealOf = async (n: bigint) => {
      const r = await source.request(seqPeer, "blockByNumber", encodeNumberRequest(n), opts);
      assert.equal(r.code, "ok", `block ${n}`);
      seals.set(n, r.body);
      return decodeBlockSeal(r.body);
    };
    const miniBlocks = new Map<bigint, Uint8Array>();
    const fetchMiniBlock = async (n: bigint) => {
      const r = await source.requestStream(seqPeer, "miniBlocksByRange", encodeRangeRequest(n, 1), stream);
      assert.equal(r.code, "ok", `mini-block ${n}`);
      if (r.code === "ok") for await (const c of r.chunks) miniBlocks.set(n, c);
      return decodeSignedMiniBlock(miniBlocks.get(n)!);
    };
    /** One more transfer (one more mini-block), then the sequencer's snapshot once its newest block is an empty one. */
    const emptyBlockSnapshot = async () => {
      await stillFollows([fn]);
      for (;;) {
        // The sequencer serves one snapshot a second per peer.
        await new Promise((r) => setTimeout(r, 1_000));
        const r = await source.requestStream(seqPeer, "stateSnapshot", new Uint8Array(0), stream);
        if (r.code !== "ok") continue;
        const chunks: Uint8Array[] = [];
        for await (const c of r.chunks) chunks.push(c);
        const bytes = Buffer.concat(chunks);
        const snap = decodeSnapshot(bytes);
        if ((await sealOf(snap.blockNumber)).miniBlockHashes.length === 0) return { bytes, snap };
      }
    };
    const early = await emptyBlockSnapshot();
    const late = await emptyBlockSnapshot();
    const last = late.snap.lastMiniBlockNumber;
    assert.equal(early.snap.lastMiniBlockNumber, last - 1n, "one mini-block between the two snapshots");
    const mbLast = await fetchMiniBlock(last);
    const mbPrev = await fetchMiniBlock(last - 1n);
    await fetchMiniBlock(1n);
    assert.ok(mbPrev.blockNumber <= early.snap.blockNumber && early.snap.blockNumber < mbLast.blockNumber);
    assert.ok(mbLast.blockNumber < late.snap.blockNumber);

    /** A peer serving `snapshot`, the seals above, and of the mini-blocks above those in `served`. */
    const liar = async (snapshot: Buffer, served: bigint[]) => {
      const l = await rogue(seqAddress());
      const limits: ReqHandleOptions = {
        maxRequestBytes: 1024,
        maxResponseBytes: 64 << 20,
        rateLimit: { perPeerPerSecond: 100, burst: 100 },
        timeoutMs: 10_000,
      };
      await l.handle(
        "stateSnapshot",
        async function* () {
          for (let off = 0; off < snapshot.length; off += 1 << 19)
            yield snapshot.subarray(off, off + (1 << 19));
        },
        limits,
      );
      await l.handle(
        "blockByNumber",
        (body) => seals.get(decodeNumberRequest(body)) ?? { code: "unavailable" },
        limits,
      );
      await l.handle(
        "miniBlocksByRange",
        (body) => {
          const { from, count } = decodeRangeRequest(body);
          if (!served.includes(from)) return { code: "unavailable" };
          return (async function* () {
            for (let n = from; n < from + BigInt(count) && served.includes(n); n++) yield miniBlocks.get(n)!;
          })();
        },
        limits,
      );
      return l;
    };
    const zero = new Uint8Array(32);
    const refused = {
      // The block's own mini-block number, with a hash the sequencer never signed.
      "a forged hash": await liar(withResumePoint(late.bytes, last, randomBytes(32)), [last - 1n, last]),
      // The earlier snapshot, continuing after a mini-block of a later block.
      "a later mini-block": await liar(withResumePoint(early.bytes, last, mbLast.hash), [last - 1n, last]),
      // An earlier mini-block: the next one, which it serves, is still the snapshot's block's or older.
      "an earlier mini-block": await liar(withResumePoint(late.bytes, last - 1n, mbPrev.hash), [
        last - 1n,
        last,
      ]),
      "no mini-block at all": await liar(withResumePoint(late.bytes, 0n, zero), [1n]),
      // A mini-block it cannot show.
      "a mini-block it does not serve": await liar(withResumePoint(late.bytes, last, mbLast.hash), []),
    };
    // An earlier mini-block, and it holds back the next one: nothing at the join tells it from the
    // newest, so the joiner takes it, then steps over the mini-block it did not know of.
    const withholding = await liar(withResumePoint(late.bytes, last - 1n, mbPrev.hash), [last - 1n]);
    const addr = (p: P2PNode) => p.multiaddrs()[0]!;
    const startWith = (first: string[]) => {
      const args = [...fullnodeArgs(seq, dirs.make()), "--sync", "snapshot"];
      args[args.indexOf("--bootnodes") + 1] = [...first, seqAddress()].join(",");
      return FullnodeProcess.start(args);
    };
    const [checked, stepped] = await Promise.all([
      startWith(Object.values(refused).map(addr)),
      startWith([addr(withholding)]),
    ]);
    nodes.push(checked, stepped);
    const joinedFrom = (n: FullnodeProcess) =>
      n.logs().find((l) => l.msg === "joined from a verified state snapshot")?.peer;
    assert.equal(joinedFrom(checked), seqAddress().split("/p2p/")[1], "joined from the sequencer");
    const rejections = checked.logs().filter((l) => l.msg === "snapshot from peer rejected");
    for (const [what, l] of Object.entries(refused)) {
      const r = rejections.find((x) => x.peer === l.peerId.toString());
      assert.ok(r !== undefined, `the snapshot continuing after ${what} is refused`);
      t.diagnostic(`${what}: ${r.err}`);
    }
    assert.equal(joinedFrom(stepped), withholding.peerId.toString());
    // Both follow the chain from there: a new transfer on top of the resume points.
    await stillFollows([fn, checked, stepped]);
    assert.ok(stepped.logs().some((l) => l.msg === "stepped over a mini-block of a block already verified"));
    for (const n of [checked, stepped])
      assert.equal(n.logs().filter((l) => l.msg === "mini-block does not extend the chain").length, 0);
    await stopRogues();
  });

  it("peers that answer with garbage, truncated, oversized or forged data do not stop new nodes catching up, from genesis or a snapshot", async (t) => {
    await stillFollows([fn]); // at least one mini-block
    // Real answers to mutilate, fetched from the sequencer.
    const source = await rogue(seqAddress());
    await waitFor("connected", async () => source.peers().length > 0, 10_000);
    const seqPeer = source.peers()[0]!;
    const opts = { timeoutMs: 10_000, maxResponseBytes: 64 << 20 };
    const sealBytes = (await source.request(seqPeer, "blockByNumber", encodeNumberRequest(1n), opts)).body;
    const range = await source.requestStream(seqPeer, "miniBlocksByRange", encodeRangeRequest(1n, 1), {
      timeoutMs: 10_000,
      maxChunkBytes: 1 << 20,
    });
    assert.equal(range.code, "ok");
    let mbBytes: Uint8Array = new Uint8Array(0);
    if (range.code === "ok") for await (const c of range.chunks) mbBytes = c;
    assert.ok(mbBytes.length > 0, "mini-block 1");
    const snapRes = await source.requestStream(seqPeer, "stateSnapshot", new Uint8Array(0), {
      timeoutMs: 10_000,
      maxChunkBytes: 1 << 20,
    });
    const snapChunks: Uint8Array[] = [];
    if (snapRes.code === "ok") for await (const c of snapRes.chunks) snapChunks.push(c);
    assert.ok(decodeSnapshot(Buffer.concat(snapChunks)).diff.length > 0);

    const seal = decodeBlockSeal(sealBytes);
    const mb = decodeSignedMiniBlock(mbBytes);
    const flip = (b: Uint8Array) => {
      const c = Uint8Array.from(b);
      c[7]! ^= 0xff;
      return c;
    };
    // A well-formed snapshot (checksum and all) of block 1, holding a state that is not block 1's.
    const block1 = await rpc<{ stateRoot: Hex }>(seq.rpcUrl, "eth_getBlockByNumber", ["0x1", false]);
    const wrongState = encodeSnapshot(
      {
        blockNumber: 1n,
        stateRoot: Buffer.from(block1.stateRoot.slice(2), "hex"),
        lastMiniBlockNumber: 0n,
        lastMiniBlockHash: seal.miniBlockHashes.at(-1) ?? new Uint8Array(32),
      },
      [`0x${"ee".repeat(20)}`],
      {
        account: () => ({ nonce: 0n, balance: 10n ** 30n, codeHash: new Uint8Array(32) }),
        code: () => undefined,
        slot: () => undefined,
        slots: () => undefined,
        hasStorage: () => false,
      },
    );
    const real: Record<"miniBlocksByRange" | "blockByNumber" | "stateSnapshot", Uint8Array> = {
      miniBlocksByRange: mbBytes,
      blockByNumber: sealBytes,
      stateSnapshot: Buffer.concat(snapChunks),
    };
    const forged: typeof real = {
      miniBlocksByRange: encodeSignedMiniBlock({ ...mb, signature: flip(mb.signature) }),
      blockByNumber: encodeBlockSeal({ ...seal, signature: flip(seal.signature) }),
      stateSnapshot: Buffer.concat(snapChunks).fill(0, 100, 110),
    };
    const ok = Uint8Array.of(1, CODE.ok);
    const answers: Record<string, (proto: keyof typeof real) => Uint8Array> = {
      garbage: () => concat(ok, frame(randomBytes(512)), END),
      truncated: (proto) =>
        concat(ok, varint(real[proto].length), real[proto].subarray(0, real[proto].length >> 1)),
      unterminated: (proto) => concat(ok, frame(real[proto])),
      oversized: () => concat(ok, varint(2 ** 31), randomBytes(1024)),
      forged: (proto) => concat(ok, frame(forged[proto]), END),
      "bad code": () => concat(frame(Uint8Array.of(9)), END),
      // Stale but real history (mini-block 1, block 1 whatever is asked), and a snapshot of block 1
      // that does not hash to its state root.
      "wrong state": (proto) => concat(ok, frame(proto === "stateSnapshot" ? wrongState : real[proto]), END),
    };
    // One liar per kind of answer, each answering every request that way.
    const asked = new Map<string, Set<string>>();
    const liars: string[] = [];
    for (const [kind, answer] of Object.entries(answers)) {
      const liar = await rogue(seqAddress());
      for (const proto of Object.keys(real) as (keyof typeof real)[]) {
        await liar.libp2p.handle(protocolId(DEV_CHAIN_ID, proto), async (stream, connection) => {
          const who = `${connection.remotePeer.toString()} ${proto}`;
          if (!asked.has(kind)) asked.set(kind, new Set());
          asked.get(kind)!.add(who);
          stream.send(answer(proto));
          await stream.close().catch(() => undefined);
        });
      }
      liars.push(liar.multiaddrs()[0]!);
    }
    // The liars come first in the new nodes' bootnodes.
    const withLiars = (dir: string, extra: string[] = []) => {
      const args = [...fullnodeArgs(seq, dir), ...extra];
      args[args.indexOf("--bootnodes") + 1] = [...liars, seqAddress()].join(",");
      return args;
    };
    const t0 = Date.now();
    const [genesis, snapshot] = await Promise.all([
      FullnodeProcess.start(withLiars(dirs.make())),
      FullnodeProcess.start(withLiars(dirs.make(), ["--sync", "snapshot"])),
    ]);
    nodes.push(genesis, snapshot);
    const target = await blockNumber(seq.rpcUrl);
    for (const n of [genesis, snapshot])
      await waitFor(`block ${target}`, async () => (await blockNumber(n.rpcUrl)) >= target, 60_000);
    const caughtUp = Date.now() - t0;
    await stillFollows([fn, genesis, snapshot]);
    const id = (n: FullnodeProcess) => n.p2pAddress().split("/p2p/")[1]!;
    // Every liar was asked, by the genesis node for history and by the snapshot node for its snapshot.
    await waitFor(
      "every liar asked",
      async () =>
        Object.keys(answers).every((kind) => {
          const who = asked.get(kind) ?? new Set();
          return who.has(`${id(snapshot)} stateSnapshot`) && [...who].some((w) => w.startsWith(id(genesis)));
        }),
      20_000,
    ).catch(() => undefined);
    for (const kind of Object.keys(answers)) {
      const who = [...(asked.get(kind) ?? [])];
      assert.ok(
        who.includes(`${id(snapshot)} stateSnapshot`),
        `the snapshot node asked the ${kind} liar: ${who}`,
      );
      assert.ok(
        who.some((w) => w.startsWith(id(genesis))),
        `the genesis node asked the ${kind} liar: ${who}`,
      );
    }
    t.diagnostic(`caught up past ${Object.keys(answers).length} lying peers in ${caughtUp} ms`);
  });
});
