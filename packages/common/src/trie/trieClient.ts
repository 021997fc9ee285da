import { Worker } from "node:worker_threads";
import { orderedTrieRoot } from "../chain/orderedTrie.ts";
import { type PackedBytes, packBytes, packedTransfer } from "../util/packedBytes.ts";
import { packDiff } from "../state/diffTransfer.ts";
import type { StateDiff } from "../state/stateDiff.ts";
import {
  type AccountProof,
  type StateRewind,
  StateTrie,
  TrieMovedError,
  type WitnessReads,
} from "./stateTrie.ts";

export type TrieRequest =
  | { kind: "add"; packed: Uint8Array[] }
  | { kind: "commit"; id: number; reads?: WitnessReads }
  | { kind: "proof"; id: number; address: Uint8Array; slots: Uint8Array[] }
  | { kind: "proofAt"; id: number; address: Uint8Array; slots: Uint8Array[]; rewind: StateRewind }
  | { kind: "orderedRoots"; id: number; lists: PackedBytes[] };

export type TrieResponse =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string; moved?: Uint8Array };

/** What a commit returns: the root, its cost, and the witness nodes when reads were given. */
export interface CommitResult {
  root: Uint8Array;
  ms: number;
  witness?: Uint8Array[];
}

/** The state trie's interface as the node sees it, whichever thread it lives on. */
export interface StateTrieHandle {
  add(diff: StateDiff): void;
  /** The root over every diff added so far; with `reads`, also the block's witness nodes. */
  commit(reads?: WitnessReads): Promise<CommitResult>;
  proof(address: Uint8Array, slots: Uint8Array[]): Promise<AccountProof>;
  /** The proof against an older block's state (`StateTrie.proofAt`). */
  proofAt(address: Uint8Array, slots: Uint8Array[], rewind: StateRewind): Promise<AccountProof>;
  /**
   * `orderedTrieRoot` of each list (a block's transactions and receipts), on the trie's thread:
   * ~3-9 µs a transaction that the sequencer's execution thread would otherwise spend at each seal.
   */
  orderedRoots(lists: readonly (readonly Uint8Array[])[]): Promise<Uint8Array[]>;
  close(): Promise<void>;
}

/** Mini-block diffs sent to the trie worker per message (a block's are all sent by its commit). */
const ADD_BATCH = 16;

/** Runs the state trie on a worker thread. Requests are answered in the order they were sent. */
export class WorkerStateTrie implements StateTrieHandle {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private failed: Error | null = null;
  private queued: Uint8Array<ArrayBuffer>[] = [];

  constructor() {
    this.worker = new Worker(new URL("./trieWorker.boot.mjs", import.meta.url));
    this.worker.on("message", (r: TrieResponse) => {
      const w = this.waiting.get(r.id);
      if (w === undefined) return;
      this.waiting.delete(r.id);
      if (r.ok) w.resolve(r.value);
      else if (r.moved !== undefined) w.reject(new TrieMovedError(r.moved));
      else w.reject(new Error(`state trie worker: ${r.error}`));
    });
    this.worker.on("error", (err) => this.fail(err));
    this.worker.on("exit", (code) => {
      if (code !== 0) this.fail(new Error(`state trie worker exited with code ${code}`));
    });
  }

  add(diff: StateDiff): void {
    if (this.failed !== null) throw this.failed;
    // Packed and transferred: cloning the diff's many small arrays cost the caller's thread more.
    this.queued.push(packDiff(diff));
    if (this.queued.length >= ADD_BATCH) this.sendQueued();
  }

  commit(reads?: WitnessReads): Promise<CommitResult> {
    this.sendQueued();
    return this.request({ kind: "commit", id: this.nextId++, reads }) as Promise<CommitResult>;
  }

  /**
   * Diffs travel in groups: the trie only queues them until the next commit, and each message
   * wakes the worker thread, which costs the sender's thread more than the message itself.
   */
  private sendQueued(): void {
    if (this.queued.length === 0 || this.failed !== null) return;
    const packed = this.queued;
    this.queued = [];
    this.worker.postMessage(
      { kind: "add", packed } satisfies TrieRequest,
      packed.map((p) => p.buffer),
    );
  }

  proof(address: Uint8Array, slots: Uint8Array[]): Promise<AccountProof> {
    return this.request({ kind: "proof", id: this.nextId++, address, slots }) as Promise<AccountProof>;
  }

  proofAt(address: Uint8Array, slots: Uint8Array[], rewind: StateRewind): Promise<AccountProof> {
    const msg = { kind: "proofAt" as const, id: this.nextId++, address, slots, rewind };
    return this.request(msg) as Promise<AccountProof>;
  }

  orderedRoots(lists: readonly (readonly Uint8Array[])[]): Promise<Uint8Array[]> {
    const packed = lists.map(packBytes);
    return this.request(
      { kind: "orderedRoots", id: this.nextId++, lists: packed },
      packed.flatMap(packedTransfer),
    ) as Promise<Uint8Array[]>;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
    this.fail(new Error("state trie closed"));
  }

  private request(msg: TrieRequest & { id: number }, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.failed !== null) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiting.set(msg.id, { resolve, reject });
      this.worker.postMessage(msg, transfer);
    });
  }

  private fail(err: Error): void {
    this.failed = err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}

/** The same interface on the calling thread (tests, tools). */
export class InlineStateTrie implements StateTrieHandle {
  private readonly trie = new StateTrie();
  private queue: Promise<unknown> = Promise.resolve();

  add(diff: StateDiff): void {
    this.trie.add(diff);
  }
  commit(reads?: WitnessReads): Promise<CommitResult> {
    return this.enqueue(async () => {
      const started = performance.now();
      const root = await this.trie.commit(reads);
      const ms = performance.now() - started;
      return reads === undefined ? { root, ms } : { root, ms, witness: this.trie.takeWitness() };
    });
  }
  proof(address: Uint8Array, slots: Uint8Array[]): Promise<AccountProof> {
    return this.enqueue(() => this.trie.proof(address, slots));
  }
  proofAt(address: Uint8Array, slots: Uint8Array[], rewind: StateRewind): Promise<AccountProof> {
    return this.enqueue(async () => this.trie.proofAt(address, slots, rewind));
  }
  async orderedRoots(lists: readonly (readonly Uint8Array[])[]): Promise<Uint8Array[]> {
    return lists.map(orderedTrieRoot);
  }
  async close(): Promise<void> {}

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }
}
