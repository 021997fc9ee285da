import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Logger } from "../log/logger.ts";

export interface MetricsServerOpts {
  host: string;
  /** 0 picks an ephemeral port. To disable the server, the daemon simply does not start it. */
  port: number;
}

/** Body of `/health` and `/ready`: 200 when `ok`, else 503. Extra fields are free-form details. */
export interface HealthStatus {
  ok: boolean;
  [detail: string]: unknown;
}
export type HealthCheck = () => HealthStatus | Promise<HealthStatus>;

export interface MetricsServerDeps {
  registry: Registry;
  /** Liveness, served at `/health`. */
  health: HealthCheck;
  /** Readiness (e.g. synced), served at `/ready`; `health` when omitted. */
  ready?: HealthCheck;
  logger: Logger;
}

export interface MetricsServer {
  /** The bound port (the ephemeral one when started with port 0). */
  port: number;
  close(): Promise<void>;
}

type Route = "metrics" | "health" | "ready";
const ROUTES: Record<string, Route> = { "/metrics": "metrics", "/health": "health", "/ready": "ready" };
const TEXT = "text/plain; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";

/** Serves GET `/metrics` (Prometheus text format), `/health` and `/ready`; anything else is 404. */
export async function startMetricsServer(
  opts: MetricsServerOpts,
  deps: MetricsServerDeps,
): Promise<MetricsServer> {
  const log = deps.logger.child({ module: "metrics" });
  const checks: Record<Exclude<Route, "metrics">, HealthCheck> = {
    health: deps.health,
    ready: deps.ready ?? deps.health,
  };

  const server = createServer((req, res) => {
    const route = ROUTES[(req.url ?? "/").split("?")[0]];
    if (route === undefined) return send(res, 404, TEXT, "not found\n");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return send(res, 405, TEXT, "method not allowed\n");
    }
    const head = req.method === "HEAD";
    void respond(route).then(({ status, type, body }) => send(res, status, type, head ? "" : body));
  });

  async function respond(route: Route): Promise<{ status: number; type: string; body: string }> {
    if (route === "metrics") {
      try {
        return { status: 200, type: deps.registry.contentType, body: await deps.registry.metrics() };
      } catch (err) {
        log.warn({ err }, "collecting metrics failed");
        return { status: 500, type: TEXT, body: "collecting metrics failed\n" };
      }
    }
    let status: HealthStatus;
    try {
      status = await checks[route]();
    } catch (err) {
      log.warn({ err, route }, "health check failed");
      status = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    return { status: status.ok ? 200 : 503, type: JSON_TYPE, body: `${toJson(status)}\n` };
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  log.info({ host: opts.host, port }, "metrics server listening");

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

/** Health details may carry block numbers as bigint. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v));
}
