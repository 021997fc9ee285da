import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type AddressInfo, createServer as createTcpServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { z } from "zod";
import { DEFAULT_PORTS } from "../config/daemonDefaults.ts";
import type { Logger } from "../log/logger.ts";
import { corsPolicy } from "./cors.ts";
import {
  errorResponse,
  RpcDispatcher,
  type RpcContext,
  type RpcMethods,
  type RpcMetrics,
} from "./dispatch.ts";
import { RpcErrorCode } from "./errors.ts";
import { FastPathConnections } from "./httpFastPath.ts";
import { WsConn } from "./wsConnection.ts";
import type { HealthStatus } from "../metrics/server.ts";

/**
 * JSON-RPC 2.0 over HTTP POST and WebSocket on one port, plus GET /health and /ready, and the
 * dashboard page at GET / for browsers. Plain keep-alive POSTs are read and answered on the
 * socket (httpFastPath.ts); Node's `http` server takes every other request, and the connection
 * it came on.
 */

/** Defaults of the server, which every daemon's `--rpc-*` flags take too (`rpcFlags`). */
export const DEFAULT_RPC_HOST = "127.0.0.1";
export const DEFAULT_RPC_MAX_BODY_BYTES = 5 * 1024 * 1024;
export const DEFAULT_RPC_MAX_BATCH = 1000;
export const DEFAULT_CORS_ORIGINS = "*";

export const rpcServerOptionsSchema = z.object({
  host: z.string().min(1).default(DEFAULT_RPC_HOST),
  /** 0 picks an ephemeral port. */
  port: z.number().int().min(0).max(65535).default(DEFAULT_PORTS.sequencer.rpc),
  /** Cap on an HTTP body and on a WebSocket message. */
  maxBodyBytes: z.number().int().min(1024).default(DEFAULT_RPC_MAX_BODY_BYTES),
  maxBatch: z.number().int().min(1).default(DEFAULT_RPC_MAX_BATCH),
  /** "*", or a comma-separated list of allowed origins ("" disables CORS). */
  corsOrigins: z.string().default(DEFAULT_CORS_ORIGINS),
  maxWsConnections: z.number().int().min(0).default(1000),
  maxJsonDepth: z.number().int().min(2).max(1000).default(64),
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: z.number().int().min(1).default(30_000),
  /** A request's head must arrive within this long of its first byte (else 408). */
  headersTimeoutMs: z.number().int().min(1).default(20_000),
  /** A whole request must arrive within this long of its first byte (else 408). */
  requestTimeoutMs: z.number().int().min(1).default(60_000),
});
export type RpcServerOptions = z.output<typeof rpcServerOptionsSchema>;
export type RpcServerOptionsInput = z.input<typeof rpcServerOptionsSchema>;
export const defaultRpcServerOptions: RpcServerOptions = rpcServerOptionsSchema.parse({});

export type { HealthStatus };

export interface RpcServerDeps {
  logger: Logger;
  methods: RpcMethods;
  metrics?: RpcMetrics | null;
  /** GET /health: 200 when ok, 503 otherwise. Defaults to `{ ok: true }`. */
  health?: () => HealthStatus;
  /** GET /ready; defaults to `health`. */
  ready?: () => HealthStatus;
  /**
   * The page served at `GET /` to a browser (a request whose `Accept` names `text/html`): the
   * dashboard. Built on first use; other requests for `/` keep their JSON 404.
   */
  page?: () => Promise<StaticPage>;
}

/** A self-contained HTML page and the headers it needs (e.g. its Content-Security-Policy). */
export interface StaticPage {
  body: Buffer;
  etag: string;
  headers: Record<string, string>;
}

