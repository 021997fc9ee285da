import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { P2PNode } from "../../src/p2p/node.ts";
import { type ReqHandleOptions, ReqRespError } from "../../src/p2p/reqResp.ts";
import { type ReqService, type ReqServices, serveProtocols } from "../../src/p2p/reqServices.ts";
import { REQ_PROTOCOLS } from "../../src/p2p/topics.ts";
import { startNode, tempDir, waitFor } from "./helpers.ts";

const OPTS: ReqHandleOptions = {
  maxRequestBytes: 1024,
  maxResponseBytes: 1024,
  rateLimit: { perPeerPerSecond: 1000, burst: 1000 },
  timeoutMs: 5_000,
};
const CLIENT = { timeoutMs: 3_000, maxResponseBytes: 1024 };
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
/** Answers its protocol's name, so a response shows which handler served it. */
const named = (name: string): ReqService => ({ handler: () => enc(name), opts: OPTS });

describe("p2p / req-resp service tables", () => {
  it("a table that leaves a protocol out does not compile (checked by tsc over packages/*/test)", () => {
    // @ts-expect-error daHead is neither served nor declared not served (null)
    const missing: ReqServices = {
      miniBlocksByRange: null,
      blockByNumber: null,
      witnessByNumber: null,
      stateSnapshot: null,
      attestationsByRange: null,
    };
    const extra: ReqServices = {
      miniBlocksByRange: null,
      blockByNumber: null,
      witnessByNumber: null,
      stateSnapshot: null,
      attestationsByRange: null,
      daHead: null,
      // @ts-expect-error not a protocol of REQ_PROTOCOLS
      headersByRange: null,
    };
    void [missing, extra];
  });

  const tmp = tempDir("p2p-reqservices");
  let server: P2PNode;
  let client: P2PNode;
  const served = REQ_PROTOCOLS.filter((p) => p !== "daHead");

  before(async () => {
    server = await startNode(join(tmp.dir, "server.key"));
    client = await startNode(join(tmp.dir, "client.key"), { bootnodes: server.multiaddrs() });
    await waitFor(() => client.peers().length === 1, "connection");
    const table: ReqServices = {
      miniBlocksByRange: named("miniBlocksByRange"),
      blockByNumber: named("blockByNumber"),
      witnessByNumber: named("witnessByNumber"),
      stateSnapshot: named("stateSnapshot"),
      attestationsByRange: named("attestationsByRange"),
      daHead: null,
    };
    await serveProtocols(server, table);
  });

  after(async () => {
    await client?.stop();
    await server?.stop();
    tmp.cleanup();
  });

  it("serves each protocol with its own handler, and a null one not at all", async () => {
    for (const proto of served) {
      const res = await client.request(server.peerId, proto, enc(""), CLIENT);
      assert.deepEqual([res.code, dec(res.body)], ["ok", proto]);
    }
    await assert.rejects(client.request(server.peerId, "daHead", enc(""), CLIENT), (err) => {
      assert.ok(err instanceof ReqRespError);
      assert.equal(err.reason, "dial-failed", err.message);
      return true;
    });
  });
});
