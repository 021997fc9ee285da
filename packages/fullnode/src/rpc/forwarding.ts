import {
  type ChainBackend,
  DEFAULT_RPC_MAX_BATCH,
  RpcError,
  RpcErrorCode,
  TurnBatch,
} from "@staccato/common";

/** How long the sequencer has to answer one forwarded request (a batch of transactions included). */
const FORWARD_TIMEOUT_MS = 10_000;
/**
 * Most transactions forwarded in one HTTP request: the sequencer's default `--rpc-max-batch`, and
 * the full node's own, so a batch sent here goes on in one request. Bigger ones go in several, one
 * after another, in order.
 */
const MAX_FORWARD_BATCH = DEFAULT_RPC_MAX_BATCH;

interface Queued {
  raw: Uint8Array;
  resolve(hash: string): void;
  reject(err: unknown): void;
}

type JsonRpcAnswer = {
  id?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
};

/**
 * Writes go to the sequencer: the full node forwards raw transactions (and asks it for pending
 * nonces, which count transactions still in its pool); receipts then come from the node's own
 * state once the mini-block arrives. The transactions of one JSON-RPC batch are forwarded as one
 * batch, in the same order, each answered with its own result or error.
 */
export class SequencerClient {
  private id = 0;
  /** Transactions to forward with the next request: those handed over in the same turn. */
  private readonly queued = new TurnBatch<Queued>((all) => void this.flush(all));

  constructor(private readonly url: string) {}

  async call<T>(method: string, params: unknown[]): Promise<T> {
    const body = await this.post({ jsonrpc: "2.0", id: ++this.id, method, params });
    return answerOf<T>(body as JsonRpcAnswer | null);
  }

  /**
   * Forwards a raw transaction; resolves with its hash. Those handed over in the same turn of the
   * event loop (a JSON-RPC batch's, prepared one after the other) go in one request.
   */
  sendRawTransaction(raw: Uint8Array): Promise<string> {
    return new Promise<string>((resolve, reject) => this.queued.add({ raw, resolve, reject }));
  }

  private async flush(all: Queued[]): Promise<void> {
    for (let i = 0; i < all.length; i += MAX_FORWARD_BATCH)
      await this.forward(all.slice(i, i + MAX_FORWARD_BATCH));
  }

  /** One request for `txs` (a plain request for one, a batch for more); settles each of them. */
  private async forward(txs: Queued[]): Promise<void> {
    const first = this.id + 1;
    this.id += txs.length;
    const requests = txs.map((t, i) => ({
      jsonrpc: "2.0",
      id: first + i,
      method: "eth_sendRawTransaction",
      params: [`0x${Buffer.from(t.raw).toString("hex")}`],
    }));
    let body: unknown;
    try {
      body = await this.post(requests.length === 1 ? requests[0] : requests);
    } catch (err) {
      for (const t of txs) t.reject(err);
      return;
    }
    if (!Array.isArray(body)) {
      // One answer for the whole batch: the sequencer refused it as a whole (or it was one request).
      for (const t of txs) {
        try {
          t.resolve(answerOf<string>(body as JsonRpcAnswer | null));
        } catch (err) {
          t.reject(err);
        }
      }
      return;
    }
    const byId = new Map<unknown, JsonRpcAnswer>();
    for (const a of body as JsonRpcAnswer[]) if (typeof a === "object" && a !== null) byId.set(a.id, a);
    for (const [i, t] of txs.entries()) {
      const a = byId.get(first + i);
      try {
        if (a === undefined)
          throw new RpcError(RpcErrorCode.ResourceUnavailable, `sequencer at ${this.url} did not answer it`);
        t.resolve(answerOf<string>(a));
      } catch (err) {
        t.reject(err);
      }
    }
  }

  /** POSTs one JSON-RPC message; the parsed answer, or null if it is not JSON. */
  private async post(message: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(message),
        signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
      });
    } catch (err) {
      throw new RpcError(
        RpcErrorCode.ResourceUnavailable,
        `sequencer unreachable at ${this.url}: ${(err as Error).message}`,
      );
    }
    const body = await res.json().catch(() => null);
    if (body === null)
      throw new RpcError(
        RpcErrorCode.ResourceUnavailable,
        `sequencer at ${this.url} answered HTTP ${res.status}`,
      );
    return body;
  }
}

function answerOf<T>(a: JsonRpcAnswer | null): T {
  if (a === null || typeof a !== "object")
    throw new RpcError(RpcErrorCode.ResourceUnavailable, "the sequencer's answer is not JSON-RPC");
  if (a.error !== undefined) throw new RpcError(a.error.code, a.error.message, a.error.data);
  return a.result as T;
}

export function forwardingHooks(
  seq: SequencerClient,
  ownNonce: (a: string) => bigint,
): Pick<ChainBackend, "submit" | "prepareSubmit" | "pendingNonce" | "pendingTx"> {
  return {
    // A batch's transactions are all handed over before the first is answered: one request.
    prepareSubmit: (raw) => seq.sendRawTransaction(raw),
    async submit(raw, prepared) {
      const hashHex = await ((prepared as Promise<string> | undefined) ?? seq.sendRawTransaction(raw));
      return { hashHex, sender: "", queued: false };
    },
    async pendingNonce(address) {
      try {
        return BigInt(await seq.call<string>("eth_getTransactionCount", [address, "pending"]));
      } catch {
        return ownNonce(address);
      }
    },
    pendingTx: () => null,
  };
}
