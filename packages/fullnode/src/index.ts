export { FullNode } from "./node/fullNode.ts";
