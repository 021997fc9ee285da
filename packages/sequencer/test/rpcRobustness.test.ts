import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { DEV_CHAIN_ID } from "./helpers/devChain.ts";
import {
  type RawBlock,
  type RpcResponse,
  WsClient,
  rpc,
  rpcBatch,
  rpcRaw,
  withTimeout,
} from "./helpers/rpcClient.ts";
import { SequencerProcess } from "./helpers/sequencerProcess.ts";

/**
 * Hostile and sloppy input against the real process: every request gets a JSON-RPC error (or an
 * HTTP status), never a crash, and afterwards the node still answers correctly.
 */

const MAX_BODY = 5 * 1024 * 1024;

let seq: SequencerProcess;

before(async () => {
  seq = await SequencerProcess.start();
});

after(async () => {
  await seq?.stop();
  await seq?.cleanup();
});

interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP exchange on a fresh connection (no client-side JSON handling in the way). */
function httpRaw(
  method: string,
  body: Buffer | string | null,
  opts: { path?: string; headers?: Record<string, string>; chunked?: boolean } = {},
): Promise<HttpResult> {
  const url = new URL(seq.rpcUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: opts.path ?? "/",
        agent: false,
        headers: {
          "content-type": "application/json",
          ...(body !== null && opts.chunked !== true
            ? { "content-length": String(Buffer.byteLength(body)) }
            : {}),
          ...opts.headers,
        },
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on("error", reject);
      },
    );
    // The server may answer (413) and close before the whole upload is written: then only a
    // connection closed without any answer is a failure.
    let answered = false;
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE" && err.code !== "ECONNRESET") reject(err);
    });
    req.on("close", () => {
      if (!answered) reject(new Error(`${method} ${opts.path ?? "/"}: connection closed without a response`));
    });
    req.setTimeout(20_000, () =>
      req.destroy(new Error(`${method} ${opts.path ?? "/"}: no response within 20 s`)),
    );
    if (body !== null && opts.chunked === true) {
      const buf = Buffer.from(body);
      const step = 256 * 1024;
      let off = 0;
      const pump = () => {
        while (off < buf.length) {
          const ok = req.write(buf.subarray(off, off + step));
          off += step;
          if (!ok) {
            req.once("drain", pump);
            return;
          }
        }
        req.end();
      };
      pump();
    } else {
      req.end(body ?? undefined);
    }
  });
}

/** POSTs `body` and parses the JSON-RPC response. */
async function post(body: Buffer | string): Promise<RpcResponse & { status: number }> {
  const r = await httpRaw("POST", body);
  return { ...(JSON.parse(r.body) as RpcResponse), status: r.status };
}

const call = (method: string, params: unknown[] = [], id: unknown = 1) =>
  JSON.stringify({ jsonrpc: "2.0", id, method, params });

