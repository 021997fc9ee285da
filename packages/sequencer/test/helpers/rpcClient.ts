import WebSocket from "ws";
import { sleep } from "./sequencerProcess.ts";

export interface RpcErrorBody {
  code: number;
  message: string;
  data?: unknown;
}

export interface RpcResponse<T = unknown> {
  jsonrpc: "2.0";
  id: number | string | null;
  result?: T;
  error?: RpcErrorBody;
}

let nextId = 1;

/** One raw JSON-RPC call over HTTP; returns the whole response (so error codes can be checked). */
export async function rpcRaw<T = unknown>(
  url: string,
  method: string,
  params: unknown[] = [],
): Promise<RpcResponse<T>> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params }),
  });
  return (await res.json()) as RpcResponse<T>;
}

/** A JSON-RPC call that must succeed; throws with the error object otherwise. */
export async function rpc<T = unknown>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const r = await rpcRaw<T>(url, method, params);
  if (r.error !== undefined) throw new Error(`${method} failed: ${JSON.stringify(r.error)}`);
  return r.result as T;
}

/** A JSON-RPC batch over HTTP; responses come back ordered by id. */
export async function rpcBatch(
  url: string,
  calls: { method: string; params: unknown[] }[],
): Promise<RpcResponse[]> {
  const first = nextId;
  nextId += calls.length;
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(
      calls.map((c, i) => ({ jsonrpc: "2.0", id: first + i, method: c.method, params: c.params })),
    ),
  });
  const out = (await res.json()) as RpcResponse[];
  return out.sort((a, b) => Number(a.id) - Number(b.id));
}

/** Rejects if `p` takes longer than `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `fn` until it returns something other than undefined/null. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null>,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export interface RawReceipt {
  transactionHash: string;
  transactionIndex: string;
  blockHash: string;
  blockNumber: string;
  from: string;
  to: string | null;
  cumulativeGasUsed: string;
  gasUsed: string;
  effectiveGasPrice: string;
  contractAddress: string | null;
  logs: RawLog[];
  logsBloom: string;
  type: string;
  status: string;
}

export interface RawLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  transactionIndex: string;
  logIndex: string;
  removed: boolean;
}

export interface RawBlock {
  number: string;
  hash: string | null;
  parentHash: string;
  stateRoot: string | null;
  transactions: (string | Record<string, unknown>)[];
  baseFeePerGas: string;
  gasUsed: string;
  timestamp: string;
  [k: string]: unknown;
}

const ZERO_HASH = `0x${"00".repeat(32)}`;

/** Waits until the receipt's block is sealed (blockHash is no longer the placeholder). */
export function sealedReceipt(url: string, txHash: string, timeoutMs = 10_000): Promise<RawReceipt> {
  return waitFor(
    `sealed receipt of ${txHash}`,
    async () => {
      const r = await rpc<RawReceipt | null>(url, "eth_getTransactionReceipt", [txHash]);
      return r !== null && r.blockHash !== ZERO_HASH ? r : undefined;
    },
    timeoutMs,
    50,
  );
}

/** Waits until `latest` reaches block `n`. */
export async function waitForBlock(url: string, n: bigint, timeoutMs = 10_000): Promise<void> {
  await waitFor(
    `block ${n}`,
    async () => (BigInt(await rpc<string>(url, "eth_blockNumber")) >= n ? true : undefined),
    timeoutMs,
    50,
  );
}

export interface Notification {
  subscription: string;
  result: unknown;
}

/**
 * A minimal JSON-RPC WebSocket client: requests by id, subscription notifications buffered per
 * subscription id until taken.
 */
export class WsClient {
  private readonly pending = new Map<number, { resolve(r: RpcResponse): void }>();
  private readonly notes = new Map<string, unknown[]>();
  private readonly noteWaiters = new Map<string, () => void>();
  private id = 1;

  private constructor(readonly ws: WebSocket) {
    ws.on("close", (code) => {
      for (const p of this.pending.values())
        p.resolve({ jsonrpc: "2.0", id: null, error: { code: -1, message: `websocket closed (${code})` } });
      this.pending.clear();
    });
    ws.on("message", (data) => {
      const msg = JSON.parse(data.toString()) as RpcResponse & { method?: string; params?: Notification };
      if (msg.method === "eth_subscription" && msg.params !== undefined) {
        const { subscription, result } = msg.params;
        let q = this.notes.get(subscription);
        if (q === undefined) {
          q = [];
          this.notes.set(subscription, q);
        }
        q.push(result);
        this.noteWaiters.get(subscription)?.();
        return;
      }
      const p = this.pending.get(Number(msg.id));
      if (p !== undefined) {
        this.pending.delete(Number(msg.id));
        p.resolve(msg);
      }
    });
  }

  static connect(url: string): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once("open", () => resolve(new WsClient(ws)));
      ws.once("error", reject);
    });
  }

  requestRaw<T = unknown>(method: string, params: unknown[] = []): Promise<RpcResponse<T>> {
    const id = this.id++;
    if (this.ws.readyState !== WebSocket.OPEN) {
      return Promise.resolve({ jsonrpc: "2.0", id, error: { code: -1, message: "websocket not open" } });
    }
    return new Promise((resolve) => {
      this.pending.set(id, { resolve: resolve as (r: RpcResponse) => void });
      this.ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  }

  async request<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const r = await this.requestRaw<T>(method, params);
    if (r.error !== undefined) throw new Error(`${method} failed: ${JSON.stringify(r.error)}`);
    return r.result as T;
  }

  subscribe(kind: string, opts?: unknown): Promise<string> {
    return this.request<string>("eth_subscribe", opts === undefined ? [kind] : [kind, opts]);
  }

  /** Notifications received so far for a subscription (taken out of the buffer). */
  take<T = unknown>(sub: string): T[] {
    const q = (this.notes.get(sub) ?? []) as T[];
    this.notes.set(sub, []);
    return q;
  }

  /** Waits until a notification satisfying `match` arrives (or was buffered), and returns it. */
  async next<T = unknown>(
    sub: string,
    match: (n: T) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const q = (this.notes.get(sub) ?? []) as T[];
      const i = q.findIndex(match);
      if (i !== -1) {
        const [n] = q.splice(i, 1);
        return n as T;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching notification on ${sub} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.noteWaiters.set(sub, () => {
          clearTimeout(t);
          resolve();
        });
      });
      this.noteWaiters.delete(sub);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once("close", () => resolve());
      this.ws.close();
    });
  }
}
