import { Worker } from "node:worker_threads";
import { packBytes, packedTransfer } from "../util/packedBytes.ts";
import { TurnBatch } from "../util/turnBatch.ts";
import type { SenderRequest, SenderResponse } from "./senderWorker.ts";

/**
 * Single requests per worker message. 32 lone requests read in one poll took ~2.7 ms of
 * ecrecover as one message, and none could be answered before all were done.
 */
const LONE_PER_MESSAGE = 8;

/**
 * At most this many single requests read in one poll are left to the caller's thread when no
 * worker is busy (~40 µs each). A worker round trip cost ~90 µs of CPU a request more, across
 * the threads, when single requests arrive a few per poll (ETH transfers, 32 in flight: +9 to
 * +25 % throughput without it); past this many, the workers share them out.
 */
export const LONE_INLINE_MAX = 64;

interface Pending {
  raw: Uint8Array;
  resolve(sender: Uint8Array | null): void;
}

/** Requests sent to a worker in one message, and its answer once it came. */
interface Part {
  pending: Pending[];
  /** The senders (20 bytes each, or null), once the worker answered or was lost. */
  senders: (Uint8Array | null)[] | null;
}

interface Slot {
  worker: Worker;
  /** Parts sent to this worker and not answered yet, by id. */
  waiting: Map<number, Part>;
}

/**
 * Recovers transaction senders (ecrecover, ~40 µs each with the libsecp256k1 addon) on worker threads,
 * off the thread that executes transactions. Calls made in the same turn of the event loop (a
 * JSON-RPC batch) travel to a worker as one message; a lone call waits for the rest of the event
 * loop's phase, so single requests read in one poll are handled together. A few of them, with no
 * worker busy, are answered null at once and recovered by the caller: a worker round trip costs
 * more than the recovery. More travel a few to a message. With several workers a batch is split
 * between them. The answer is the sender's address, or null: the caller then recovers it on its
 * own thread, and its checks name the error if the transaction cannot be decoded or its
 * signature does not recover. A worker that dies is replaced, and what it held resolves to null.
 * Answers are handed back in the order the calls were made, though workers may finish out of
 * order: a sender's transactions then reach the pool in the order they arrived (nonce n is not
 * queued behind n + 1 sent just after it).
 */
export class SenderRecoveryPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new TurnBatch<Pending>((all, lone) => this.flush(all, lone), "phase");
  private nextId = 1;
  private next = 0;
  /** Parts sent and not handed back yet, oldest first. */
  private readonly unanswered: Part[] = [];
  private closed = false;

  constructor(
    readonly size: number,
    private readonly chainId: number,
  ) {
    if (size < 1) throw new Error("a sender recovery pool needs at least one worker");
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  /**
   * The sender of a raw signed transaction, or null: the caller then recovers it itself (see the
   * class comment).
   */
  recover(raw: Uint8Array): Promise<Uint8Array | null> {
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.pending.add({ raw, resolve }));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.pending.take()) p.resolve(null);
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
    for (const s of slots) this.release(s);
  }

  /**
   * `lone`: single requests, each answered on its own. Up to `LONE_INLINE_MAX` of them, with no
   * part outstanding, are answered null for the caller to recover; otherwise they travel
   * `LONE_PER_MESSAGE` to a message so the first are answered while the worker recovers the rest.
   * A batch is answered as a whole, so it travels whole (split only between workers).
   */
  private flush(all: Pending[], lone: boolean): void {
    if (this.closed || all.length === 0) return;
    if (lone && all.length <= LONE_INLINE_MAX && this.unanswered.length === 0) {
      // Nothing is ahead of them, so answering now keeps the order.
      for (const p of all) p.resolve(null);
      return;
    }
    let per = Math.ceil(all.length / this.slots.length);
    if (lone) per = Math.min(per, LONE_PER_MESSAGE);
    for (let i = 0; i < all.length; i += per) {
      const part = all.slice(i, i + per);
      const slot = this.slots[this.next++ % this.slots.length]!;
      const id = this.nextId++;
      const entry: Part = { pending: part, senders: null };
      slot.waiting.set(id, entry);
      this.unanswered.push(entry);
      // One buffer for the whole part, handed over rather than cloned raw by raw.
      const packed = packBytes(part.map((p) => p.raw));
      slot.worker.postMessage({ id, ...packed } satisfies SenderRequest, packedTransfer(packed));
    }
  }

  private spawn(): Slot {
    const worker = new Worker(new URL("./senderWorker.boot.mjs", import.meta.url), {
      workerData: { chainId: this.chainId },
    });
    // The pool must not keep a process alive that has nothing else to do.
    worker.unref();
    const slot: Slot = { worker, waiting: new Map() };
    worker.on("message", (r: SenderResponse) => {
      const part = slot.waiting.get(r.id);
      if (part === undefined) return;
      slot.waiting.delete(r.id);
      part.senders = part.pending.map((_, i) =>
        r.ok[i] === 1 ? r.senders.subarray(20 * i, 20 * i + 20) : null,
      );
      this.handBack();
    });
    // "error" is followed by "exit": replace the worker once.
    const lost = () => {
      this.release(slot);
      const i = this.slots.indexOf(slot);
      if (this.closed || i < 0) return;
      this.slots[i] = this.spawn();
    };
    worker.on("error", lost);
    worker.on("exit", lost);
    return slot;
  }

  private release(slot: Slot): void {
    for (const part of slot.waiting.values()) part.senders = part.pending.map(() => null);
    slot.waiting.clear();
    this.handBack();
  }

  /** Resolves the answered parts at the head of `unanswered`, in the order they were sent. */
  private handBack(): void {
    while (this.unanswered.length > 0 && this.unanswered[0]!.senders !== null) {
      const part = this.unanswered.shift()!;
      for (let i = 0; i < part.pending.length; i++) part.pending[i]!.resolve(part.senders![i]!);
    }
  }
}
