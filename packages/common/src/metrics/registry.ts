import { collectDefaultMetrics, Registry } from "prom-client";

/**
 * One registry per daemon, never prom-client's global one, so several daemons (or tests) can share
 * a process. Node process metrics (CPU, memory, event loop lag, GC) are collected as `staccato_*`.
 * `defaultLabels` are added to every series, e.g. `{ daemon: "sequencer" }`.
 */
export function createRegistry(defaultLabels?: Record<string, string>): Registry {
  const register = new Registry();
  if (defaultLabels) register.setDefaultLabels(defaultLabels);
  collectDefaultMetrics({ register, prefix: "staccato_" });
  return register;
}
