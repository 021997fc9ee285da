import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { z } from "zod";
import { silentLogger } from "../../src/log/logger.ts";
import {
  createRpcServer,
  executionReverted,
  type RpcMethods,
  type RpcServer,
  rpcMethod,
  rpcSchemas,
} from "../../src/rpc/index.ts";

const MAX_BODY = 64 * 1024;
const MAX_BATCH = 10;
const ADDR = `0x${"aB".repeat(20)}`;

let healthy = true;
const events: string[] = [];
let notified = 0;
const observed: { method: string; ok: boolean }[] = [];
const wsCounts: number[] = [];

const methods: RpcMethods = {
  echo: rpcMethod(z.array(z.unknown()), (p) => p),
  nothing: rpcMethod(z.tuple([]), () => undefined),
  count: rpcMethod(z.tuple([]), () => {
    notified++;
    return notified;
  }),
  reverts: rpcMethod(z.tuple([]), () => {
    throw executionReverted("0xdeadbeef", "boom");
  }),
  crashes: rpcMethod(z.tuple([]), async () => {
    throw new Error("secret internal detail");
  }),
  bigint: rpcMethod(z.tuple([]), () => 1n),
  // Records when each request was prepared and handled, and what the handler was handed.
  prepared: rpcMethod(
    z.tuple([z.number()]),
    async ([n], _ctx, prep) => {
      events.push(`handle ${n}`);
      return prep === undefined ? null : await (prep as Promise<string>);
    },
    ([n]) => {
      events.push(`prepare ${n}`);
      return n < 0 ? Promise.reject(new Error(`bad ${n}`)) : Promise.resolve(`ready ${n}`);
    },
  ),
  two: rpcMethod(z.tuple([rpcSchemas.address, rpcSchemas.blockTag.optional()]), ([address, tag]) => ({
    address,
    tag: tag === undefined ? null : "tag" in tag ? tag.tag : `0x${tag.number.toString(16)}`,
  })),
  subscribe: rpcMethod(z.tuple([z.string()]), ([payload], ctx) => {
    const conn = ctx.connection;
    if (conn === null) throw executionReverted("0x", "websocket only");
    setTimeout(() => {
      conn.send({
        jsonrpc: "2.0",
        method: "eth_subscription",
        params: { subscription: "0x1", result: payload },
      });
    }, 5);
    return "0x1";
  }),
};

let server: RpcServer;
let url: string;
let wsUrl: string;

before(async () => {
  server = createRpcServer(
    { host: "127.0.0.1", port: 0, maxBodyBytes: MAX_BODY, maxBatch: MAX_BATCH },
    {
      logger: silentLogger(),
      methods,
      metrics: {
        observe: (method, _s, ok) => observed.push({ method, ok }),
        wsConnections: (n) => wsCounts.push(n),
      },
      health: () => ({ ok: healthy, head: 7 }),
    },
  );
  const { host, port } = await server.listen();
  url = `http://${host}:${port}/`;
  wsUrl = `ws://${host}:${port}/`;
});

after(async () => {
  await server.close();
});

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

async function post(body: string | Uint8Array, contentType = "application/json"): Promise<Reply> {
  const res = await fetch(url, { method: "POST", body, headers: { "content-type": contentType } });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

// biome-ignore lint/suspicious/noExplicitAny: test helper returning parsed JSON
async function call(body: unknown): Promise<any> {
  const r = await post(JSON.stringify(body));
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "application/json");
  return JSON.parse(r.text);
}

function req(method: string, params?: unknown[], id: number | string | null = 1): Record<string, unknown> {
  return params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params };
}