describe("rpc robustness / malformed bodies", () => {
  it("garbage bytes, non-UTF-8 and plain text get -32700 parse error", async () => {
    for (const body of [
      randomBytes(4096),
      Buffer.from([0xff, 0xfe, 0x00, 0x80]),
      "hello world",
      "",
      "\u0000\u0001",
    ]) {
      const r = await post(body);
      assert.equal(r.status, 200);
      assert.deepEqual(
        { id: r.id, error: r.error },
        { id: null, error: { code: -32700, message: "parse error" } },
      );
    }
  });

  it("truncated JSON gets -32700", async () => {
    const whole = call("eth_blockNumber");
    for (const cut of [1, 10, whole.length - 1]) {
      const r = await post(whole.slice(0, cut));
      assert.equal(r.error?.code, -32700, `cut at ${cut}`);
    }
  });

  it("a body over 5 MiB is refused with HTTP 413, by Content-Length and while streaming", async () => {
    const huge = `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x${"ab".repeat(MAX_BODY / 2 + 1024)}"]}`;
    const declared = await httpRaw("POST", huge);
    assert.equal(declared.status, 413);
    assert.deepEqual(JSON.parse(declared.body), {
      jsonrpc: "2.0",
      id: null,
      error: { code: -32005, message: `request body exceeds the limit of ${MAX_BODY} bytes` },
    });
    const streamed = await httpRaw("POST", huge, { chunked: true });
    assert.equal(streamed.status, 413);
    assert.equal((JSON.parse(streamed.body) as RpcResponse).error?.code, -32005);
    // Just under the limit is read and answered (as a bad transaction, not a size error).
    const under = `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x${"ab".repeat(MAX_BODY / 2 - 1024)}"]}`;
    const ok = await post(under);
    assert.equal(ok.status, 200);
    assert.equal(ok.error?.code, -32000);
    assert.match(ok.error?.message ?? "", /^oversized data/);
  });

  it("deep JSON nesting is refused before parsing (-32600), in the body and inside params", async () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const r1 = await post(deep);
    assert.deepEqual(r1.error, { code: -32600, message: "invalid request: JSON nesting deeper than 64" });
    const nestedParams = `{"jsonrpc":"2.0","id":7,"method":"eth_call","params":[${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}]}`;
    const r2 = await post(nestedParams);
    assert.equal(r2.error?.code, -32600);
    // Brackets inside strings do not count.
    const r3 = await post(call("web3_sha3", [`0x${"5b".repeat(10)}`]));
    assert.equal(r3.error, undefined);
    const inString = await post(`{"jsonrpc":"2.0","id":1,"method":"${"[".repeat(1000)}","params":[]}`);
    assert.equal(inString.error?.code, -32601);
  });

  it("invalid request objects get -32600", async () => {
    const cases: [string, string][] = [
      ["42", "invalid request: expected a request object"],
      ['"eth_blockNumber"', "invalid request: expected a request object"],
      ["null", "invalid request: expected a request object"],
      ['{"jsonrpc":"1.0","id":1,"method":"eth_blockNumber"}', 'invalid request: jsonrpc must be "2.0"'],
      ['{"jsonrpc":"2.0","id":1,"method":42}', "invalid request: method must be a string"],
      [
        '{"jsonrpc":"2.0","id":{"x":1},"method":"eth_blockNumber"}',
        "invalid request: id must be a string, number or null",
      ],
      [
        '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":"x"}',
        "invalid request: params must be an array",
      ],
      ["[]", "invalid request: empty batch"],
    ];
    for (const [body, message] of cases) {
      const r = await post(body);
      assert.equal(r.error?.code, -32600, body);
      assert.equal(r.error?.message, message, body);
    }
  });

  it("a notification (no id) gets no response body", async () => {
    const r = await httpRaw("POST", '{"jsonrpc":"2.0","method":"eth_blockNumber","params":[]}');
    assert.equal(r.status, 204);
    assert.equal(r.body, "");
  });
});

