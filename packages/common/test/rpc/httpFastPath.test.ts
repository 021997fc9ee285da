import assert from "node:assert/strict";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { z } from "zod";
import { silentLogger } from "../../src/log/logger.ts";
import { createRpcServer, type RpcServer, rpcMethod } from "../../src/rpc/index.ts";

/**
 * The server reads plain keep-alive POSTs itself (httpFastPath.ts) and hands everything else to
 * Node's `http` server mid-connection. These tests speak raw HTTP/1.1 over a socket, so they
 * see exactly what a client gets: framing, ordering, keep-alive, timeouts and the hand-over.
 */

const MAX_BODY = 4096;
const HEADERS_TIMEOUT_MS = 300;
const KEEP_ALIVE_MS = 400;

let slowRelease: (() => void) | null = null;
const methods = {
  echo: rpcMethod(z.array(z.unknown()), (p) => p),
  /** Answers when the test says so. */
  slow: rpcMethod(z.tuple([]), () => new Promise<string>((resolve) => (slowRelease = () => resolve("late")))),
};

let server: RpcServer;
let port: number;

before(async () => {
  server = createRpcServer(
    {
      host: "127.0.0.1",
      port: 0,
      maxBodyBytes: MAX_BODY,
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      requestTimeoutMs: 2 * HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: KEEP_ALIVE_MS,
    },
    { logger: silentLogger(), methods, health: () => ({ ok: true }) },
  );
  ({ port } = await server.listen());
});

after(async () => {
  await server.close();
});

