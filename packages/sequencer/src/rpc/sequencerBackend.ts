import { type ChainBackend, RpcError, RpcErrorCode, formatTx } from "@staccato/common";
import type { Executor } from "@staccato/common";
import { TxRejectedError } from "../txpool/txErrors.ts";
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
): Pick<ChainBackend, "submit" | "pendingNonce" | "pendingTx" | "blockTemplate" | "syncing" | "status"> {
  return {
    async submit(raw) {
      try {
        const ptx = pool.add(raw);
        return { hashHex: ptx.hashHex, sender: ptx.sender, queued: ptx.readyGen === 0 };
      } catch (err) {
        if (err instanceof TxRejectedError) throw new RpcError(RpcErrorCode.InvalidInput, err.message);
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