describe("rpc robustness / methods and params", () => {
  it("an unknown method gets -32601 naming it (bounded), also for prototype names", async () => {
    for (const m of ["eth_doesNotExist", "__proto__", "constructor", "toString", "hasOwnProperty"]) {
      const r = await rpcRaw(seq.rpcUrl, m);
      assert.deepEqual(r.error, { code: -32601, message: `the method ${m} does not exist/is not available` });
    }
    const long = "x".repeat(10_000);
    const r = await rpcRaw(seq.rpcUrl, long);
    assert.equal(r.error?.code, -32601);
    assert.equal(r.error?.message, `the method ${"x".repeat(128)}… does not exist/is not available`);
  });

  it("wrong param types get -32602 naming the param", async () => {
    const zero = `0x${"00".repeat(20)}`;
    const cases: [string, unknown[], string][] = [
      [
        "eth_getBalance",
        [123, "latest"],
        "invalid params: param 0 (address): expected 0x-prefixed 20-byte hex",
      ],
      [
        "eth_getBalance",
        [{}, "latest"],
        "invalid params: param 0 (address): expected 0x-prefixed 20-byte hex",
      ],
      [
        "eth_getBalance",
        [zero, true],
        "invalid params: param 1 (blockTagOrHash): expected block tag, 0x-prefixed hex number, 32-byte block hash, or {blockNumber} / {blockHash, requireCanonical} object",
      ],
      ["eth_getBalance", [], "invalid params: missing value for required param 0 (address)"],
      ["eth_getBalance", [zero, "latest", 1], "invalid params: too many params, want at most 2, got 3"],
      ["eth_getBlockByNumber", ["latest", "yes"], "invalid params: param 1 (bool): expected boolean"],
      [
        "eth_getBlockByHash",
        ["0x1234", false],
        "invalid params: param 0 (hash): expected 0x-prefixed 32-byte hex",
      ],
      [
        "eth_sendRawTransaction",
        [["0x00"]],
        "invalid params: param 0 (transaction): expected 0x-prefixed even-length hex",
      ],
      [
        "eth_call",
        ["0x00", "latest"],
        "invalid params: param 0 (transaction): expected object, received string",
      ],
      [
        "eth_call",
        [{ to: "0x12" }, "latest"],
        "invalid params: param 0 (transaction).to: expected 0x-prefixed 20-byte hex",
      ],
      [
        "eth_getLogs",
        [{ fromBlock: "yesterday" }],
        "invalid params: param 0 (filter).fromBlock: expected block tag (earliest|latest|pending|safe|finalized) or 0x-prefixed hex number",
      ],
      [
        "eth_feeHistory",
        ["0x0", "latest", []],
        "invalid params: param 0 (blockCount): must be between 1 and 1024",
      ],
    ];
    for (const [method, params, message] of cases) {
      const r = await rpcRaw(seq.rpcUrl, method, params);
      assert.deepEqual(r.error, { code: -32602, message }, `${method} ${JSON.stringify(params)}`);
    }
    // Params as an object instead of an array.
    const r = await post(
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_getBalance", params: { address: zero } }),
    );
    assert.deepEqual(r.error, {
      code: -32602,
      message: "invalid params: expected an array of positional params",
    });
  });

  it("invalid hex is refused with -32602", async () => {
    const cases: [string, unknown[]][] = [
      ["eth_getBalance", ["0xZZ00000000000000000000000000000000000000", "latest"]],
      ["eth_getBalance", ["000000000000000000000000000000000000000000", "latest"]],
      ["eth_getStorageAt", [`0x${"00".repeat(20)}`, "0xg", "latest"]],
      ["eth_getStorageAt", [`0x${"00".repeat(20)}`, "0x", "latest"]],
      ["eth_sendRawTransaction", ["0x123"]],
      ["eth_sendRawTransaction", ["deadbeef"]],
      ["eth_getBlockByNumber", ["0x", false]],
      ["eth_getBlockByNumber", ["0X10", false]],
      ["eth_getTransactionByHash", [`0x${"zz".repeat(32)}`]],
    ];
    for (const [method, params] of cases) {
      const r = await rpcRaw(seq.rpcUrl, method, params);
      assert.equal(r.error?.code, -32602, `${method} ${JSON.stringify(params)}: ${JSON.stringify(r)}`);
      assert.match(r.error.message, /^invalid params: param \d \(/);
    }
  });

  it("negative and overflowing quantities are refused; huge but valid ones find nothing", async () => {
    for (const [method, params] of [
      ["eth_getBlockByNumber", ["-0x1", false]],
      ["eth_getBlockByNumber", [-1, false]],
      ["eth_getBlockByNumber", [1.5, false]],
      ["eth_getBlockByNumber", [`0x1${"0".repeat(64)}`, false]], // 2^256
      ["eth_getStorageAt", [`0x${"00".repeat(20)}`, `0x1${"0".repeat(64)}`, "latest"]],
      ["eth_call", [{ value: "-0x1" }, "latest"]],
    ] as [string, unknown[]][]) {
      const r = await rpcRaw(seq.rpcUrl, method, params);
      assert.equal(r.error?.code, -32602, `${method} ${JSON.stringify(params)}: ${JSON.stringify(r)}`);
    }
    assert.equal(await rpc(seq.rpcUrl, "eth_getBlockByNumber", ["0xffffffffffffffff", false]), null);
    assert.equal(await rpc(seq.rpcUrl, "eth_getBlockByNumber", [`0x${"f".repeat(64)}`, false]), null);
    assert.equal(
      await rpc(seq.rpcUrl, "eth_getTransactionByBlockNumberAndIndex", ["latest", `0x${"f".repeat(20)}`]),
      null,
    );
    assert.equal(await rpc(seq.rpcUrl, "eth_getBlockTransactionCountByNumber", ["0xffffffff"]), null);
    // The largest slot is a valid (empty) slot.
    assert.equal(
      await rpc(seq.rpcUrl, "eth_getStorageAt", [`0x${"00".repeat(20)}`, `0x${"f".repeat(64)}`, "latest"]),
      `0x${"00".repeat(32)}`,
    );
  });

  it("an absurd gas limit on eth_call is capped: an endless loop runs out of gas", async () => {
    // Init code `JUMPDEST PUSH1 0 JUMP`: loops until the gas is gone.
    const r = await rpcRaw(seq.rpcUrl, "eth_call", [
      { data: "0x5b600056", gas: "0xffffffffffffffff" },
      "latest",
    ]);
    assert.deepEqual(r.error, { code: -32000, message: "out of gas" });
  });

  it("unicode in methods, params and ids is answered with valid JSON", async () => {
    const id = "🎵 staccato ✓ \u2028 \ud83d\ude00";
    const r1 = await post(call("eth_blockNumber", [], id));
    assert.equal(r1.id, id);
    assert.match(String(r1.result), /^0x[0-9a-f]+$/);
    const r2 = await post(call("eth_блок", [], 1));
    assert.deepEqual(r2.error, {
      code: -32601,
      message: "the method eth_блок does not exist/is not available",
    });
    const r3 = await post(call("eth_getBalance", ["0x😀", "latest"]));
    assert.equal(r3.error?.code, -32602);
    const r4 = await post(`\ufeff${call("eth_chainId")}`); // a UTF-8 BOM is tolerated
    assert.equal(r4.result, `0x${DEV_CHAIN_ID.toString(16)}`);
    // A lone surrogate escape is valid JSON; it is just an unknown method.
    const r5 = await post('{"jsonrpc":"2.0","id":1,"method":"\\ud800","params":[]}');
    assert.equal(r5.error?.code, -32601);
  });
});

describe("rpc robustness / batches", () => {
  it("a batch of 1,000 is answered in order; 1,001 is refused with -32005", async () => {
    const calls = Array.from({ length: 1000 }, (_, i) => ({
      method: i % 2 === 0 ? "eth_chainId" : "net_version",
      params: [],
    }));
    const out = await rpcBatch(seq.rpcUrl, calls);
    assert.equal(out.length, 1000);
    for (const [i, r] of out.entries()) {
      assert.equal(r.result, i % 2 === 0 ? `0x${DEV_CHAIN_ID.toString(16)}` : String(DEV_CHAIN_ID));
    }
    const tooMany = JSON.stringify(
      Array.from({ length: 1001 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "eth_chainId" })),
    );
    const r = await post(tooMany);
    assert.deepEqual(r.error, { code: -32005, message: "batch of 1001 requests exceeds the limit of 1000" });
  });

  it("a mixed batch answers each item on its own; notifications are left out", async () => {
    const body = JSON.stringify([
      { jsonrpc: "2.0", id: 1, method: "eth_chainId" },
      { jsonrpc: "2.0", id: 2, method: "nope" },
      42,
      { jsonrpc: "2.0", method: "eth_chainId" },
      { jsonrpc: "2.0", id: 3, method: "eth_getBalance", params: ["0x1"] },
    ]);
    const r = await httpRaw("POST", body);
    const out = JSON.parse(r.body) as RpcResponse[];
    assert.deepEqual(
      out.map((x) => [x.id, x.error?.code ?? x.result]),
      [
        [1, `0x${DEV_CHAIN_ID.toString(16)}`],
        [2, -32601],
        [null, -32600],
        [3, -32602],
      ],
    );
  });
});