/** A raw client: what it sends, and the bytes it got back, parsed into responses. */
class RawClient {
  readonly socket: Socket;
  private data = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  closed = false;
  readonly closedAt: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (d: Buffer) => {
      this.data = Buffer.concat([this.data, d]);
      this.wake?.();
    });
    this.closedAt = new Promise((resolve) =>
      socket.on("close", () => {
        this.closed = true;
        this.wake?.();
        resolve();
      }),
    );
    socket.on("error", () => {});
  }

  static open(): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, "127.0.0.1", () => resolve(new RawClient(s)));
      s.once("error", reject);
    });
  }

  send(bytes: string): void {
    this.socket.write(bytes);
  }

  /** The next whole response (status, lower-cased headers, body), or null if the connection closed first. */
  async response(): Promise<{ status: number; headers: Record<string, string>; body: string } | null> {
    for (;;) {
      const r = this.take();
      if (r !== null) return r;
      if (this.closed) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  private take(): { status: number; headers: Record<string, string>; body: string } | null {
    const end = this.data.indexOf("\r\n\r\n");
    if (end < 0) return null;
    const lines = this.data.toString("latin1", 0, end).split("\r\n");
    const status = Number(lines[0]!.split(" ")[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    if (status === 100) {
      this.data = this.data.subarray(end + 4);
      return { status, headers, body: "" };
    }
    const len = Number(headers["content-length"] ?? 0);
    if (headers["transfer-encoding"] === "chunked") {
      const stop = this.data.indexOf("\r\n0\r\n\r\n", end);
      if (stop < 0) return null;
      const raw = this.data.toString("utf8", end + 4, stop + 2);
      this.data = this.data.subarray(stop + 7);
      let body = "";
      for (let at = 0; at < raw.length; ) {
        const nl = raw.indexOf("\r\n", at);
        const n = Number.parseInt(raw.slice(at, nl), 16);
        body += raw.slice(nl + 2, nl + 2 + n);
        at = nl + 2 + n + 2;
      }
      return { status, headers, body };
    }
    if (this.data.length < end + 4 + len) return null;
    const body = this.data.toString("utf8", end + 4, end + 4 + len);
    this.data = this.data.subarray(end + 4 + len);
    return { status, headers, body };
  }

  close(): void {
    this.socket.destroy();
  }
}

function post(body: string, extra = ""): string {
  return `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

const echo = (id: number, value: unknown) =>
  JSON.stringify({ jsonrpc: "2.0", id, method: "echo", params: [value] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("rpc http fast path", () => {
  it("answers pipelined requests in order, on one keep-alive connection", async () => {
    const c = await RawClient.open();
    c.send(post(echo(1, "a")) + post(echo(2, "b")) + post(echo(3, "ü€")));
    for (const [id, v] of [
      [1, "a"],
      [2, "b"],
      [3, "ü€"],
    ] as const) {
      const r = (await c.response())!;
      assert.equal(r.status, 200);
      assert.equal(r.headers["content-type"], "application/json");
      assert.equal(r.headers.connection, "keep-alive");
      assert.equal(r.headers["keep-alive"], `timeout=${Math.floor(KEEP_ALIVE_MS / 1000)}`);
      assert.equal(r.headers["access-control-allow-origin"], "*");
      assert.ok(r.headers.date !== undefined);
      assert.deepEqual(JSON.parse(r.body), { jsonrpc: "2.0", id, result: [v] });
    }
    c.close();
  });

  it("stops answering a client that does not read, and resumes in order once it does", async () => {
    const c = await RawClient.open();
    c.socket.pause();
    const n = 1500;
    const big = "x".repeat(3000);
    let pipelined = "";
    for (let i = 0; i < n; i++) pipelined += post(echo(i, big));
    c.send(pipelined);
    // ~4.5 MB of answers against the kernel's socket buffers: the server must wait for drain.
    await sleep(300);
    c.socket.resume();
    for (let i = 0; i < n; i++) {
      const r = (await c.response())!;
      assert.equal(JSON.parse(r.body).id, i);
    }
    c.close();
  });

  it("reads a request that arrives a byte at a time", async () => {
    const c = await RawClient.open();
    const bytes = post(echo(7, "slowly"));
    for (const ch of bytes) {
      c.send(ch);
      await sleep(0);
    }
    const r = (await c.response())!;
    assert.deepEqual(JSON.parse(r.body).result, ["slowly"]);
    c.close();
  });

  it("hands the connection to Node for a GET, then keeps answering POSTs on it", async () => {
    const c = await RawClient.open();
    c.send(post(echo(1, "fast")));
    assert.deepEqual(JSON.parse((await c.response())!.body).result, ["fast"]);
    c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    const h = (await c.response())!;
    assert.equal(h.status, 200);
    assert.deepEqual(JSON.parse(h.body), { ok: true });
    c.send(post(echo(2, "after")) + post(echo(3, "pipelined")));
    assert.deepEqual(JSON.parse((await c.response())!.body).result, ["after"]);
    assert.deepEqual(JSON.parse((await c.response())!.body).result, ["pipelined"]);
    assert.equal(c.closed, false);
    c.close();
  });

  it("hands over a POST pipelined behind an unusual one with its bytes intact", async () => {
    const c = await RawClient.open();
    const body = echo(4, "chunked");
    const chunked = `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    c.send(post(echo(3, "first")) + chunked + post(echo(5, "last")));
    assert.deepEqual(JSON.parse((await c.response())!.body).result, ["first"]);
    assert.deepEqual(JSON.parse((await c.response())!.body).result, ["chunked"]);
    assert.deepEqual(JSON.parse((await c.response())!.body).result, ["last"]);
    c.close();
  });

  it("leaves Expect: 100-continue, HTTP/1.0 and oversized bodies to Node", async () => {
    const a = await RawClient.open();
    const body = echo(1, "continued");
    a.send(`POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
    assert.equal((await a.response())!.status, 100);
    a.send(body);
    assert.deepEqual(JSON.parse((await a.response())!.body).result, ["continued"]);
    a.close();

    const b = await RawClient.open();
    b.send(`POST / HTTP/1.0\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const r10 = (await b.response())!;
    assert.deepEqual(JSON.parse(r10.body).result, ["continued"]);
    await b.closedAt; // HTTP/1.0 without keep-alive: closed after the answer

    const c = await RawClient.open();
    c.send(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${MAX_BODY + 1}\r\n\r\n`);
    const big = (await c.response())!;
    assert.equal(big.status, 413);
    assert.equal(JSON.parse(big.body).error.code, -32005);
    c.close();
  });

  it("lets Node judge a malformed head (400)", async () => {
    for (const head of [
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n folded\r\n\r\n{}",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -2\r\n\r\n{}",
    ]) {
      const c = await RawClient.open();
      c.send(head);
      const r = await c.response();
      assert.equal(r?.status, 400, head);
      await c.closedAt;
    }
  });

  it("answers Connection: close and a half-closed request, then closes", async () => {
    const a = await RawClient.open();
    a.send(post(echo(1, "bye"), "Connection: close\r\n"));
    const r = (await a.response())!;
    assert.equal(r.headers.connection, "close");
    assert.deepEqual(JSON.parse(r.body).result, ["bye"]);
    await a.closedAt;

    const b = await RawClient.open();
    b.socket.end(post(echo(2, "half")));
    const h = (await b.response())!;
    assert.deepEqual(JSON.parse(h.body).result, ["half"]);
    await b.closedAt;

    const p = await RawClient.open();
    p.socket.end(post(echo(3, "one")) + post(echo(4, "two")));
    assert.deepEqual(JSON.parse((await p.response())!.body).result, ["one"]);
    assert.deepEqual(JSON.parse((await p.response())!.body).result, ["two"]);
    await p.closedAt;
  });

  it("answers 408 to a head that trickles in past the headers timeout", async () => {
    const c = await RawClient.open();
    const started = performance.now();
    const head = "POST / HTTP/1.1\r\nHost: x\r\nX-Padding: ";
    c.send(head);
    // One byte well inside the socket's idle timeout each time, so only the overall limit can fire.
    while (!c.closed && performance.now() - started < 10 * HEADERS_TIMEOUT_MS) {
      await sleep(HEADERS_TIMEOUT_MS / 4);
      if (!c.closed) c.send("a");
    }
    const r = await c.response();
    assert.equal(r?.status, 408);
    await c.closedAt;
    assert.ok(performance.now() - started < 4 * HEADERS_TIMEOUT_MS);
  });

  it("closes an idle keep-alive connection after the keep-alive timeout", async () => {
    const c = await RawClient.open();
    c.send(post(echo(1, "then idle")));
    await c.response();
    const idleFrom = performance.now();
    await c.closedAt;
    const idle = performance.now() - idleFrom;
    assert.ok(idle >= KEEP_ALIVE_MS * 0.9 && idle < KEEP_ALIVE_MS * 5, `closed after ${idle} ms`);
  });

  it("serves Node's own client, fetch and WebSockets on the same port", async () => {
    const viaHttp = await new Promise<string>((resolve, reject) => {
      const r = request(
        { host: "127.0.0.1", port, method: "POST", headers: { "content-type": "application/json" } },
        (res) => {
          let s = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (s += d));
          res.on("end", () => resolve(s));
        },
      );
      r.on("error", reject);
      r.end(echo(1, "node"));
    });
    assert.deepEqual(JSON.parse(viaHttp).result, ["node"]);
    const viaFetch = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: echo(2, "fetch") });
    assert.deepEqual(((await viaFetch.json()) as { result: unknown }).result, ["fetch"]);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const answer = new Promise<string>((resolve) => ws.once("message", (d) => resolve(String(d))));
    ws.send(echo(3, "ws"));
    assert.deepEqual(JSON.parse(await answer).result, ["ws"]);
    ws.close();
  });

  it("on close, ends idle connections and finishes the answer in flight", async () => {
    const own = createRpcServer({ host: "127.0.0.1", port: 0 }, { logger: silentLogger(), methods });
    const { port: p } = await own.listen();
    const open = (): Promise<RawClient> =>
      new Promise((resolve, reject) => {
        // RawClient.open uses the shared server's port; this server has its own.
        const s = connect(p, "127.0.0.1", () => resolve(Reflect.construct(RawClient, [s]) as RawClient));
        s.once("error", reject);
      });
    const idle = await open();
    idle.send(post(echo(1, "idle")));
    await idle.response();
    const busy = await open();
    busy.send(post(JSON.stringify({ jsonrpc: "2.0", id: 9, method: "slow", params: [] })));
    await sleep(50);
    const closing = own.close();
    await idle.closedAt;
    slowRelease!();
    const r = (await busy.response())!;
    assert.equal(JSON.parse(r.body).result, "late");
    assert.equal(r.headers.connection, "close");
    await busy.closedAt;
    await closing;
  });
});