describe("rpc server / http requests", () => {
  it("answers a single request with CORS and JSON headers", async () => {
    const r = await post(JSON.stringify(req("echo", [1, "a", { b: [true] }], 7)));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.equal(r.headers.get("access-control-allow-origin"), "*");
    assert.deepEqual(JSON.parse(r.text), { jsonrpc: "2.0", id: 7, result: [1, "a", { b: [true] }] });
  });

  it("treats missing params as [] and undefined results as null", async () => {
    assert.deepEqual(await call(req("echo")), { jsonrpc: "2.0", id: 1, result: [] });
    assert.deepEqual(await call(req("nothing", [], "x")), { jsonrpc: "2.0", id: "x", result: null });
  });

  it("tolerates a text/plain content type", async () => {
    const r = await post(JSON.stringify(req("echo", [2])), "text/plain");
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.text).result, [2]);
  });

  it("answers a batch in order, skipping notifications", async () => {
    const out = await call([req("echo", [1], 1), { jsonrpc: "2.0", method: "count" }, req("nope", [], 3), 5]);
    assert.deepEqual(out, [
      { jsonrpc: "2.0", id: 1, result: [1] },
      {
        jsonrpc: "2.0",
        id: 3,
        error: { code: -32601, message: "the method nope does not exist/is not available" },
      },
      {
        jsonrpc: "2.0",
        id: null,
        error: { code: -32600, message: "invalid request: expected a request object" },
      },
    ]);
  });

  it("prepares every request of a batch before the first handler runs, and hands each its own", async () => {
    events.length = 0;
    const out = await call([req("prepared", [1], 1), req("prepared", ["x"], 2), req("prepared", [-3], 3)]);
    // The request with invalid params is not prepared; the handlers still run in order.
    assert.deepEqual(events, ["prepare 1", "prepare -3", "handle 1", "handle -3"]);
    assert.deepEqual(out[0], { jsonrpc: "2.0", id: 1, result: "ready 1" });
    assert.equal(out[1].error.code, -32602);
    // A rejected preparation reaches its handler (here: an internal error), nothing else.
    assert.equal(out[2].error.code, -32603);
    // A single request is not prepared: its handler gets nothing.
    events.length = 0;
    assert.deepEqual(await call(req("prepared", [4])), { jsonrpc: "2.0", id: 1, result: null });
    assert.deepEqual(events, ["handle 4"]);
  });

  it("runs notifications and answers them with 204 and no body", async () => {
    const before = notified;
    const single = await post(JSON.stringify({ jsonrpc: "2.0", method: "count" }));
    assert.equal(single.status, 204);
    assert.equal(single.text, "");
    const batch = await post(
      JSON.stringify([
        { jsonrpc: "2.0", method: "count" },
        { jsonrpc: "2.0", method: "count" },
      ]),
    );
    assert.equal(batch.status, 204);
    assert.equal(batch.text, "");
    assert.equal(notified, before + 3);
  });

  it("rejects an empty batch with one -32600 error", async () => {
    assert.deepEqual(await call([]), {
      jsonrpc: "2.0",
      id: null,
      error: { code: -32600, message: "invalid request: empty batch" },
    });
  });

  it("rejects a batch over maxBatch with one -32005 error", async () => {
    const batch = Array.from({ length: MAX_BATCH + 1 }, (_, i) => req("echo", [i], i));
    assert.deepEqual(await call(batch), {
      jsonrpc: "2.0",
      id: null,
      error: {
        code: -32005,
        message: `batch of ${MAX_BATCH + 1} requests exceeds the limit of ${MAX_BATCH}`,
      },
    });
    const full = await call(batch.slice(0, MAX_BATCH));
    assert.equal(full.length, MAX_BATCH);
  });

  it("rejects malformed request objects with -32600", async () => {
    assert.deepEqual((await call({ jsonrpc: "2.0", id: 4, method: 5 })).error, {
      code: -32600,
      message: "invalid request: method must be a string",
    });
    assert.equal((await call({ jsonrpc: "2.0", id: 4, method: 5 })).id, 4);
    const badId = await call({ jsonrpc: "2.0", id: { a: 1 }, method: "echo" });
    assert.equal(badId.id, null);
    assert.equal(badId.error.code, -32600);
    const noVersion = await call({ id: 9, method: "echo" });
    assert.deepEqual(noVersion, {
      jsonrpc: "2.0",
      id: 9,
      error: { code: -32600, message: 'invalid request: jsonrpc must be "2.0"' },
    });
    assert.equal((await call({ jsonrpc: "2.0", id: 1, method: "echo", params: "x" })).error.code, -32600);
  });

  it("answers unknown methods (including prototype names) with -32601", async () => {
    for (const name of ["eth_nope", "__proto__", "toString", "constructor"]) {
      assert.deepEqual((await call(req(name))).error, {
        code: -32601,
        message: `the method ${name} does not exist/is not available`,
      });
    }
  });

  it("validates params and names the failing one in -32602", async () => {
    assert.deepEqual((await call(req("two", ["0x12"]))).error, {
      code: -32602,
      message: "invalid params: param 0 (address): expected 0x-prefixed 20-byte hex",
    });
    assert.deepEqual((await call(req("two", [ADDR, "newest"]))).error, {
      code: -32602,
      message:
        "invalid params: param 1 (blockTag): expected block tag (earliest|latest|pending|safe|finalized) or 0x-prefixed hex number",
    });
    assert.deepEqual((await call(req("two", []))).error, {
      code: -32602,
      message: "invalid params: missing value for required param 0 (address)",
    });
    assert.deepEqual((await call(req("two", [ADDR, "latest", 1]))).error, {
      code: -32602,
      message: "invalid params: too many params, want at most 2, got 3",
    });
    assert.deepEqual((await call({ jsonrpc: "2.0", id: 1, method: "two", params: { a: 1 } })).error, {
      code: -32602,
      message: "invalid params: expected an array of positional params",
    });
  });

  it("accepts omitted trailing optional params", async () => {
    assert.deepEqual((await call(req("two", [ADDR]))).result, { address: ADDR.toLowerCase(), tag: null });
    assert.deepEqual((await call(req("two", [ADDR, "0x01f"]))).result, {
      address: ADDR.toLowerCase(),
      tag: "0x1f",
    });
    assert.deepEqual((await call(req("two", [ADDR, "safe"]))).result, {
      address: ADDR.toLowerCase(),
      tag: "safe",
    });
  });

  it("passes RpcError through and hides plain errors behind -32603", async () => {
    assert.deepEqual((await call(req("reverts"))).error, {
      code: 3,
      message: "execution reverted: boom",
      data: "0xdeadbeef",
    });
    assert.deepEqual((await call(req("crashes"))).error, { code: -32603, message: "internal error" });
    assert.deepEqual((await call(req("bigint"))).error, { code: -32603, message: "internal error" });
  });

  it("records metrics with bounded method labels", () => {
    assert.ok(observed.some((o) => o.method === "echo" && o.ok));
    assert.ok(observed.some((o) => o.method === "crashes" && !o.ok));
    assert.ok(observed.some((o) => o.method === "unknown" && !o.ok));
    assert.ok(!observed.some((o) => o.method === "eth_nope" || o.method === "__proto__"));
  });
});

