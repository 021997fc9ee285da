import { Worker } from "node:worker_threads";
import { type ChainConfig, type ExecutionEngine, chainConfigToJson } from "@staccato/common";
import type { VerifyOutcome } from "./verifyBlock.ts";
import type { VerifyRequest, VerifyResponse, WorkerHeld } from "./verifyWorker.ts";

export type PoolResult =
  | { ok: true; outcome: VerifyOutcome; ms: number; worker: number }
  | { ok: false; bad: boolean; error: string; ms: number; worker: number };

interface Slot {
  worker: Worker;
  busy: boolean;
  index: number;
  /** As the worker reported after its last job. */
  held: WorkerHeld | null;
}

interface Job {
  req: Omit<VerifyRequest, "id">;
  resolve(r: PoolResult): void;
  reject(e: Error): void;
}

/**
 * `size` worker threads verifying blocks in parallel (DESIGN §5). Jobs queue when every worker is
 * busy; each runs on the first free worker, in whatever order they were submitted: no block waits
 * for another. A worker that dies is replaced and its job fails.
 */
export class VerifierPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly running = new Map<number, { job: Job; slot: Slot }>();
  private nextId = 1;
  private closed = false;

  constructor(
    readonly size: number,
    private readonly config: ChainConfig,
    private readonly engine: ExecutionEngine = "reference",
    /** Hears what a worker holds after each job (for metrics). */
    private readonly onHeld: ((worker: number, held: WorkerHeld) => void) | null = null,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn(i));
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  /** What each worker reported holding after its last job. */
  held(): (WorkerHeld | null)[] {
    return this.slots.map((s) => s.held);
  }

  /** Jobs on a worker now. */
  get busy(): number {
    return this.running.size;
  }

  verify(bundle: Uint8Array, expectedHash: Uint8Array | null): Promise<PoolResult> {
    if (this.closed) return Promise.reject(new Error("verifier pool closed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ req: { bundle, expectedHash }, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const j of this.queue.splice(0)) j.reject(new Error("verifier pool closed"));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(index: number): Slot {
    const worker = new Worker(new URL("./verifyWorker.boot.mjs", import.meta.url), {
      workerData: { config: chainConfigToJson(this.config), engine: this.engine },
    });
    const slot: Slot = { worker, busy: false, index, held: null };
    worker.on("message", (r: VerifyResponse) => {
      slot.held = r.held;
      this.onHeld?.(index, r.held);
      const run = this.running.get(r.id);
      if (run === undefined) return;
      this.running.delete(r.id);
      slot.busy = false;
      run.job.resolve(
        r.ok
          ? { ok: true, outcome: r.outcome, ms: r.ms, worker: index }
          : { ok: false, bad: r.bad, error: r.error, ms: r.ms, worker: index },
      );
      this.pump();
    });
    worker.on("error", (err) => this.lost(slot, err));
    worker.on("exit", (code) => {
      if (!this.closed) this.lost(slot, new Error(`verifier worker exited with code ${code}`));
    });
    return slot;
  }

  private lost(slot: Slot, err: Error): void {
    for (const [id, run] of this.running)
      if (run.slot === slot) {
        this.running.delete(id);
        run.job.reject(err);
      }
    if (this.closed) return;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots[i] = this.spawn(slot.index);
    this.pump();
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.busy) continue;
      const job = this.queue.shift()!;
      const id = this.nextId++;
      slot.busy = true;
      this.running.set(id, { job, slot });
      slot.worker.postMessage({ id, ...job.req } satisfies VerifyRequest);
    }
  }
}
