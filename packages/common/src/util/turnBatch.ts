/**
 * Collects what is handed over in one turn of the event loop (e.g. the requests of one JSON-RPC
 * batch, prepared one after the other) and passes it on as one list, in order, once that turn's
 * synchronous code is done.
 */
export class TurnBatch<T> {
  private items: T[] = [];

  constructor(private readonly flush: (items: T[]) => void) {}

  add(item: T): void {
    this.items.push(item);
    if (this.items.length === 1) queueMicrotask(() => this.flush(this.take()));
  }

  /** Takes what is waiting now (it is then not flushed). */
  take(): T[] {
    const all = this.items;
    this.items = [];
    return all;
  }
}
