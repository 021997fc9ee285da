import "./polyfill.ts";
import { setMaxListeners } from "node:events";
import type { PeerId, Stream, StreamHandler, StreamHandlerOptions } from "@libp2p/interface";
import { type LengthPrefixedStream, lpStream } from "@libp2p/utils";
import type { Multiaddr } from "@multiformats/multiaddr";
import type { Logger } from "../log/logger.ts";
import { deadline } from "../util/abort.ts";
import { TokenBucketLimiter } from "./rateLimit.ts";
import {
  CODE_FRAMES,
  concat,
  END,
  MAX_REASON_BYTES,
  type ReqRespCode,
  ReqRespError,
  readCode,
  readReason,
  toClientError,
  utf8,
} from "./reqRespWire.ts";

export { ReqRespCode, ReqRespError, ReqRespErrorCode } from "./reqRespWire.ts";

/**
 * Request/response over libp2p streams, one stream per request: per-peer rate limit, size caps
 * and a timeout on both sides. The framing is in reqRespWire.ts.
 */

export interface ReqHandlerContext {
  peer: PeerId;
  /** Aborted when the handler's `timeoutMs` runs out or the node stops. */
  signal: AbortSignal;
}

/** What a handler returns to refuse a request. */
export interface ReqFailure {
  code: "unavailable" | "invalid";
  message?: string;
}

/** A body, a stream of chunks (each ≤ the response cap, all together too), or a refusal. */
export type ReqHandlerResult = Uint8Array | AsyncIterable<Uint8Array> | ReqFailure;
export type ReqHandler = (
  body: Uint8Array,
  ctx: ReqHandlerContext,
) => ReqHandlerResult | Promise<ReqHandlerResult>;

export interface ReqHandleOptions {
  /** Largest request body accepted; bigger ones are answered `invalid`. */
  maxRequestBytes: number;
  /** Largest response (all chunks together) this handler may send; a handler past it is a bug. */
  maxResponseBytes: number;
  rateLimit: { perPeerPerSecond: number; burst: number };
  /** The whole exchange: reading the request, the handler, writing every chunk. */
  timeoutMs: number;
  /**
   * Requests served at once on this protocol, over all peers (default 64); past it a request is
   * answered `rate-limited` at once, without running the handler.
   */
  maxInboundStreams?: number;
}

export interface RequestOptions {
  timeoutMs: number;
  maxResponseBytes: number;
  signal?: AbortSignal;
}

export interface RequestStreamOptions {
  /** Covers the whole exchange, including the time the consumer spends on each chunk. */
  timeoutMs: number;
  maxChunkBytes: number;
  maxTotalBytes?: number;
  signal?: AbortSignal;
}

export interface ReqResult {
  code: ReqRespCode;
  /** The response body for `ok`; the UTF-8 reason (maybe empty) otherwise. */
  body: Uint8Array;
}

export type ReqStreamResult =
  | { code: "ok"; chunks: AsyncIterable<Uint8Array> }
  | { code: Exclude<ReqRespCode, "ok">; body: Uint8Array };

/** The part of libp2p that req/resp needs (a `Libp2p` is one). */
export interface StreamHost {
  handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>;
  unhandle(protocol: string): Promise<void>;
  dialProtocol(
    peer: PeerId | Multiaddr,
    protocol: string,
    options?: { signal?: AbortSignal },
  ): Promise<Stream>;
}

interface OpenedStream {
  stream: Stream;
  lp: LengthPrefixedStream<Stream>;
  /** Drops the abort-on-signal listener once the exchange is over. */
  release: () => void;
}

/** yamux lets a peer have up to its stream window (4 MiB, see node.ts) in flight past what we read. */
const READ_SLACK_BYTES = 8 * 1024 * 1024;
/** Requests served at once per protocol when the handler's options do not say. */
const DEFAULT_MAX_SERVED = 64;
/**
 * Open streams libp2p lets one connection have on one protocol. Past it libp2p resets the stream
 * before any handler sees it, so this is set far above what is served at once: a refusal costs one
 * byte and a round trip, and every request a flooding peer makes under this many at once is
 * answered `rate-limited` (yamux resets past 1,000 streams per connection, whatever the protocol).
 */
