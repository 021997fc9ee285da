// Worker entry: registers tsx's loader so the TypeScript worker runs from source, as the daemons do.
// (On Node 20 a worker does not inherit loader hooks registered with `--import`.)
import { register } from "tsx/esm/api";

register();
await import("./senderWorker.ts");
