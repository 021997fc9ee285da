import type { DaPointer } from "../codec/daCodec.ts";
import type { Logger } from "../log/logger.ts";
import type { P2PNode } from "../p2p/node.ts";
import { askDaHead } from "./daGossip.ts";
import type { DaReader } from "./daReader.ts";

export interface DaHeadPollerOptions {
  /** Time between one poll's end and the next. */
  everyMs: number;
  /** A poll is skipped while a newer pointer was heard (`heard()`) this recently; 0: never skipped. */
  quietMs: number;
  /** How soon after a peer connects the peers are asked. */
  afterConnectMs: number;
}

/**
 * Asks the connected peers for their `da-head` (DESIGN §7) now and then, and whenever a peer
 * connects: a node that no gossip reaches (it joined late, or the sequencer is down) learns so
 * which blocks DA holds. Each valid answer is recorded in the reader; a pointer newer than any it
 * knew goes to `onNew`. One poll runs at a time; `stop()` ends the polling.
 */
export class DaHeadPoller {
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private stopped = true;
  private lastHeardAt = 0;
  private offConnect: (() => void) | null = null;

  constructor(
    private readonly opts: DaHeadPollerOptions,
    private readonly deps: {
      node: P2PNode;
      reader: DaReader;
      log: Logger;
      onNew: (p: DaPointer) => void;
    },
  ) {}

  /** Polls after `everyMs`, and `afterConnectMs` after each peer connects. */
  start(): void {
    this.stopped = false;
    this.offConnect = this.deps.node.onPeer("connect", () => this.schedule(this.opts.afterConnectMs));
    this.schedule(this.opts.everyMs);
  }

  /** A pointer newer than the reader's head was heard (by gossip, or a poll): the next poll may wait. */
  heard(): void {
    this.lastHeardAt = Date.now();
  }

  stop(): void {
    this.stopped = true;
    this.offConnect?.();
    this.offConnect = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      // The poll under way schedules the next one when it ends.
      if (this.polling) return;
      this.polling = true;
      this.pollOnce()
        .catch((err: unknown) => this.deps.log.debug({ err: (err as Error).message }, "da-head pass failed"))
        .finally(() => {
          this.polling = false;
          if (this.timer === null) this.schedule(this.opts.everyMs);
        });
    }, ms);
  }

  private async pollOnce(): Promise<void> {
    const { node, reader, log } = this.deps;
    if (Date.now() - this.lastHeardAt < this.opts.quietMs || node.peers().length === 0) return;
    const p = await askDaHead(node, reader, log);
    if (p !== null && !this.stopped) {
      this.heard();
      this.deps.onNew(p);
    }
  }
}
