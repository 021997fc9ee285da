export * from "./addressIndex.ts";
export * from "./otsApi.ts";
