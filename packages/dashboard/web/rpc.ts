/** JSON-RPC over HTTP (with batches) and over one WebSocket with `eth_subscribe`. Nothing else. */

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Reply {
  id?: number | string | null;
  result?: unknown;
  error?: { code: number; message: string };
}

let nextId = 1;

/** One HTTP JSON-RPC endpoint. */
export class HttpRpc {
  constructor(
    readonly url: string,
    private readonly timeoutMs = 5_000,
  ) {}

  async call<T>(method: string, params: unknown[] = []): Promise<T> {
    const [r] = await this.batch<T>([[method, params]]);
    if (r instanceof Error) throw r;
    return r;
  }

  /** Sends calls as one batch; each answer is its result or an RpcError, in order. */
  async batch<T>(calls: [string, unknown[]][]): Promise<(T | RpcError)[]> {
    if (calls.length === 0) return [];
    const first = nextId;
    nextId += calls.length;
    const body = calls.map(([method, params], i) => ({ jsonrpc: "2.0", id: first + i, method, params }));
    const res = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!res.ok && res.status !== 200) throw new RpcError(res.status, `HTTP ${res.status} from ${this.url}`);
    const replies = (await res.json()) as Reply[] | Reply;
    const list = Array.isArray(replies) ? replies : [replies];
    const byId = new Map<unknown, Reply>(list.map((r) => [r.id, r]));
    return calls.map((_, i) => {
      const r = byId.get(first + i);
      if (r === undefined) return new RpcError(-32603, "no answer in the batch");
      if (r.error !== undefined) return new RpcError(r.error.code, r.error.message);
      return r.result as T;
    });
  }
}

type Handler = (result: unknown) => void;

/**
 * A WebSocket to one node that keeps its subscriptions: on a dropped connection it reconnects
 * (backoff up to 5 s) and subscribes again. `onState` reports connected / disconnected.
 */
export class WsRpc {
  private ws: WebSocket | null = null;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly wanted: { kind: string; opts: unknown; handler: Handler }[] = [];
  private readonly active = new Map<string, Handler>();
  private retryMs = 250;
  private closed = false;

  constructor(
    readonly url: string,
    private readonly onState: (connected: boolean) => void,
  ) {}

  subscribe(kind: string, opts: unknown, handler: Handler): void {
    this.wanted.push({ kind, opts, handler });
    if (this.ws?.readyState === WebSocket.OPEN) void this.subscribeOne(this.wanted[this.wanted.length - 1]);
  }

  connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = 250;
      this.onState(true);
      for (const w of this.wanted) void this.subscribeOne(w);
    };
    ws.onmessage = (ev) => this.onMessage(String(ev.data));
    ws.onclose = () => {
      this.active.clear();
      for (const p of this.pending.values()) p.reject(new Error("connection closed"));
      this.pending.clear();
      this.onState(false);
      if (this.closed) return;
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(5_000, this.retryMs * 2);
    };
  }

  close(): void {
    this.closed = true;
    this.ws?.close();
  }

  private async subscribeOne(w: { kind: string; opts: unknown; handler: Handler }): Promise<void> {
    try {
      const params = w.opts === undefined ? [w.kind] : [w.kind, w.opts];
      const id = (await this.request("eth_subscribe", params)) as string;
      this.active.set(id, w.handler);
    } catch {
      // the connection dropped meanwhile: onclose resubscribes everything
    }
  }

  private request(method: string, params: unknown[]): Promise<unknown> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws!.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  }

  private onMessage(text: string): void {
    let msg: Reply & { method?: string; params?: { subscription: string; result: unknown } };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.method === "eth_subscription" && msg.params !== undefined) {
      this.active.get(msg.params.subscription)?.(msg.params.result);
      return;
    }
    if (typeof msg.id === "number") {
      const p = this.pending.get(msg.id);
      if (p === undefined) return;
      this.pending.delete(msg.id);
      if (msg.error !== undefined) p.reject(new RpcError(msg.error.code, msg.error.message));
      else p.resolve(msg.result);
    }
  }
}