const MAX_OPEN_STREAMS_PER_CONNECTION = 256;

/** One handled protocol: its per-peer token buckets and how many of its requests are being served. */
interface Served {
  limiter: TokenBucketLimiter;
  maxServed: number;
  serving: number;
}

export class ReqResp {
  private readonly host: StreamHost;
  private readonly log: Logger;
  private readonly handled = new Map<string, Served>();
  /** Aborts every exchange in flight at close: each links its deadline to it. */
  private closing = unboundedController();

  constructor(host: StreamHost, deps: { logger: Logger }) {
    this.host = host;
    this.log = deps.logger.child({ module: "reqresp" });
  }

  /** Serves `protocol`. One handler per protocol; a second call replaces the first. */
  async handle(protocol: string, handler: ReqHandler, opts: ReqHandleOptions): Promise<void> {
    const served: Served = {
      limiter: new TokenBucketLimiter(opts.rateLimit.perPeerPerSecond, opts.rateLimit.burst),
      maxServed: opts.maxInboundStreams ?? DEFAULT_MAX_SERVED,
      serving: 0,
    };
    this.handled.set(protocol, served);
    // libp2p's own per-protocol stream limit resets streams past it, before `serve` can answer
    // them: it is kept well above what is served at once, so a peer asking too fast or too much at
    // once is told `rate-limited` (and backs off) instead of seeing its streams reset.
    await this.host.handle(
      protocol,
      (stream, connection) => {
        void this.serve(protocol, handler, opts, served, stream, connection.remotePeer);
      },
      {
        maxInboundStreams: Math.max(MAX_OPEN_STREAMS_PER_CONNECTION, served.maxServed),
        force: true,
      },
    );
  }

  async unhandle(protocol: string): Promise<void> {
    this.handled.delete(protocol);
    await this.host.unhandle(protocol);
  }

  /** Aborts in-flight handlers and client requests (the node calls it on stop; it can start again). */
  close(): void {
    this.closing.abort(new Error("req/resp closed"));
    this.closing = unboundedController();
  }