describe("rpc server / hostile input", () => {
  it("answers malformed JSON and non-UTF-8 bytes with -32700", async () => {
    const parseError = { jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } };
    for (const body of [
      "{not json",
      "",
      '{"jsonrpc":"2.0","id":1,"method":"echo"',
      new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0xc3]),
      new Uint8Array([0x5b, 0x22, 0xc3, 0x28, 0x22, 0x5d]), // ["<invalid utf-8>"]
    ]) {
      const r = await post(body);
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.text), parseError);
    }
  });

  it("rejects deep nesting without parsing it", async () => {
    const depthError = {
      jsonrpc: "2.0",
      id: null,
      error: { code: -32600, message: "invalid request: JSON nesting deeper than 64" },
    };
    const n = 30_000; // 60 kB: under MAX_BODY
    const deepArray = "[".repeat(n) + "]".repeat(n);
    assert.deepEqual(JSON.parse((await post(deepArray)).text), depthError);
    const deepParams = `{"jsonrpc":"2.0","id":1,"method":"echo","params":[${'{"a":'.repeat(100)}1${"}".repeat(100)}]}`;
    assert.deepEqual(JSON.parse((await post(deepParams)).text), depthError);
    // Brackets inside strings do not count, and shallow nesting is fine.
    const inString = `{"jsonrpc":"2.0","id":1,"method":"echo","params":["${"[".repeat(100)}\\"${"{".repeat(100)}",[[[1]]]]}`;
    const ok = JSON.parse((await post(inString)).text);
    assert.deepEqual(ok.result, [`${"[".repeat(100)}"${"{".repeat(100)}`, [[[1]]]]);
  });

  it("answers an oversized body with 413 and -32005", async () => {
    const big = JSON.stringify(req("echo", ["x".repeat(MAX_BODY)]));
    const r = await post(big);
    assert.equal(r.status, 413);
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.deepEqual(JSON.parse(r.text), {
      jsonrpc: "2.0",
      id: null,
      error: { code: -32005, message: `request body exceeds the limit of ${MAX_BODY} bytes` },
    });
  });

  it("stops reading a chunked upload once it passes the limit", async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const r = request(url, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      });
      r.on("error", reject);
      // No content-length: chunked, so only the running count can catch it.
      const chunk = "x".repeat(16 * 1024);
      r.write('{"jsonrpc":"2.0","id":1,"method":"echo","params":["');
      for (let i = 0; i < 8; i++) r.write(chunk);
      // Keep the request open: the server must answer without waiting for the end.
    });
    assert.equal(status, 413);
    assert.equal(JSON.parse(body).error.code, -32005);
  });

  it("keeps answering after all of the above", async () => {
    assert.deepEqual((await call(req("echo", ["still here"]))).result, ["still here"]);
  });
});

