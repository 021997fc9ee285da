// Worker entry: registers the TypeScript loader on this thread, then loads the real worker.
// (On Node 20 a worker does not inherit loader hooks registered with `--import`.)
import { register } from "tsx/esm/api";

register();
await import("./trieWorker.ts");
