import {
  type ChainBackend,
  RpcError,
  RpcErrorCode,
  type SenderRecoveryPool,
  formatTx,
} from "@staccato/common";
import type { Executor } from "@staccato/common";
import { TxRejectedError, type TxRejection } from "../txpool/txErrors.ts";
import type { TxPool } from "../txpool/txPool.ts";

/**
 * The sequencer's answers to what the shared RPC methods need beyond the chain: transactions go
 * into its pool (refusals become -32000 errors with geth's messages, which viem and ethers map to
 * their typed errors), pending nonces and transactions come from the pool.
 */
export function sequencerRpcHooks(
  pool: TxPool,
  executor: Executor,
  status: () => Record<string, unknown>,
  /** Recovers senders off the execution thread (null: the pool recovers them itself). */
  senders: SenderRecoveryPool | null,
  /** A submission the pool refused (`staccato_txpool_rejected_total`). */
  onRejected: (reason: TxRejection) => void,
): Pick<
  ChainBackend,
  "submit" | "prepareSubmit" | "pendingNonce" | "pendingTx" | "blockTemplate" | "syncing" | "status"
> {
  const prepareSubmit = (raw: Uint8Array) => senders?.recover(raw) ?? null;
  return {
    prepareSubmit,
    async submit(raw, prepared) {
      const sender = await ((prepared as ReturnType<typeof prepareSubmit> | undefined) ?? prepareSubmit(raw));
      try {
        const ptx = pool.add(raw, sender ?? undefined);
        return { hashHex: ptx.hashHex, sender: ptx.sender, queued: ptx.readyGen === 0 };
      } catch (err) {
        if (err instanceof TxRejectedError) {
          onRejected(err.reason);
          throw new RpcError(RpcErrorCode.InvalidInput, err.message);
        }
        throw err;
      }
    },
    async pendingNonce(address) {
      return pool.pendingNonce(address);
    },
    pendingTx(hashHex) {
      const p = pool.get(hashHex);
      return p === undefined ? null : formatTx(p.tx, p.hashHex, p.sender, null);
    },
    blockTemplate: (b) => executor.blockTemplate(b),
    syncing: () => false,
    status,
  };
}
