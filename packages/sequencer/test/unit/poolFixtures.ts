import { createEthCommon } from "@staccato/common";
import { type PoolStateView, TxPool, txPoolOptionsSchema } from "../../src/txpool/txPool.ts";

export const common = createEthCommon({ chainId: 21364 });

/**
 * A pool over a fixed pending state: every sender has 1,000 ETH and the nonce `nonces` gives it
 * (0 if none), base fee 1 gwei, 30M gas blocks, nothing included yet.
 */
export function testPool(opts: Record<string, unknown> = {}, nonces = new Map<string, bigint>()): TxPool {
  const state: PoolStateView = {
    nonce: (a) => nonces.get(a) ?? 0n,
    balance: () => 10n ** 21n,
    baseFee: () => 1_000_000_000n,
    blockGasLimit: () => 30_000_000n,
    isIncluded: () => false,
  };
  return new TxPool(txPoolOptionsSchema.parse(opts), { common, state });
}
