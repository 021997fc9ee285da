export * from "./node/options.ts";
export * from "./node/proverNode.ts";
export * from "./validation/verifyBlock.ts";
export * from "./witness/witnessState.ts";
export { VerifierPool } from "./validation/workerPool.ts";
