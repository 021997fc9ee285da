import { isUtf8 } from "node:buffer";
import { performance } from "node:perf_hooks";
import type { z } from "zod";
import type { Logger } from "../log/logger.ts";
import {
  formatParamsError,
  methodNotFoundMessage,
  isClientError,
  RpcErrorCode,
  toRpcErrorObject,
} from "./errors.ts";

/**
 * Transport-independent JSON-RPC 2.0 processing: one HTTP body or WebSocket message in, the
 * serialized response (or nothing, for notifications) out. Never throws or rejects.
 */

/** A WebSocket client, as handlers see it (eth_subscribe keeps it to push notifications). */
export interface WsConnection {
  readonly id: string;
  readonly closed: boolean;
  /**
   * Queues a notification (an object, or a string already serialized as JSON). Dropped and
   * counted when the client is not reading and its send buffer is over the cap, or when closed.
   */
  send(notification: object | string): void;
  /** Runs `cb` once the connection closes (at once, asynchronously, if it already has). */
  onClose(cb: () => void): void;
}

export interface RpcContext {
  transport: "http" | "ws";
  connection: WsConnection | null;
}

/**
 * A method: its positional params as a zod tuple (validated before `handler` runs) and the handler.
 *
 * `handler` and `prepare` are declared with method syntax on purpose: TypeScript then checks their
 * parameter bivariantly, so an `RpcMethod<[bigint]>` is an `RpcMethod` and namespaces of
 * differently typed methods compose into one dispatcher table without a cast. Sound here because
 * the dispatcher hands `handler` and `prepare` only what this method's own `params` parsed.
 */
export interface RpcMethod<P extends unknown[] = unknown[]> {
  params: z.ZodType<P>;
  /** `prepared`: what `prepare` returned for this request, when it ran (batches only). */
  handler(params: P, ctx: RpcContext, prepared?: unknown): unknown;
  /**
   * Batches only: called for every request of the batch that has valid params, in order, before
   * the first handler runs. Handlers still run one at a time, in order; `prepare` lets work that
   * does not depend on the earlier requests (recovering a transaction's sender, forwarding it)
   * start for the whole batch at once. Must not throw; a promise it returns may reject, and the
   * handler then sees the rejection.
   */
  prepare?(params: P, ctx: RpcContext): unknown;
}

/**
 * One namespace's handlers, keyed by its method names (a union, usually from an `as const` list):
 * a factory returning `RpcMethodTable<EthMethod>` fails to compile when a name has no handler or a
 * handler has no declared name.
 */
export type RpcMethodTable<M extends string> = { readonly [K in M]: RpcMethod };

/** The dispatcher's table: namespaces' `RpcMethodTable`s spread together. */
export type RpcMethods = Readonly<Record<string, RpcMethod>>;

/** Declares a method with the handler's params typed from the schema. */
export function rpcMethod<P extends unknown[]>(
  params: z.ZodType<P>,
  handler: (params: P, ctx: RpcContext, prepared?: unknown) => unknown,
  prepare?: (params: P, ctx: RpcContext) => unknown,
): RpcMethod<P> {
  return prepare === undefined ? { params, handler } : { params, handler, prepare };
}

/** A batch request's params, parsed ahead, and what its method's `prepare` returned. */
interface Prepared {
  params: unknown[];
  value: unknown;
}

/** Hook for prom-client (`staccato_rpc_request_duration_seconds{method}`); labels are bounded. */
export interface RpcMetrics {
  /** `method` is a registered method name, or "unknown". */
  observe(method: string, seconds: number, ok: boolean): void;
  wsConnections?(n: number): void;
  /** A notification was dropped because the client's send buffer was full. */
  wsNotificationDropped?(): void;
}

export const UNKNOWN_METHOD_LABEL = "unknown";

export interface DispatcherOptions {
  maxBatch: number;
  maxJsonDepth: number;
}

export interface DispatcherDeps {
  logger: Logger;
  methods: RpcMethods;
  metrics?: RpcMetrics | null;
}

const EMPTY_PARAMS: readonly unknown[] = Object.freeze([]);

export class RpcDispatcher {
  private readonly methods: Map<string, RpcMethod>;
  private readonly metrics: RpcMetrics | null;
  private readonly log: Logger;
  private readonly parseErrorResponse = errorResponse(null, RpcErrorCode.ParseError, "parse error");
  private readonly depthErrorResponse: string;

  constructor(
    private readonly opts: DispatcherOptions,
    deps: DispatcherDeps,
  ) {
    // A Map, so "__proto__", "constructor" and friends are just unknown methods.
    this.methods = new Map(Object.entries(deps.methods));
    this.metrics = deps.metrics ?? null;
    this.log = deps.logger;
    this.depthErrorResponse = errorResponse(
      null,
      RpcErrorCode.InvalidRequest,
      `invalid request: JSON nesting deeper than ${opts.maxJsonDepth}`,
    );
  }

  async handle(raw: Buffer, ctx: RpcContext): Promise<string | null> {
    let text: string;
    let msg: unknown;
    try {
      if (!isUtf8(raw)) return this.parseErrorResponse;
      text = raw.toString("utf8");
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      // Before parsing: deep input can blow the stack in JSON.parse, zod or JSON.stringify.
      if (exceedsDepth(text, this.opts.maxJsonDepth)) return this.depthErrorResponse;
      msg = JSON.parse(text);
    } catch {
      return this.parseErrorResponse;
    }

    if (!Array.isArray(msg)) return this.handleOne(msg, ctx);

    if (msg.length === 0)
      return errorResponse(null, RpcErrorCode.InvalidRequest, "invalid request: empty batch");
    if (msg.length > this.opts.maxBatch) {
      return errorResponse(
        null,
        RpcErrorCode.LimitExceeded,
        `batch of ${msg.length} requests exceeds the limit of ${this.opts.maxBatch}`,
      );
    }
    // In order, one at a time (as geth): a batch of dependent transactions keeps its order,
    // and one batch cannot start a thousand heavy calls at once.
    const prepared = this.prepareBatch(msg, ctx);
    const parts: string[] = [];
    for (let i = 0; i < msg.length; i++) {
      const out = await this.handleOne(msg[i], ctx, prepared?.get(i));
      if (out !== null) parts.push(out);
    }
    return parts.length === 0 ? null : `[${parts.join(",")}]`;
  }

