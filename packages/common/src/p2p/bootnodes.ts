import "./polyfill.ts";
import type { Connection, Libp2p, PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import type { Logger } from "../log/logger.ts";
import { deadline } from "../util/abort.ts";

/**
 * Keeps a connection open to every bootnode: dials at start, and whenever a bootnode drops
 * (its daemon restarted, the link broke) redials with capped exponential backoff until it is back.
 * `@libp2p/bootstrap` dials once and libp2p's keep-alive reconnect gives up after a few retries,
 * so a full node whose sequencer was down for a minute would never come back on its own.
 */

export interface BootnodeDialerOptions {
  minBackoffMs: number;
  maxBackoffMs: number;
  dialTimeoutMs: number;
}

export const BOOTNODE_DIALER_DEFAULTS: BootnodeDialerOptions = {
  minBackoffMs: 100,
  maxBackoffMs: 2_000,
  dialTimeoutMs: 5_000,
};

/** The peer id in a multiaddr's `/p2p/<id>` component, if it has one. */
export function peerIdOfMultiaddr(ma: Multiaddr): PeerId | undefined {
  const c = ma.getComponents().findLast((x) => x.name === "p2p");
  return c?.value === undefined ? undefined : peerIdFromString(c.value);
}

export class BootnodeDialer {
  private readonly libp2p: Libp2p;
  private readonly addrs: Multiaddr[];
  private readonly opts: BootnodeDialerOptions;
  private readonly log: Logger;
  private controller: AbortController | null = null;
  private loops: Promise<void>[] = [];

  constructor(
    libp2p: Libp2p,
    bootnodes: readonly string[],
    opts: BootnodeDialerOptions,
    deps: { logger: Logger },
  ) {
    this.libp2p = libp2p;
    this.opts = opts;
    this.log = deps.logger.child({ module: "bootnodes" });
    this.addrs = bootnodes
      .map((b) => multiaddr(b))
      .filter((ma) => !peerIdOfMultiaddr(ma)?.equals(libp2p.peerId));
  }

  start(): void {
    if (this.controller !== null) return;
    const controller = new AbortController();
    this.controller = controller;
    this.loops = this.addrs.map((ma) => this.keepConnected(ma, controller.signal));
  }

  async stop(): Promise<void> {
    this.controller?.abort();
    this.controller = null;
    await Promise.all(this.loops);
    this.loops = [];
  }

  private async keepConnected(ma: Multiaddr, signal: AbortSignal): Promise<void> {
    let peer = peerIdOfMultiaddr(ma);
    let backoff = this.opts.minBackoffMs;
    let failures = 0;
    const addr = ma.toString();
    while (!signal.aborted) {
      if (peer !== undefined && this.libp2p.getConnections(peer).length > 0) {
        await this.untilDisconnected(peer, signal);
        backoff = this.opts.minBackoffMs;
        continue;
      }
      let conn: Connection;
      const limit = deadline(this.opts.dialTimeoutMs, signal);
      try {
        conn = await this.libp2p.dial(ma, { signal: limit.signal });
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        // The first failure and then every tenth: a bootnode that is down is not news each second.
        const log = { bootnode: addr, failures, retryMs: backoff, err: (err as Error).message };
        if (failures === 1 || failures % 10 === 0) this.log.info(log, "bootnode dial failed");
        else this.log.debug(log, "bootnode dial failed");
        await sleep(backoff * (0.75 + Math.random() * 0.5), signal);
        backoff = Math.min(backoff * 2, this.opts.maxBackoffMs);
        continue;
      } finally {
        limit.clear();
      }
      peer = conn.remotePeer;
      failures = 0;
      this.log.info({ bootnode: addr, peer: peer.toString() }, "connected to bootnode");
    }
  }

  /** Resolves when `peer` has no connection left, or on abort; re-checks now and then regardless. */
  private untilDisconnected(peer: PeerId, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.libp2p.removeEventListener("peer:disconnect", onDisconnect);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const onDisconnect = (evt: CustomEvent<PeerId>) => {
        if (evt.detail.equals(peer)) done();
      };
      const timer = setTimeout(done, this.opts.maxBackoffMs * 5);
      this.libp2p.addEventListener("peer:disconnect", onDisconnect);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
