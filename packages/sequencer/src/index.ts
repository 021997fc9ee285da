/** The sequencer as a library: its node, flags, and the readers of what it writes to disk. */
export * from "./node/options.ts";
export * from "./node/sequencerNode.ts";
export { readDaIndex } from "./da/daIndex.ts";
