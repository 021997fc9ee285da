import { getHeapStatistics } from "node:v8";
import { parentPort, workerData } from "node:worker_threads";
import { type ChainConfig, type ExecutionEngine, createEthCommon, parseChainConfig } from "@staccato/common";
import { BadBundleError, type VerifyOutcome, verifyBundle } from "./verifyBlock.ts";

export interface VerifyRequest {
  id: number;
  bundle: Uint8Array;
  expectedHash: Uint8Array | null;
}

/** What a worker holds after a job: its V8 heap, and the EVMs still subscribed to its `Common`. */
export interface WorkerHeld {
  heapUsedBytes: number;
  commonListeners: number;
}

export type VerifyResponse = (
  | { id: number; ok: true; outcome: VerifyOutcome; ms: number }
  | { id: number; ok: false; bad: boolean; error: string; ms: number }
) & { held: WorkerHeld };

// Every EVM built for a block used to stay subscribed here, with its block's witness (issue 14).
const held = (): WorkerHeld => ({
  heapUsedBytes: getHeapStatistics().used_heap_size,
  commonListeners: common.events.listenerCount("hardforkChanged"),
});

// One block at a time per worker; the pool runs one worker per core (DESIGN §5).
const config: ChainConfig = parseChainConfig(JSON.parse(workerData.config as string), "chain config");
const common = createEthCommon(config);
const engine: ExecutionEngine = workerData.engine === "fast" ? "fast" : "reference";

// ethereumjs can surface a storage error as an unhandled rejection (FACTS "Witness"): report it
// instead of dying, the block's own promise carries the failure.
process.on("unhandledRejection", () => {});

parentPort!.on("message", async (req: VerifyRequest) => {
  const started = performance.now();
  try {
    const outcome = await verifyBundle(req.bundle, {
      config,
      common,
      expectedHash: req.expectedHash,
      engine,
    });
    parentPort!.postMessage({
      id: req.id,
      ok: true,
      outcome,
      ms: performance.now() - started,
      held: held(),
    } satisfies VerifyResponse);
  } catch (err) {
    parentPort!.postMessage({
      id: req.id,
      ok: false,
      bad: err instanceof BadBundleError,
      error: (err as Error).message ?? String(err),
      ms: performance.now() - started,
      held: held(),
    } satisfies VerifyResponse);
  }
});