export interface RpcServer {
  listen(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
  address(): { host: string; port: number };
}

/** After a 413 we keep discarding the client's upload at most this long, then drop the socket. */
const DISCARD_AFTER_413_MS = 2_000;
const CLOSE_GRACE_MS = 1_000;

const HTTP_CTX: RpcContext = Object.freeze({ transport: "http", connection: null });

export function createRpcServer(optsIn: RpcServerOptionsInput, deps: RpcServerDeps): RpcServer {
  const opts = rpcServerOptionsSchema.parse(optsIn);
  const log = deps.logger.child({ module: "rpc" });
  const metrics = deps.metrics ?? null;
  const dispatcher = new RpcDispatcher(
    { maxBatch: opts.maxBatch, maxJsonDepth: opts.maxJsonDepth },
    { logger: log, methods: deps.methods, metrics },
  );
  const cors = corsPolicy(opts.corsOrigins);
  const tooLargeBody = errorResponse(
    null,
    RpcErrorCode.LimitExceeded,
    `request body exceeds the limit of ${opts.maxBodyBytes} bytes`,
  );

  // Node's server never listens: connections come to it from the fast path (handOver).
  const http = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 30_000 }, onRequest);
  http.keepAliveTimeout = opts.keepAliveTimeoutMs;
  http.headersTimeout = opts.headersTimeoutMs;
  http.requestTimeout = opts.requestTimeoutMs;
  const fast = new FastPathConnections(
    {
      maxBodyBytes: opts.maxBodyBytes,
      handle: (body) => dispatcher.handle(body, HTTP_CTX),
      cors: (origin) => cors.headers(origin),
      internalError: errorResponse(null, RpcErrorCode.InternalError, "internal error"),
      handOver,
      onError: (err) => log.error({ err }, "rpc dispatch failed"),
    },
    {
      keepAliveMs: opts.keepAliveTimeoutMs,
      headersMs: opts.headersTimeoutMs,
      requestMs: opts.requestTimeoutMs,
    },
  );
  const tcp = createTcpServer(
    { noDelay: true, keepAlive: true, keepAliveInitialDelay: 30_000, allowHalfOpen: true },
    (socket) => fast.accept(socket),
  );

  /** Node's server takes a connection, with the bytes the fast path read and did not answer. */
  function handOver(socket: Socket, unread: Buffer): void {
    if (unread.length > 0) socket.unshift(unread);
    http.emit("connection", socket);
    socket.resume();
  }

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxBodyBytes,
    perMessageDeflate: false,
  });
  const conns = new Set<WsConn>();
  let wsSeq = 0;
  let listening = false;

  http.on("upgrade", onUpgrade);
  http.on("checkContinue", onCheckContinue);

  // ---- HTTP ----

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    switch (req.method) {
      case "POST":
        readBody(req, res);
        break;
      case "OPTIONS":
        res.writeHead(204, cors.preflight(req.headers.origin));
        res.end();
        break;
      case "GET":
      case "HEAD": {
        const url = req.url ?? "/";
        const q = url.indexOf("?");
        const path = q === -1 ? url : url.slice(0, q);
        if (path === "/health") sendStatus(req, res, deps.health);
        else if (path === "/ready") sendStatus(req, res, deps.ready ?? deps.health);
        else if (path === "/" && deps.page !== undefined && wantsHtml(req)) sendPage(req, res, deps.page);
        else sendJson(req, res, 404, '{"error":"not found"}');
        break;
      }
      default:
        res.setHeader("allow", "POST, GET, OPTIONS");
        res.setHeader("connection", "close");
        sendJson(req, res, 405, '{"error":"method not allowed"}');
    }
  }

  /** `Expect: 100-continue` (curl, for big bodies): refuse an oversized upload before it starts. */
  function onCheckContinue(req: IncomingMessage, res: ServerResponse): void {
    if (req.method === "POST" && Number(req.headers["content-length"]) > opts.maxBodyBytes) {
      tooLarge(req, res);
      return;
    }
    res.writeContinue();
    onRequest(req, res);
  }

  function readBody(req: IncomingMessage, res: ServerResponse): void {
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > opts.maxBodyBytes) {
      tooLarge(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > opts.maxBodyBytes) {
        done = true;
        chunks.length = 0;
        tooLarge(req, res);
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (done) return;
      done = true;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      dispatcher.handle(body, HTTP_CTX).then(
        (out) => respond(req, res, out),
        (err: unknown) => {
          log.error({ err }, "rpc dispatch failed");
          sendJson(req, res, 500, errorResponse(null, RpcErrorCode.InternalError, "internal error"));
        },
      );
    });
    req.on("error", () => {
      done = true; // client went away mid-body
    });
  }

  function respond(req: IncomingMessage, res: ServerResponse, out: string | null): void {
    if (out === null) {
      if (res.destroyed) return;
      res.writeHead(204, cors.headers(req.headers.origin));
      res.end();
      return;
    }
    sendJson(req, res, 200, out);
  }

  /** 413 with a JSON-RPC error, without reading (or buffering) the rest of the upload. */
  function tooLarge(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader("connection", "close");
    sendJson(req, res, 413, tooLargeBody);
    // Keep reading (and dropping) the upload, and only half-close after the response: a socket
    // destroyed with unread bytes sends a reset, which can wipe out the 413 before the client
    // reads it. Node's server destroys a `connection: close` socket right after the response
    // (`destroySoon`); here it just ends its side, and the timer below bounds the discarding.
    req.resume();
    const socket = req.socket;
    (socket as { destroySoon?: () => void }).destroySoon = () => socket.end();
    const timer = setTimeout(() => socket.destroy(), DISCARD_AFTER_413_MS);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  }

  function sendStatus(
    req: IncomingMessage,
    res: ServerResponse,
    check: (() => HealthStatus) | undefined,
  ): void {
    let status: HealthStatus = { ok: true };
    let body: string;
    try {
      if (check !== undefined) status = check();
      body = JSON.stringify(status);
    } catch (err) {
      log.warn({ err }, "health check failed");
      status = { ok: false };
      body = '{"ok":false,"error":"health check failed"}';
    }
    sendJson(req, res, status.ok === true ? 200 : 503, body);
  }

  function sendPage(req: IncomingMessage, res: ServerResponse, page: () => Promise<StaticPage>): void {
    page().then(
      (p) => {
        if (res.destroyed || res.headersSent) return;
        const notModified = req.headers["if-none-match"] === p.etag;
        res.writeHead(notModified ? 304 : 200, {
          ...p.headers,
          etag: p.etag,
          "cache-control": "no-cache",
          ...(notModified ? {} : { "content-length": p.body.length }),
        });
        res.end(notModified || req.method === "HEAD" ? undefined : p.body);
      },
      (err: unknown) => {
        log.error({ err }, "could not build the dashboard page");
        if (res.destroyed || res.headersSent) return;
        const body = `could not build the dashboard page: ${err instanceof Error ? err.message : String(err)}\n`;
        res.writeHead(500, {
          "content-type": "text/plain; charset=utf-8",
          "content-length": Buffer.byteLength(body),
        });
        res.end(req.method === "HEAD" ? undefined : body);
      },
    );
  }

  function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: string): void {
    if (res.destroyed || res.headersSent) return;
    const headers = cors.headers(req.headers.origin);
    headers["content-type"] = "application/json";
    headers["content-length"] = Buffer.byteLength(body);
    res.writeHead(status, headers);
    res.end(body);
  }

  // ---- WebSocket ----

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", onSocketError);
    if (!cors.allows(req.headers.origin)) rejectUpgrade(socket, "403 Forbidden");
    else if (conns.size >= opts.maxWsConnections) rejectUpgrade(socket, "503 Service Unavailable");
    else wss.handleUpgrade(req, socket, head, onWsConnection);
  }

  function onWsConnection(ws: WebSocket): void {
    const conn = new WsConn(String(++wsSeq), ws, dispatcher, log, metrics);
    conns.add(conn);
    metrics?.wsConnections?.(conns.size);
    ws.on("close", () => {
      conns.delete(conn);
      conn.handleClose();
      metrics?.wsConnections?.(conns.size);
    });
  }

  // ---- lifecycle ----

  function address(): { host: string; port: number } {
    const a = tcp.address();
    if (a === null || typeof a === "string") throw new Error("rpc server is not listening");
    return { host: opts.host, port: (a as AddressInfo).port };
  }

  return {
    address,

    listen() {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        tcp.once("error", onError);
        tcp.listen(opts.port, opts.host, () => {
          tcp.off("error", onError);
          tcp.on("error", (err) => log.error({ err }, "rpc server error"));
          // Node's server tracks its connections (idle closing, headers and request timeouts)
          // from its "listening" event, which it never gets on its own here.
          http.emit("listening");
          listening = true;
          const addr = address();
          log.info(addr, "rpc server listening");
          resolve(addr);
        });
      });
    },

    async close() {
      if (!listening) return;
      listening = false;
      for (const c of conns) c.ws.close(1001, "server shutting down");
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          http.closeAllConnections();
          fast.destroyAll();
          for (const c of conns) c.ws.terminate();
        }, CLOSE_GRACE_MS);
        // Resolves once every connection, on either path, has closed.
        tcp.close(() => {
          clearTimeout(force);
          resolve();
        });
        // Stops Node's connection tracking and closes its idle connections (it was never
        // listening itself, so its callback only reports that).
        http.close(() => {});
        fast.closeIdle();
      });
      wss.close();
      log.info("rpc server closed");
    },
  };
}

/** A browser navigating to the page asks for `text/html`; JSON-RPC clients and probes do not. */
function wantsHtml(req: IncomingMessage): boolean {
  return (req.headers.accept ?? "").includes("text/html");
}

function onSocketError(): void {
  // A client resetting its connection is routine; ws and http report what matters.
}

function rejectUpgrade(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
}
