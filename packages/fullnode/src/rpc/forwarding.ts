import { type ChainBackend, RpcError, RpcErrorCode } from "@staccato/common";

/**
 * Writes go to the sequencer: the full node forwards raw transactions (and asks it for pending
 * nonces, which count transactions still in its pool); receipts then come from the node's own
 * state once the mini-block arrives.
 */
export class SequencerClient {
  private id = 0;

  constructor(private readonly url: string) {}

  async call<T>(method: string, params: unknown[]): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++this.id, method, params }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new RpcError(
        RpcErrorCode.ResourceUnavailable,
        `sequencer unreachable at ${this.url}: ${(err as Error).message}`,
      );
    }
    const body = (await res.json().catch(() => null)) as {
      result?: T;
      error?: { code: number; message: string; data?: unknown };
    } | null;
    if (body === null)
      throw new RpcError(
        RpcErrorCode.ResourceUnavailable,
        `sequencer at ${this.url} answered HTTP ${res.status}`,
      );
    if (body.error !== undefined) throw new RpcError(body.error.code, body.error.message, body.error.data);
    return body.result as T;
  }
}

export function forwardingHooks(
  seq: SequencerClient,
  ownNonce: (a: string) => bigint,
): Pick<ChainBackend, "submit" | "pendingNonce" | "pendingTx"> {
  return {
    async submit(raw) {
      const hashHex = await seq.call<string>("eth_sendRawTransaction", [
        `0x${Buffer.from(raw).toString("hex")}`,
      ]);
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
