import "./polyfill.ts";

export * from "./bootnodes.ts";
export * from "./envelope.ts";
export * from "./flags.ts";
export * from "./gossipValidation.ts";
export * from "./node.ts";
export * from "./peerKey.ts";
export * from "./rateLimit.ts";
export * from "./reqResp.ts";
export * from "./topics.ts";
export * from "./reqServices.ts";