describe("rpc server / http endpoints", () => {
  it("answers CORS preflight with 204", async () => {
    const res = await fetch(url, {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST" },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.equal(res.headers.get("access-control-allow-methods"), "POST, GET, OPTIONS");
    assert.equal(res.headers.get("access-control-allow-headers"), "content-type, authorization");
    assert.equal(res.headers.get("access-control-max-age"), "86400");
  });

  it("serves /health and /ready from deps.health", async () => {
    for (const path of ["health", "ready"]) {
      healthy = true;
      const ok = await fetch(`${url}${path}`);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("content-type"), "application/json");
      assert.deepEqual(await ok.json(), { ok: true, head: 7 });
      healthy = false;
      const bad = await fetch(`${url}${path}?verbose=1`);
      assert.equal(bad.status, 503);
      assert.deepEqual(await bad.json(), { ok: false, head: 7 });
    }
    healthy = true;
  });

  it("answers other GETs with 404 and other methods with 405", async () => {
    assert.equal((await fetch(`${url}metrics`)).status, 404);
    assert.equal((await fetch(url)).status, 404);
    const put = await fetch(url, { method: "PUT", body: "{}" });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "POST, GET, OPTIONS");
  });
});

/** A WebSocket client that queues incoming messages for `next()`. */
class TestWs {
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON from the server
  private readonly queue: any[] = [];
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON from the server
  private waiter: ((m: any) => void) | null = null;
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const m = JSON.parse(String(data));
      if (this.waiter !== null) {
        const w = this.waiter;
        this.waiter = null;
        w(m);
      } else this.queue.push(m);
    });
    this.closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
  }

  static open(): Promise<TestWs> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl);
      const t = new TestWs(ws);
      ws.once("open", () => resolve(t));
      ws.once("error", reject);
    });
  }

  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON from the server
  next(): Promise<any> {
    const m = this.queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  close(): void {
    this.ws.close();
  }
}