  /** One request, one response held in memory (≤ `maxResponseBytes`). */
  async request(
    peer: PeerId | Multiaddr,
    protocol: string,
    body: Uint8Array,
    opts: RequestOptions,
  ): Promise<ReqResult> {
    const limit = deadline(opts.timeoutMs, this.closing.signal, opts.signal);
    const signal = limit.signal;
    let opened: OpenedStream;
    try {
      opened = await this.open(peer, protocol, body, opts.maxResponseBytes, signal);
    } catch (err) {
      limit.clear();
      throw err;
    }
    const { stream, lp, release } = opened;
    try {
      const refused = await readRefusal(stream, lp, protocol, signal);
      if (refused !== null) return refused;
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const chunk = (await lp.read({ signal })).subarray();
        if (chunk.length === 0) break;
        total += chunk.length;
        if (total > opts.maxResponseBytes) {
          throw new ReqRespError("too-large", protocol, `response exceeds ${opts.maxResponseBytes} bytes`);
        }
        chunks.push(chunk);
      }
      await closeQuietly(stream);
      return { code: "ok", body: chunks.length === 1 ? chunks[0] : concat(chunks, total) };
    } catch (err) {
      const e = toClientError(err, protocol, signal);
      stream.abort(e);
      throw e;
    } finally {
      release();
      limit.clear();
    }
  }

  /**
   * A request whose response arrives as chunks (each ≤ `maxChunkBytes`). The stream is paused while
   * the consumer holds a chunk, so a slow consumer slows the server instead of filling memory.
   * Breaking out of the loop aborts the stream.
   */
  async requestStream(
    peer: PeerId | Multiaddr,
    protocol: string,
    body: Uint8Array,
    opts: RequestStreamOptions,
  ): Promise<ReqStreamResult> {
    const limit = deadline(opts.timeoutMs, this.closing.signal, opts.signal);
    const signal = limit.signal;
    let opened: OpenedStream;
    try {
      opened = await this.open(peer, protocol, body, opts.maxChunkBytes, signal);
    } catch (err) {
      limit.clear();
      throw err;
    }
    const { stream, lp, release } = opened;
    try {
      const refused = await readRefusal(stream, lp, protocol, signal);
      if (refused !== null) {
        release();
        limit.clear();
        return refused;
      }
    } catch (err) {
      release();
      limit.clear();
      const e = toClientError(err, protocol, signal);
      stream.abort(e);
      throw e;
    }
    const maxTotal = opts.maxTotalBytes ?? Number.POSITIVE_INFINITY;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      let total = 0;
      let done = false;
      try {
        for (;;) {
          setPaused(stream, false);
          const chunk = (await lp.read({ signal })).subarray();
          if (chunk.length === 0) break;
          total += chunk.length;
          if (total > maxTotal)
            throw new ReqRespError("too-large", protocol, `response exceeds ${maxTotal} bytes`);
          setPaused(stream, true);
          yield chunk;
        }
        done = true;
        await closeQuietly(stream);
      } catch (err) {
        const e = toClientError(err, protocol, signal);
        stream.abort(e);
        throw e;
      } finally {
        release();
        limit.clear();
        if (!done && stream.status === "open") stream.abort(new Error("response abandoned by the consumer"));
      }
    }
    return { code: "ok", chunks: chunks() };
  }

  private async open(
    peer: PeerId | Multiaddr,
    protocol: string,
    body: Uint8Array,
    maxFrameBytes: number,
    signal: AbortSignal,
  ): Promise<OpenedStream> {
    let stream: Stream;
    try {
      stream = await this.host.dialProtocol(peer, protocol, { signal });
    } catch (err) {
      if (signal.aborted) throw toClientError(err, protocol, signal);
      throw new ReqRespError("dial-failed", protocol, (err as Error).message);
    }
    const lp = lpStream(stream, {
      maxDataLength: Math.max(maxFrameBytes, MAX_REASON_BYTES),
      maxBufferSize: maxFrameBytes + READ_SLACK_BYTES,
    });
    // Whatever the caller does with the stream (even never reading it), it dies with the signal.
    const onAbort = () => stream.abort(toClientError(signal.reason, protocol, signal));
    signal.addEventListener("abort", onAbort, { once: true });
    const release = () => signal.removeEventListener("abort", onAbort);
    try {
      await lp.write(body, { signal });
      await stream.close({ signal });
    } catch (err) {
      release();
      const e = toClientError(err, protocol, signal);
      stream.abort(e);
      throw e;
    }
    return { stream, lp, release };
  }

  private async serve(
    protocol: string,
    handler: ReqHandler,
    opts: ReqHandleOptions,
    served: Served,
    stream: Stream,
    peer: PeerId,
  ): Promise<void> {
    const limit = deadline(opts.timeoutMs, this.closing.signal);
    const signal = limit.signal;
    // A stream still open when the exchange's time is up (a peer that never closes its side of a
    // refused request) is reset, so it does not count against the connection's stream limit forever.
    const onAbort = () => stream.abort(new Error("req/resp exchange timed out"));
    signal.addEventListener("abort", onAbort, { once: true });
    stream.addEventListener(
      "close",
      () => {
        signal.removeEventListener("abort", onAbort);
        limit.clear();
      },
      { once: true },
    );
    const lp = lpStream(stream, {
      maxDataLength: opts.maxRequestBytes,
      maxBufferSize: opts.maxRequestBytes + READ_SLACK_BYTES,
    });
    const peerStr = peer.toString();
    let counted = false;
    try {
      const refusal = !served.limiter.take(peerStr)
        ? "per-peer rate"
        : served.serving >= served.maxServed
          ? "requests served at once"
          : null;
      if (refusal !== null) {
        this.log.debug({ protocol, peer: peerStr, limit: refusal }, "req rate-limited");
        await lp.writeV([CODE_FRAMES["rate-limited"], END], { signal });
        await stream.close({ signal });
        return;
      }
      served.serving++;
      counted = true;
      let request: Uint8Array;
      try {
        request = (await lp.read({ signal })).subarray();
      } catch (err) {
        if (signal.aborted) throw err;
        this.log.debug({ protocol, peer: peerStr, err: (err as Error).message }, "bad request frame");
        await lp.writeV([CODE_FRAMES.invalid, utf8("malformed or oversized request"), END], { signal });
        await stream.close({ signal });
        return;
      }
      let result: ReqHandlerResult;
      try {
        result = await raceSignal(Promise.resolve(handler(request, { peer, signal })), signal);
      } catch (err) {
        if (signal.aborted) throw err;
        this.log.warn({ protocol, peer: peerStr, err: (err as Error).message }, "req handler failed");
        result = { code: "unavailable", message: "internal error" };
      }
      await this.writeResult(protocol, peerStr, lp, result, opts.maxResponseBytes, signal);
      await stream.close({ signal });
    } catch (err) {
      const reason = signal.aborted ? "timeout" : (err as Error).message;
      this.log.debug({ protocol, peer: peerStr, reason }, "req stream aborted");
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    } finally {
      if (counted) served.serving--;
    }
  }

  private async writeResult(
    protocol: string,
    peer: string,
    lp: LengthPrefixedStream<Stream>,
    result: ReqHandlerResult,
    maxResponseBytes: number,
    signal: AbortSignal,
  ): Promise<void> {
    if (result instanceof Uint8Array) {
      if (result.length > maxResponseBytes) {
        this.log.error(
          { protocol, bytes: result.length, max: maxResponseBytes },
          "req handler response too large",
        );
        await lp.writeV([CODE_FRAMES.unavailable, utf8("response too large"), END], { signal });
        return;
      }
      const frames = result.length === 0 ? [CODE_FRAMES.ok, END] : [CODE_FRAMES.ok, result, END];
      await lp.writeV(frames, { signal });
      return;
    }
    if (isFailure(result)) {
      const reason = utf8(result.message ?? "").subarray(0, MAX_REASON_BYTES);
      const frames =
        reason.length === 0 ? [CODE_FRAMES[result.code], END] : [CODE_FRAMES[result.code], reason, END];
      await lp.writeV(frames, { signal });
      return;
    }
    await lp.write(CODE_FRAMES.ok, { signal });
    let total = 0;
    const it = result[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await raceSignal(it.next(), signal);
        if (next.done === true) break;
        const chunk = next.value;
        if (chunk.length === 0) continue;
        total += chunk.length;
        if (total > maxResponseBytes) {
          this.log.error({ protocol, peer, max: maxResponseBytes }, "req handler streamed too much");
          throw new Error("streamed response too large");
        }
        await lp.write(chunk, { signal });
      }
    } catch (err) {
      it.return?.().catch(() => {});
      throw err;
    }
    await lp.write(END, { signal });
  }
}

function isFailure(r: ReqHandlerResult): r is ReqFailure {
  return typeof (r as ReqFailure).code === "string" && !(Symbol.asyncIterator in r);
}

function setPaused(stream: Stream, paused: boolean): void {
  try {
    if (paused && stream.readStatus === "readable") stream.pause();
    else if (!paused && stream.readStatus === "paused") stream.resume();
  } catch {
    // the stream closed under us; the next read reports it
  }
}

/** Reads the response code: null for `ok`; otherwise the reason follows and the stream is closed. */
async function readRefusal(
  stream: Stream,
  lp: LengthPrefixedStream<Stream>,
  protocol: string,
  signal: AbortSignal,
): Promise<{ code: Exclude<ReqRespCode, "ok">; body: Uint8Array } | null> {
  const code = await readCode(lp, protocol, signal);
  if (code === "ok") return null;
  const reason = await readReason(lp, protocol, signal);
  await closeQuietly(stream);
  return { code, body: reason };
}

/** An AbortController whose signal takes a listener per request in flight without a leak warning. */
function unboundedController(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}

async function closeQuietly(stream: Stream): Promise<void> {
  try {
    await stream.close();
  } catch {
    // already reset by the remote: nothing left to release
  }
}

function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