describe("rpc robustness / WebSocket", () => {
  it("binary frames, garbage and oversized messages do not hurt the server", async () => {
    const ws = new WebSocket(seq.wsUrl);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const replies: RpcResponse[] = [];
    ws.on("message", (d) => replies.push(JSON.parse(d.toString()) as RpcResponse));
    const waitReplies = async (n: number) => {
      for (let i = 0; i < 200 && replies.length < n; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(replies.length, n);
    };
    ws.send(randomBytes(1024), { binary: true });
    ws.send(Buffer.from(call("eth_chainId", [], 2)), { binary: true }); // JSON in a binary frame is still JSON
    ws.send("{not json");
    ws.send("[".repeat(10_000));
    await waitReplies(4);
    // WebSocket answers come as each request completes, not necessarily in order.
    assert.deepEqual(
      replies.map((r) => JSON.stringify([r.id, r.error?.code ?? r.result])).sort(),
      [
        [null, -32700],
        [2, `0x${DEV_CHAIN_ID.toString(16)}`],
        [null, -32700],
        [null, -32600],
      ]
        .map((x) => JSON.stringify(x))
        .sort(),
    );
    // A message over the 5 MiB cap closes the connection with 1009 (message too big).
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    ws.send(Buffer.alloc(MAX_BODY + 1, 0x20));
    assert.equal(
      await withTimeout(closed, 10_000, "the server closing an oversized WebSocket message"),
      1009,
    );

    const again = await WsClient.connect(seq.wsUrl);
    assert.equal(await again.request("eth_chainId"), `0x${DEV_CHAIN_ID.toString(16)}`);
    await again.close();
  });

  it("a client that vanishes mid-subscription leaves the server fine", async () => {
    const c = await WsClient.connect(seq.wsUrl);
    await c.subscribe("newHeads");
    await c.subscribe("miniBlocks");
    c.ws.terminate();
    const other = await WsClient.connect(seq.wsUrl);
    const sub = await other.subscribe("newHeads");
    const head = await other.next<RawBlock>(sub, () => true, 5_000);
    assert.match(head.number, /^0x[0-9a-f]+$/);
    await other.close();
  });
});

describe("rpc robustness / load and HTTP surface", () => {
  it("300 concurrent HTTP connections and 50 WebSockets are all answered", async () => {
    const http = Array.from({ length: 300 }, (_, i) =>
      httpRaw("POST", call("eth_chainId", [], i)).then((r) => JSON.parse(r.body) as RpcResponse),
    );
    const sockets = await Promise.all(Array.from({ length: 50 }, () => WsClient.connect(seq.wsUrl)));
    try {
      const wsAnswers = await Promise.all(sockets.map((s) => s.request<string>("eth_chainId")));
      const httpAnswers = await Promise.all(http);
      assert.deepEqual(
        httpAnswers.map((r) => [r.id, r.result]),
        Array.from({ length: 300 }, (_, i) => [i, `0x${DEV_CHAIN_ID.toString(16)}`]),
      );
      assert.deepEqual(wsAnswers, Array(50).fill(`0x${DEV_CHAIN_ID.toString(16)}`));
    } finally {
      await Promise.all(sockets.map((s) => s.close()));
    }
  });

  it("answers CORS preflights and adds CORS headers for browser wallets", async () => {
    const pre = await httpRaw("OPTIONS", null, {
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers["access-control-allow-origin"], "*");
    assert.match(String(pre.headers["access-control-allow-methods"]), /POST/);
    assert.match(String(pre.headers["access-control-allow-headers"]), /content-type/);
    const r = await httpRaw("POST", call("eth_chainId"), { headers: { origin: "https://app.example" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers["access-control-allow-origin"], "*");
  });

  it("serves /health and /ready on the RPC port, /health and /metrics on the metrics port", async () => {
    const health = await httpRaw("GET", null, { path: "/health" });
    assert.equal(health.status, 200);
    const h = JSON.parse(health.body) as {
      ok: boolean;
      latestBlock: number;
      pendingBlock: number;
      poolSize: number;
    };
    assert.equal(h.ok, true);
    assert.equal(h.pendingBlock, h.latestBlock + 1);
    assert.equal(typeof h.poolSize, "number");
    assert.equal((await httpRaw("GET", null, { path: "/ready" })).status, 200);
    assert.equal((await httpRaw("GET", null, { path: "/nope" })).status, 404);
    assert.equal((await httpRaw("PUT", "x")).status, 405);

    const metricsBase = new URL(seq.metricsUrl);
    const mHealth = await fetch(new URL("/health", metricsBase));
    assert.equal(mHealth.status, 200);
    assert.equal(((await mHealth.json()) as { ok: boolean }).ok, true);
    const metrics = await (await fetch(seq.metricsUrl)).text();
    assert.match(metrics, /^staccato_sequencer_\w+/m);
    assert.match(metrics, /staccato_\w*rpc\w*_seconds/);
  });

  it("after all of it the process is alive and eth_blockNumber is right", async () => {
    assert.equal(seq.running, true);
    const n = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
    const latest = await rpc<RawBlock>(seq.rpcUrl, "eth_getBlockByNumber", ["latest", false]);
    const n2 = BigInt(await rpc<string>(seq.rpcUrl, "eth_blockNumber"));
    assert.ok(BigInt(latest.number) >= n && BigInt(latest.number) <= n2);
    assert.ok(n >= 1n, "blocks kept sealing during the abuse");
    const byHash = await rpc<RawBlock>(seq.rpcUrl, "eth_getBlockByHash", [latest.hash, false]);
    assert.equal(byHash.number, latest.number);
    assert.deepEqual(
      seq.logs().filter((l) => Number(l.level) >= 50),
      [],
      "no error or fatal log lines",
    );
  });
});
