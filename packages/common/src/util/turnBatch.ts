/**
 * Collects what is handed over in one turn of the event loop (e.g. the requests of one JSON-RPC
 * batch, prepared one after the other) and passes it on as one list, in order, once that turn's
 * synchronous code is done.
 *
 * `"phase"`: a turn that handed over a single item waits longer, until the event loop's current
 * phase is over (`setImmediate`), so what many I/O callbacks hand over in one poll (single
 * JSON-RPC requests read from many connections at once) also travels as one list; a turn that
 * handed over several (a batch) is flushed at once, as with `"turn"`. Use it where each flush has
 * a fixed cost worth sharing, as a message to a worker thread has.
 */
export class TurnBatch<T> {
  private items: T[] = [];

  constructor(
    /** `lone`: the items came from turns that handed over one each (only in `"phase"` mode). */
    private readonly flush: (items: T[], lone: boolean) => void,
    private readonly until: "turn" | "phase" = "turn",
  ) {}

  add(item: T): void {
    this.items.push(item);
    if (this.items.length !== 1) return;
    queueMicrotask(() => {
      if (this.until === "turn" || this.items.length > 1) this.flush(this.take(), false);
      else setImmediate(() => this.flush(this.take(), true));
    });
  }

  /** Takes what is waiting now (it is then not flushed). */
  take(): T[] {
    const all = this.items;
    this.items = [];
    return all;
  }
}
