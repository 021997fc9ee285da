import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { RpcMetrics } from "../rpc/dispatch.ts";

/**
 * The JSON-RPC server's metrics, the same on every daemon that serves RPC (sequencer, full node,
 * prover with `--rpc-port`): pass one as `createRpcServer`'s `metrics`.
 */
export class RpcServerMetrics implements RpcMetrics {
  private readonly requestSeconds: Histogram<"method">;
  private readonly connections: Gauge;
  private readonly dropped: Counter;

  constructor(registry: Registry) {
    const r = [registry];
    this.requestSeconds = new Histogram({
      name: "staccato_rpc_request_duration_seconds",
      help: "JSON-RPC request latency by method (unknown: a method this node does not serve)",
      labelNames: ["method"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
      registers: r,
    });
    this.connections = new Gauge({
      name: "staccato_rpc_ws_connections",
      help: "Open JSON-RPC WebSocket connections",
      registers: r,
    });
    this.dropped = new Counter({
      name: "staccato_rpc_ws_notifications_dropped_total",
      help: "WebSocket notifications dropped because the client was not reading (send buffer full)",
      registers: r,
    });
  }

  observe(method: string, seconds: number): void {
    this.requestSeconds.observe({ method }, seconds);
  }

  wsConnections(n: number): void {
    this.connections.set(n);
  }

  wsNotificationDropped(): void {
    this.dropped.inc();
  }
}
