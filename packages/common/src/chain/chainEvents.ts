import type { SignedMiniBlock } from "../types/chain.ts";
import type { ChainBlock, TxEntry } from "./chainStore.ts";

export interface ChainEventMap {
  miniBlock: { block: ChainBlock; miniBlock: SignedMiniBlock; txs: TxEntry[] };
  block: ChainBlock;
  /** A transaction accepted for inclusion (the sequencer's pool, or forwarded by a full node). */
  pendingTx: { hashHex: string };
}

type Listener<T> = (event: T) => void;

/** In-process fan-out of chain events to subscriptions, filters and waiting sync sends. */
export class ChainEvents {
  private readonly listeners: { [K in keyof ChainEventMap]: Set<Listener<ChainEventMap[K]>> } = {
    miniBlock: new Set(),
    block: new Set(),
    pendingTx: new Set(),
  };

  on<K extends keyof ChainEventMap>(kind: K, fn: Listener<ChainEventMap[K]>): () => void {
    this.listeners[kind].add(fn);
    return () => this.listeners[kind].delete(fn);
  }

  emit<K extends keyof ChainEventMap>(kind: K, event: ChainEventMap[K]): void {
    for (const fn of this.listeners[kind]) fn(event);
  }

  count(kind: keyof ChainEventMap): number {
    return this.listeners[kind].size;
  }
}
