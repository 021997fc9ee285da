import http from "node:http";

/**
 * A small JSON-RPC client over `node:http` with keep-alive connections. The same client (same
 * agent settings, same request shapes) talks to every target, so neither side gets a cheaper
 * transport. Faster than Node 20's global fetch per request, which matters because the load
 * generator shares a 2-core machine with the target it measures.
 */

export interface RpcCall {
  method: string;
  params: readonly unknown[];
}

export interface RpcErrorBody {
  code: number;
  message: string;
  data?: unknown;
}

export type RpcResult = { ok: true; result: unknown } | { ok: false; error: RpcErrorBody };

export class RpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    message: string,
  ) {
    super(`${method}: ${message} (code ${code})`);
  }
}

export const METHOD_NOT_FOUND = -32601;

export class RpcClient {
  private readonly agent: http.Agent;
  private readonly url: URL;
  private readonly timeoutMs: number;
  private nextId = 1;

  constructor(url: string, opts: { maxSockets?: number; timeoutMs?: number } = {}) {
    this.url = new URL(url);
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 256 });
  }

  async call<T = unknown>(method: string, params: readonly unknown[] = []): Promise<T> {
    const id = this.nextId++;
    const body = await this.post(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    const res = parseJson(body, method) as { result?: unknown; error?: RpcErrorBody };
    if (res.error !== undefined) throw new RpcError(method, res.error.code, res.error.message);
    return res.result as T;
  }

  /** One HTTP request carrying a JSON-RPC batch; results come back in call order. */
  async batch(calls: readonly RpcCall[]): Promise<RpcResult[]> {
    if (calls.length === 0) return [];
    const first = this.nextId;
    this.nextId += calls.length;
    const payload = calls.map((c, i) => ({
      jsonrpc: "2.0",
      id: first + i,
      method: c.method,
      params: c.params,
    }));
    const body = await this.post(JSON.stringify(payload));
    const res = parseJson(body, "batch");
    if (!Array.isArray(res)) {
      const err = (res as { error?: RpcErrorBody }).error;
      throw new Error(`batch not supported: ${err ? err.message : body.slice(0, 200)}`);
    }
    const out: RpcResult[] = new Array(calls.length);
    for (const item of res as { id: number; result?: unknown; error?: RpcErrorBody }[]) {
      const i = item.id - first;
      if (i < 0 || i >= calls.length) throw new Error(`batch: unexpected response id ${item.id}`);
      out[i] =
        item.error !== undefined ? { ok: false, error: item.error } : { ok: true, result: item.result };
    }
    for (let i = 0; i < out.length; i++) {
      if (out[i] === undefined) throw new Error(`batch: no response for ${calls[i]!.method} (item ${i})`);
    }
    return out;
  }

  /** A batch where every call must succeed. */
  async batchOk<T = unknown>(calls: readonly RpcCall[]): Promise<T[]> {
    const res = await this.batch(calls);
    return res.map((r, i) => {
      if (!r.ok) throw new RpcError(calls[i]!.method, r.error.code, r.error.message);
      return r.result as T;
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private post(body: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.url.hostname,
          port: this.url.port,
          path: this.url.pathname,
          method: "POST",
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            // JSON-RPC errors often come back with a 4xx/5xx status and a JSON body: let the
            // caller read the body; only a non-JSON failure is a transport error.
            if (res.statusCode !== 200 && !text.startsWith("{") && !text.startsWith("[")) {
              reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            } else {
              resolve(text);
            }
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`request timed out after ${this.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }
}

function parseJson(body: string, what: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new Error(`${what}: response is not JSON: ${body.slice(0, 200)}`);
  }
}

export const toHex = (n: bigint | number): string => `0x${n.toString(16)}`;
