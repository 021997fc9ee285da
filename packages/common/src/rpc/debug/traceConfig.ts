import { z } from "zod";
import { invalidParams } from "../errors.ts";
import { CallTracer } from "./callTracer.ts";
import { PrestateTracer } from "./prestateTracer.ts";
import { StructLogger } from "./structLogger.ts";
import { TRACE_LIMITS, type TraceBudget, type Tracer } from "./traceSession.ts";

/** The tracers served; the struct logger is the default (no `tracer`). */
export const SUPPORTED_TRACERS = ["callTracer", "prestateTracer"] as const;

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;

/** A Go duration string ("5s", "300ms", "1m30s", "1.5s"), as geth's `timeout`, in milliseconds. */
export function parseGoDuration(s: string): number | undefined {
  if (s.length === 0 || s.length > 64) return undefined;
  DURATION_PART.lastIndex = 0;
  let ms = 0;
  let pos = 0;
  for (let m = DURATION_PART.exec(s); m !== null; m = DURATION_PART.exec(s)) {
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = DURATION_PART.lastIndex;
  }
  return pos === s.length && Number.isFinite(ms) ? ms : undefined;
}

const flag = z.boolean("expected boolean").optional();

/**
 * geth's TraceConfig (debug_traceTransaction's second param, debug_traceCall's third): the struct
 * logger's options at the top level, or `tracer` with its `tracerConfig`; `timeout`. Unknown
 * members are ignored, as geth does.
 */
export const traceConfigSchema = z
  .looseObject({
    tracer: z.string("expected a tracer name").optional(),
    tracerConfig: z.looseObject({}, "expected an object").optional(),
    timeout: z
      .string('expected a duration such as "5s" or "500ms"')
      .transform((v, ctx) => {
        const ms = parseGoDuration(v);
        if (ms === undefined || ms <= 0) {
          ctx.addIssue({ code: "custom", message: `invalid duration "${v}": expected e.g. "5s" or "500ms"` });
          return z.NEVER;
        }
        if (ms > TRACE_LIMITS.maxTimeoutMs) {
          ctx.addIssue({
            code: "custom",
            message: `timeout ${v} is above this node's bound of ${TRACE_LIMITS.maxTimeoutMs / 1000}s`,
          });
          return z.NEVER;
        }
        return ms;
      })
      .optional(),
    disableStack: flag,
    disableStorage: flag,
    enableMemory: flag,
    enableReturnData: flag,
    limit: z.number("expected a number").int().min(0).optional(),
    reexec: z.number().int().min(0).optional(),
  })
  .describe("traceConfig");
export type TraceConfig = z.output<typeof traceConfigSchema>;

const callConfig = z.looseObject({ onlyTopCall: flag, withLog: flag });
const prestateConfig = z.looseObject({
  diffMode: flag,
  disableCode: flag,
  disableStorage: flag,
  includeEmpty: flag,
});

/**
 * Checks the tracer name and its config up front (a -32602 naming the param), and returns what
 * builds a fresh tracer for each transaction.
 */
export function tracerFactory(
  config: TraceConfig | undefined,
  paramIndex: number,
): (budget: TraceBudget) => Tracer {
  const c = config ?? {};
  const where = `param ${paramIndex} (traceConfig)`;
  if (c.tracer === undefined || c.tracer === "" || c.tracer === "structLogger") {
    const opts = {
      disableStack: c.disableStack === true,
      disableStorage: c.disableStorage === true,
      enableMemory: c.enableMemory === true,
      enableReturnData: c.enableReturnData === true,
      limit: c.limit ?? 0,
    };
    return (budget) => new StructLogger(opts, budget);
  }
  if (c.tracer === "callTracer") {
    const parsed = callConfig.safeParse(c.tracerConfig ?? {});
    if (!parsed.success) throw invalidParams(`${where}.tracerConfig: ${parsed.error.issues[0]?.message}`);
    const opts = { onlyTopCall: parsed.data.onlyTopCall === true, withLog: parsed.data.withLog === true };
    return (budget) => new CallTracer(opts, budget);
  }
  if (c.tracer === "prestateTracer") {
    const parsed = prestateConfig.safeParse(c.tracerConfig ?? {});
    if (!parsed.success) throw invalidParams(`${where}.tracerConfig: ${parsed.error.issues[0]?.message}`);
    if (parsed.data.includeEmpty === true)
      throw invalidParams(`${where}.tracerConfig.includeEmpty: not supported by this node`);
    const opts = {
      diffMode: parsed.data.diffMode === true,
      disableCode: parsed.data.disableCode === true,
      disableStorage: parsed.data.disableStorage === true,
    };
    return (budget) => new PrestateTracer(opts, budget);
  }
  const shown = c.tracer.length > 64 ? `${c.tracer.slice(0, 64)}…` : c.tracer;
  throw invalidParams(
    `${where}.tracer: unsupported tracer "${shown}": this node serves ${SUPPORTED_TRACERS.join(", ")} and the default struct logger (no "tracer"); JavaScript tracers are not supported`,
  );
}

/** The per-transaction timeout a config asks for (geth's default 5 s). */
export function timeoutOf(config: TraceConfig | undefined): number {
  return config?.timeout ?? TRACE_LIMITS.defaultTimeoutMs;
}
