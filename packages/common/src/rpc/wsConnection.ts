import type { RawData, WebSocket } from "ws";
import type { Logger } from "../log/logger.ts";
import type { RpcContext, RpcDispatcher, RpcMetrics, WsConnection } from "./dispatch.ts";

/** Past this many queued bytes a WebSocket client is not keeping up: notifications are dropped. */
const WS_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Requests in flight per WebSocket before we stop reading from it. */
const WS_MAX_INFLIGHT = 256;

/** One WebSocket client: feeds messages to the dispatcher, queues responses and notifications. */
export class WsConn implements WsConnection {
  closed = false;
  /** Notifications dropped because the client was not reading. */
  dropped = 0;
  private inflight = 0;
  private closeCbs: (() => void)[] = [];
  private readonly ctx: RpcContext;

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    private readonly dispatcher: RpcDispatcher,
    private readonly log: Logger,
    private readonly metrics: RpcMetrics | null,
  ) {
    this.ctx = { transport: "ws", connection: this };
    ws.on("message", (data) => this.onMessage(data));
    ws.on("error", (err) => log.debug({ conn: id, err: err.message }, "ws connection error"));
  }

  send(notification: object | string): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > WS_MAX_BUFFERED_BYTES) {
      if (this.dropped++ === 0)
        this.log.warn({ conn: this.id }, "ws client not reading, dropping notifications");
      this.metrics?.wsNotificationDropped?.();
      return;
    }
    let json: string;
    try {
      json = typeof notification === "string" ? notification : JSON.stringify(notification);
    } catch (err) {
      this.log.error({ conn: this.id, err }, "ws notification not serializable");
      return;
    }
    this.ws.send(json);
  }

  onClose(cb: () => void): void {
    if (this.closed) queueMicrotask(() => this.runCloseCb(cb));
    else this.closeCbs.push(cb);
  }

  handleClose(): void {
    if (this.closed) return;
    this.closed = true;
    const cbs = this.closeCbs;
    this.closeCbs = [];
    for (const cb of cbs) this.runCloseCb(cb);
  }

  private runCloseCb(cb: () => void): void {
    try {
      cb();
    } catch (err) {
      this.log.error({ conn: this.id, err }, "ws close callback failed");
    }
  }

  private onMessage(data: RawData): void {
    const buf = Buffer.isBuffer(data)
      ? data
      : Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.from(data as ArrayBuffer);
    if (++this.inflight === WS_MAX_INFLIGHT) this.ws.pause();
    this.dispatcher.handle(buf, this.ctx).then(
      (out) => this.onResponse(out),
      (err: unknown) => {
        this.log.error({ conn: this.id, err }, "rpc dispatch failed");
        this.onResponse(null);
      },
    );
  }

  private onResponse(out: string | null): void {
    if (this.inflight-- === WS_MAX_INFLIGHT && !this.closed) this.ws.resume();
    if (out === null || this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > WS_MAX_BUFFERED_BYTES) {
      // Responses cannot be dropped silently: a client this far behind is cut off.
      this.log.warn({ conn: this.id }, "ws client not reading responses, closing");
      this.ws.terminate();
      return;
    }
    this.ws.send(out);
  }
}