  /** Runs `prepare` for the batch's requests whose method has one (see `RpcMethod.prepare`). */
  private prepareBatch(batch: unknown[], ctx: RpcContext): Map<number, Prepared> | null {
    let out: Map<number, Prepared> | null = null;
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i] as Record<string, unknown> | null;
      if (typeof r !== "object" || r === null || r.jsonrpc !== "2.0" || typeof r.method !== "string")
        continue;
      const method = this.methods.get(r.method);
      if (method?.prepare === undefined) continue;
      const parsed = method.params.safeParse(r.params ?? EMPTY_PARAMS);
      if (!parsed.success) continue;
      let value: unknown;
      try {
        value = method.prepare(parsed.data, ctx);
      } catch (err) {
        this.log.error({ method: r.method, err }, "rpc prepare failed");
        continue;
      }
      // Its handler runs later: until then a rejection is not "unhandled".
      if (value instanceof Promise) value.catch(() => undefined);
      out ??= new Map();
      out.set(i, { params: parsed.data, value });
    }
    return out;
  }

  private async handleOne(req: unknown, ctx: RpcContext, pre?: Prepared): Promise<string | null> {
    if (typeof req !== "object" || req === null || Array.isArray(req)) {
      return errorResponse(null, RpcErrorCode.InvalidRequest, "invalid request: expected a request object");
    }
    const r = req as Record<string, unknown>;
    const id = r.id;
    const isNotification = id === undefined;
    if (!isNotification && id !== null && typeof id !== "string" && typeof id !== "number") {
      return errorResponse(
        null,
        RpcErrorCode.InvalidRequest,
        "invalid request: id must be a string, number or null",
      );
    }
    const respId = isNotification ? null : (id as string | number | null);
    if (r.jsonrpc !== "2.0") {
      return errorResponse(respId, RpcErrorCode.InvalidRequest, 'invalid request: jsonrpc must be "2.0"');
    }
    const name = r.method;
    if (typeof name !== "string") {
      return errorResponse(respId, RpcErrorCode.InvalidRequest, "invalid request: method must be a string");
    }
    let params = r.params;
    if (params === undefined || params === null) params = EMPTY_PARAMS;
    else if (typeof params !== "object") {
      return errorResponse(respId, RpcErrorCode.InvalidRequest, "invalid request: params must be an array");
    }

    const method = this.methods.get(name);
    if (method === undefined) {
      this.metrics?.observe(UNKNOWN_METHOD_LABEL, 0, false);
      return isNotification
        ? null
        : errorResponse(respId, RpcErrorCode.MethodNotFound, methodNotFoundMessage(name));
    }

    const t0 = this.metrics === null ? 0 : performance.now();
    const parsed =
      pre !== undefined ? { success: true as const, data: pre.params } : method.params.safeParse(params);
    if (!parsed.success) {
      this.metrics?.observe(name, (performance.now() - t0) / 1000, false);
      const message = formatParamsError(parsed.error, method.params, params);
      this.log.debug({ method: name, message }, "rpc invalid params");
      return isNotification ? null : errorResponse(respId, RpcErrorCode.InvalidParams, message);
    }

    let result: unknown;
    try {
      result = await method.handler(parsed.data, ctx, pre?.value);
    } catch (err) {
      this.metrics?.observe(name, (performance.now() - t0) / 1000, false);
      if (!isClientError(err)) this.log.error({ method: name, err }, "rpc handler failed");
      if (isNotification) return null;
      const e = toRpcErrorObject(err);
      return errorResponse(respId, e.code, e.message, e.data);
    }
    this.metrics?.observe(name, (performance.now() - t0) / 1000, true);
    if (isNotification) return null;
    return this.resultResponse(respId, result, name);
  }

  private resultResponse(id: string | number | null, result: unknown, method: string): string {
    let json: string | undefined;
    try {
      json = JSON.stringify(result === undefined ? null : result);
    } catch (err) {
      this.log.error({ method, err }, "rpc result not serializable");
      return errorResponse(id, RpcErrorCode.InternalError, "internal error");
    }
    // JSON.stringify returns undefined for functions and symbols.
    return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${json ?? "null"}}`;
  }
}

export function errorResponse(
  id: string | number | null,
  code: number,
  message: string,
  data?: unknown,
): string {
  const error = data === undefined ? { code, message } : { code, message, data };
  try {
    return JSON.stringify({ jsonrpc: "2.0", id, error });
  } catch {
    // Unserializable `data` from a handler: drop it rather than the whole error.
    return JSON.stringify({ jsonrpc: "2.0", id, error: { code, message } });
  }
}

/**
 * Whether `[`/`{` nesting in `text` goes deeper than `max`, skipping string contents. One linear
 * pass; long strings (hex payloads) are skipped with indexOf.
 */
export function exceedsDepth(text: string, max: number): boolean {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      for (;;) {
        j = text.indexOf('"', j);
        if (j === -1) return false; // unterminated: JSON.parse rejects it
        let k = j - 1;
        while (text.charCodeAt(k) === 0x5c /* \ */) k--;
        if (((j - 1 - k) & 1) === 0) break; // even number of backslashes: the string ends here
        j++;
      }
      i = j;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}