describe("rpc server / websocket", () => {
  it("answers requests and batches", async () => {
    const c = await TestWs.open();
    c.ws.send(JSON.stringify(req("echo", ["ws"], 11)));
    assert.deepEqual(await c.next(), { jsonrpc: "2.0", id: 11, result: ["ws"] });
    c.ws.send(JSON.stringify([req("echo", [1], 1), req("two", ["0x"], 2)]));
    const batch = await c.next();
    assert.equal(batch[0].result[0], 1);
    assert.equal(batch[1].error.code, -32602);
    c.close();
    await c.closed;
  });

  it("lets handlers push notifications through ctx.connection", async () => {
    const c = await TestWs.open();
    c.ws.send(JSON.stringify(req("subscribe", ["hello"], 5)));
    assert.deepEqual(await c.next(), { jsonrpc: "2.0", id: 5, result: "0x1" });
    assert.deepEqual(await c.next(), {
      jsonrpc: "2.0",
      method: "eth_subscription",
      params: { subscription: "0x1", result: "hello" },
    });
    c.close();
    await c.closed;
    // Over HTTP there is no connection to push to.
    assert.equal((await call(req("subscribe", ["x"]))).error.code, 3);
  });

  it("survives garbage frames and keeps answering", async () => {
    const c = await TestWs.open();
    c.ws.send("{{{ not json");
    assert.equal((await c.next()).error.code, -32700);
    c.ws.send(Buffer.from([0xff, 0x00, 0xfe, 0x80]), { binary: true });
    assert.equal((await c.next()).error.code, -32700);
    c.ws.send("[".repeat(1000) + "]".repeat(1000));
    assert.equal((await c.next()).error.code, -32600);
    c.ws.send(JSON.stringify(req("echo", ["after"], 2)));
    assert.deepEqual((await c.next()).result, ["after"]);
    c.close();
    await c.closed;
  });

  it("closes a connection that sends an oversized message, and only that one", async () => {
    const other = await TestWs.open();
    const c = await TestWs.open();
    c.ws.on("error", () => {});
    c.ws.send(JSON.stringify(req("echo", ["y".repeat(MAX_BODY + 1)])));
    assert.equal(await c.closed, 1009);
    other.ws.send(JSON.stringify(req("echo", ["ok"], 3)));
    assert.deepEqual((await other.next()).result, ["ok"]);
    other.close();
    await other.closed;
  });

  it("reports the connection count", () => {
    assert.ok(wsCounts.includes(1));
    assert.ok(wsCounts.includes(0));
  });
});

describe("rpc server / limits and origin list", () => {
  let limited: RpcServer;
  let base: string;

  before(async () => {
    limited = createRpcServer(
      { port: 0, maxWsConnections: 1, corsOrigins: "https://a.example, https://b.example" },
      { logger: silentLogger(), methods },
    );
    const { host, port } = await limited.listen();
    base = `${host}:${port}/`;
  });

  after(async () => {
    await limited.close();
  });

  function upgradeStatus(origin?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://${base}`, origin === undefined ? {} : { origin });
      ws.once("open", () => resolve(101));
      ws.once("unexpected-response", (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once("error", (err) => {
        if (!err.message.startsWith("Unexpected server response")) reject(err);
      });
    });
  }

  it("echoes only listed origins", async () => {
    const allowed = await fetch(`http://${base}`, {
      method: "OPTIONS",
      headers: { origin: "https://b.example" },
    });
    assert.equal(allowed.headers.get("access-control-allow-origin"), "https://b.example");
    assert.equal(allowed.headers.get("vary"), "origin");
    const denied = await fetch(`http://${base}`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example" },
    });
    assert.equal(denied.headers.get("access-control-allow-origin"), null);
    assert.equal(denied.headers.get("access-control-allow-methods"), null);
  });

  it("refuses WebSockets from unlisted origins and past maxWsConnections", async () => {
    assert.equal(await upgradeStatus("https://evil.example"), 403);
    const first = new WebSocket(`ws://${base}`, { origin: "https://a.example" });
    await new Promise((resolve) => first.once("open", resolve));
    assert.equal(await upgradeStatus(), 503);
    first.close();
    await new Promise((resolve) => first.once("close", resolve));
    // The slot is released on close (the server sees it a moment after the client).
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await upgradeStatus(), 101);
  });
});
