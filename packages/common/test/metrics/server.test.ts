import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Counter } from "prom-client";
import { silentLogger } from "../../src/log/logger.ts";
import { createRegistry } from "../../src/metrics/registry.ts";
import { type HealthStatus, type MetricsServer, startMetricsServer } from "../../src/metrics/server.ts";

describe("metrics / server", () => {
  const registry = createRegistry({ daemon: "test" });
  const events = new Counter({
    name: "staccato_test_events_total",
    help: "Events seen by the test",
    registers: [registry],
  });
  let health: HealthStatus = { ok: true, head: 5n };
  let ready: HealthStatus = { ok: true };
  let server: MetricsServer;
  let base: string;

  before(async () => {
    server = await startMetricsServer(
      { host: "127.0.0.1", port: 0 },
      { registry, health: () => health, ready: async () => ready, logger: silentLogger() },
    );
    base = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.close());

  it("binds an ephemeral port", () => {
    assert.ok(server.port > 0);
  });

  it("serves /metrics in the Prometheus text format", async () => {
    events.inc(3);
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), registry.contentType);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    assert.match(body, /^# HELP staccato_test_events_total Events seen by the test$/m);
    assert.match(body, /^staccato_test_events_total\{daemon="test"\} 3$/m);
    assert.match(body, /^staccato_process_cpu_user_seconds_total\{daemon="test"\} /m);
    assert.match(body, /^staccato_nodejs_eventloop_lag_seconds\{daemon="test"\} /m);
  });

  it("ignores a query string", async () => {
    assert.equal((await fetch(`${base}/metrics?x=1`)).status, 200);
  });

  it("answers /health with 200 and the JSON status when healthy", async () => {
    const res = await fetch(`${base}/health`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await res.json(), { ok: true, head: "5" });
  });

  it("answers /health with 503 when unhealthy", async () => {
    health = { ok: false, reason: "l1 unreachable" };
    try {
      const res = await fetch(`${base}/health`);
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { ok: false, reason: "l1 unreachable" });
    } finally {
      health = { ok: true };
    }
  });

  it("answers /ready from its own check", async () => {
    assert.equal((await fetch(`${base}/ready`)).status, 200);
    ready = { ok: false, syncing: true };
    const res = await fetch(`${base}/ready`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { ok: false, syncing: true });
    assert.equal((await fetch(`${base}/health`)).status, 200);
  });

  it("answers 503 when a health check throws", async () => {
    const throwing = await startMetricsServer(
      { host: "127.0.0.1", port: 0 },
      {
        registry,
        health: () => {
          throw new Error("db closed");
        },
        logger: silentLogger(),
      },
    );
    try {
      const res = await fetch(`http://127.0.0.1:${throwing.port}/ready`);
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { ok: false, error: "db closed" });
    } finally {
      await throwing.close();
    }
  });

  it("answers 404 elsewhere and 405 to other methods", async () => {
    assert.equal((await fetch(`${base}/`)).status, 404);
    assert.equal((await fetch(`${base}/metricsx`)).status, 404);
    const post = await fetch(`${base}/metrics`, { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    const head = await fetch(`${base}/health`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
  });

  it("keeps registries of several daemons apart", async () => {
    const other = createRegistry({ daemon: "other" });
    assert.equal(
      await other.getSingleMetricAsString("staccato_test_events_total").catch(() => "none"),
      "none",
    );
    assert.match(await other.metrics(), /^staccato_process_cpu_user_seconds_total\{daemon="other"\} /m);
  });

  it("rejects when the port is taken, and stops serving after close", async () => {
    const deps = { registry, health: () => ({ ok: true }), logger: silentLogger() };
    const first = await startMetricsServer({ host: "127.0.0.1", port: 0 }, deps);
    await assert.rejects(startMetricsServer({ host: "127.0.0.1", port: first.port }, deps), {
      code: "EADDRINUSE",
    });
    await fetch(`http://127.0.0.1:${first.port}/health`);
    await first.close();
    await assert.rejects(fetch(`http://127.0.0.1:${first.port}/health`));
  });
});
