import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { z } from "zod";
import { silentLogger } from "../../src/log/logger.ts";
import { DEBUG_TRACE_METHODS } from "../../src/rpc/debug/index.ts";
import {
  ACCESS_LIST_METHODS,
  ETH_METHODS,
  FINALITY_METHODS,
  type FinalityMethod,
  REALTIME_METHODS,
  SIMULATE_METHODS,
  SUBSCRIPTION_METHODS,
} from "../../src/rpc/eth/index.ts";
import {
  createRpcServer,
  NODE_INFO_METHODS,
  type RpcMethods,
  type RpcMethodTable,
  type RpcServer,
  rpcMethod,
} from "../../src/rpc/index.ts";
import { OTS_METHODS } from "../../src/rpc/ots/index.ts";

/**
 * A namespace's handlers are an `RpcMethodTable<Its method names>`. Most of what is under test here
 * is checked by `tsc -p tsconfig.json` (CI's type-check includes packages/*\/test): each
 * `@ts-expect-error` line must fail to compile, or the type-check fails. The runtime part checks
 * that tables of differently typed methods, spread together without a cast, dispatch each request
 * to its own schema and handler.
 */

const DEMO_METHODS = ["demo_length", "demo_double"] as const;
type DemoMethod = (typeof DEMO_METHODS)[number];

const length = rpcMethod(z.tuple([z.string()]), ([s]) => s.length);
const double = rpcMethod(z.tuple([z.number()]), ([n]) => n * 2);

describe("rpc / method tables (compile-time)", () => {
  it("a table missing a declared method's handler, or with an undeclared one, does not compile", () => {
    // @ts-expect-error demo_double has no handler
    const missing: RpcMethodTable<DemoMethod> = { demo_length: length };
    const extra: RpcMethodTable<DemoMethod> = {
      demo_length: length,
      demo_double: double,
      // @ts-expect-error demo_triple is not a declared method
      demo_triple: double,
    };
    // @ts-expect-error staccato_getAttestations (of FINALITY_METHODS) has no handler
    const finality: RpcMethodTable<FinalityMethod> = { staccato_finality: double };
    const complete: RpcMethodTable<DemoMethod> = { demo_length: length, demo_double: double };
    assert.deepEqual(Object.keys(complete).sort(), [...DEMO_METHODS].sort());
    void [missing, extra, finality];
  });

  it("handlers see their own params' types", () => {
    rpcMethod(z.tuple([z.string()]), ([s]) => {
      // @ts-expect-error the param is a string
      const n: number = s;
      return n;
    });
  });
});

describe("rpc / method tables (composed)", () => {
  const other: RpcMethodTable<"demo_echo"> = {
    demo_echo: rpcMethod(z.tuple([z.boolean(), z.bigint().optional()]), ([b]) => b),
  };
  const demo: RpcMethodTable<DemoMethod> = { demo_length: length, demo_double: double };
  // No cast: RpcMethod<[string]>, RpcMethod<[number]> and RpcMethod<[boolean, bigint?]> are RpcMethods.
  const methods: RpcMethods = { ...demo, ...other };
  let server: RpcServer;
  let url: string;

  before(async () => {
    server = createRpcServer(
      { host: "127.0.0.1", port: 0 },
      { logger: silentLogger(), methods, health: () => ({ ok: true }) },
    );
    const a = await server.listen();
    url = `http://${a.host}:${a.port}`;
  });
  after(async () => {
    await server?.close();
  });

  const call = async (method: string, params: unknown[]) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    return (await res.json()) as { result?: unknown; error?: { code: number } };
  };

  it("each request is parsed by its own method's schema and answered by its handler", async () => {
    assert.deepEqual((await call("demo_length", ["abcd"])).result, 4);
    assert.deepEqual((await call("demo_double", [21])).result, 42);
    assert.deepEqual((await call("demo_echo", [true])).result, true);
    assert.equal((await call("demo_length", [4])).error?.code, -32602);
    assert.equal((await call("demo_double", ["4"])).error?.code, -32602);
  });
});

describe("rpc / method lists", () => {
  it("no two of common's namespaces declare the same method (a spread would silently drop one)", () => {
    const lists: Record<string, readonly string[]> = {
      ETH_METHODS,
      SUBSCRIPTION_METHODS,
      REALTIME_METHODS,
      FINALITY_METHODS,
      ACCESS_LIST_METHODS,
      SIMULATE_METHODS,
      DEBUG_TRACE_METHODS,
      OTS_METHODS,
      NODE_INFO_METHODS,
    };
    const owner = new Map<string, string>();
    for (const [list, names] of Object.entries(lists)) {
      for (const name of names) {
        assert.equal(owner.get(name), undefined, `${name} is in ${owner.get(name)} and ${list}`);
        owner.set(name, list);
      }
    }
  });
});
