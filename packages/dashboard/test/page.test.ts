import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type RpcServer, createRpcServer, rpcMethod, silentLogger } from "@staccato/common";
import { z } from "zod";
import { buildDashboardPage, dashboardPage } from "../src/index.ts";

describe("dashboard / page build", () => {
  it("bundles the page into one self-contained HTML document whose only script its CSP allows", async () => {
    const page = await buildDashboardPage();
    const html = page.body.toString("utf8");
    assert.match(html, /^<!doctype html>/);
    // one inline script, one inline stylesheet, and nothing loaded from anywhere (works offline)
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 1);
    assert.doesNotMatch(html, /<script[^>]+src=/);
    assert.doesNotMatch(html, /<link[^>]+href=/);
    assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)[a-z]/i, "no URL of another site");
    const hash = createHash("sha256").update(scripts[0][1]).digest("base64");
    const csp = page.headers["content-security-policy"];
    assert.ok(csp.includes(`script-src 'sha256-${hash}'`), csp);
    assert.ok(csp.includes("default-src 'none'"), csp);
    // uPlot and the page's own code and styles are in it
    assert.ok(html.includes("uplot"), "uPlot's classes");
    assert.ok(html.includes("staccato_nodeInfo") && html.includes("miniBlocks"), "the page's calls");
    assert.ok(html.includes(".mb-n"), "the page's styles");
    assert.equal(page.headers["content-type"], "text/html; charset=utf-8");
    assert.match(page.etag, /^"[\w-]+"$/);
  });

  it("is built once per process", async () => {
    assert.equal(await dashboardPage(), await dashboardPage());
  });
});

describe("dashboard / served at GET / of the RPC port", () => {
  let server: RpcServer;
  let url: string;
  let bare: RpcServer;
  let bareUrl: string;
  const methods = { web3_clientVersion: rpcMethod(z.tuple([]), () => "test/1") };

  before(async () => {
    server = createRpcServer({ port: 0 }, { logger: silentLogger(), methods, page: dashboardPage });
    const a = await server.listen();
    url = `http://${a.host}:${a.port}`;
    bare = createRpcServer({ port: 0 }, { logger: silentLogger(), methods });
    const b = await bare.listen();
    bareUrl = `http://${b.host}:${b.port}`;
  });

  after(async () => {
    await server.close();
    await bare.close();
  });

  const browserGet = (u: string, headers: Record<string, string> = {}) =>
    fetch(u, { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8", ...headers } });

  it("answers a browser with the page, and a revalidation with 304", async () => {
    const res = await browserGet(`${url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'sha256-/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    const body = await res.text();
    assert.equal(body, (await dashboardPage()).body.toString("utf8"));
    const etag = res.headers.get("etag")!;
    const again = await browserGet(`${url}/?nodes=fullnode-1@8546`, { "if-none-match": etag });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), "");
    const head = await fetch(`${url}/`, { method: "HEAD", headers: { accept: "text/html" } });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get("content-length")), Buffer.byteLength(body));
  });

  it("leaves everything else as it was: JSON 404 for non-browsers, JSON-RPC, health", async () => {
    for (const accept of ["application/json", "*/*"]) {
      const res = await fetch(`${url}/`, { headers: { accept } });
      assert.equal(res.status, 404, accept);
      assert.deepEqual(await res.json(), { error: "not found" });
    }
    assert.equal((await browserGet(`${url}/index.html`)).status, 404);
    const rpc = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/html" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "web3_clientVersion", params: [] }),
    });
    assert.deepEqual(await rpc.json(), { jsonrpc: "2.0", id: 7, result: "test/1" });
    assert.equal((await fetch(`${url}/health`)).status, 200);
  });

  it("is not served by a server without a page (a prover's node-info port)", async () => {
    const res = await browserGet(`${bareUrl}/`);
    assert.equal(res.status, 404);
  });
});
