import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bytesToHex } from "@ethereumjs/util";
import { type DaPointer, signDaPointer } from "../../src/codec/daCodec.ts";
import { randomPrivateKey, signingKeyFromPrivate } from "../../src/crypto/secp256k1.ts";
import { daHeadService } from "../../src/da/daHeadService.ts";
import { DaHeadPoller, type DaHeadPollerOptions } from "../../src/da/daHeadPoller.ts";
import { DaReader } from "../../src/da/daReader.ts";
import { DirectoryDaStore } from "../../src/da/daStore.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { P2P_DEFAULTS, type P2PNode, createP2PNode } from "../../src/p2p/node.ts";
import { CHAIN_ID, sleep, startNode, tempDir, waitFor } from "../p2p/helpers.ts";

const key = randomPrivateKey();
const sequencer = bytesToHex(signingKeyFromPrivate(key).address);
const pointer = (n: bigint): DaPointer =>
  signDaPointer(
    {
      number: n,
      blockHash: new Uint8Array(32).fill(Number(n)),
      commitment: new Uint8Array([Number(n)]),
      bundleHash: new Uint8Array(32).fill(Number(n) + 1),
    },
    CHAIN_ID,
    key,
  );

describe("DA / da-head poller", () => {
  const tmp = tempDir("da-head-poller");
  const store = new DirectoryDaStore(join(tmp.dir, "da"));
  const served = new DaReader(store, CHAIN_ID, sequencer);
  let server: P2PNode;
  const stops: (() => Promise<void> | void)[] = [];

  /** A node that polls `server` (its bootnode), its poller started before it connects. */
  async function poller(name: string, opts: DaHeadPollerOptions, heardFirst = false) {
    const node = await createP2PNode(
      {
        ...P2P_DEFAULTS,
        listen: ["/ip4/127.0.0.1/tcp/0"],
        bootnodes: server.multiaddrs(),
        keyFile: join(tmp.dir, `${name}.key`),
        chainId: CHAIN_ID,
      },
      { logger: silentLogger() },
    );
    const reader = new DaReader(store, CHAIN_ID, sequencer);
    const learned: bigint[] = [];
    const p = new DaHeadPoller(opts, {
      node,
      reader,
      log: silentLogger(),
      onNew: (x) => learned.push(x.number),
    });
    if (heardFirst) p.heard();
    p.start();
    await node.start();
    stops.push(
      () => p.stop(),
      () => node.stop(),
    );
    return { node, reader, learned, poller: p };
  }

  before(async () => {
    server = await startNode(join(tmp.dir, "server.key"));
    const daHead = daHeadService(() => served.head);
    await server.handle("daHead", daHead.handler, daHead.opts);
    served.addPointer(pointer(4n));
  });

  after(async () => {
    for (const s of stops.reverse()) await s();
    await server.stop();
    tmp.cleanup();
  });

  it("asks a peer as it connects, then every period; a newer pointer reaches the reader and onNew", async () => {
    const c = await poller("a", { everyMs: 200, quietMs: 0, afterConnectMs: 0 });
    await waitFor(() => c.learned.length === 1, "the pointer asked on connect");
    assert.deepEqual(c.learned, [4n]);
    assert.equal(c.reader.headNumber, 4n);
    served.addPointer(pointer(5n));
    await waitFor(() => c.learned.length === 2, "the newer pointer on a later poll");
    assert.deepEqual(c.learned, [4n, 5n]);
    // The same head again is not news.
    await sleep(600);
    assert.deepEqual(c.learned, [4n, 5n]);
  });

  it("skips polls while a pointer was heard within quietMs, and polls no more once stopped", async () => {
    const c = await poller("b", { everyMs: 100, quietMs: 1_500, afterConnectMs: 0 }, true);
    await waitFor(() => c.node.peers().length === 1, "connection");
    await sleep(700);
    assert.deepEqual(c.learned, [], "no poll within quietMs of a pointer heard");
    await waitFor(() => c.learned.length === 1, "a poll once quiet", 5_000);
    assert.equal(c.learned[0], served.headNumber);
    c.poller.stop();
    served.addPointer(pointer(served.headNumber + 1n));
    await sleep(600);
    assert.equal(c.learned.length, 1, "stopped: not asked again");
  });
});
