// Worker entry: registers tsx's loader so the TypeScript worker runs from source, as the daemons do.
import { register } from "tsx/esm/api";

register();
await import("./verifyWorker.ts");
