export * from "./backend.ts";
export * from "./ethApi.ts";
export * from "./format.ts";
export * from "./realtimeApi.ts";
export * from "./subscriptionApi.ts";
export * from "./finalityApi.ts";
