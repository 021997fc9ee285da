export * from "./callTracer.ts";
export * from "./debugTraceApi.ts";
export * from "./prestateTracer.ts";
export * from "./replay.ts";
export * from "./structLogger.ts";
export * from "./traceConfig.ts";
export * from "./traceSession.ts";
