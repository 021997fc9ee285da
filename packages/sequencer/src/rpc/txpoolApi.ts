import { toChecksumAddress } from "@ethereumjs/util";
import { type RpcMethodTable, formatTx, hexOf, rpcMethod, rpcSchemas as s } from "@staccato/common";
import { z } from "zod";
import type { PoolTx } from "../txpool/txPool.ts";

type BySender<T> = Record<string, Record<string, T>>;

/** The methods `txpoolApi` answers. */
export const TXPOOL_METHODS = [
  "txpool_status",
  "txpool_content",
  "txpool_contentFrom",
  "txpool_inspect",
] as const;
export type TxpoolMethod = (typeof TXPOOL_METHODS)[number];

/**
 * geth's txpool namespace over the sequencer's pool: `pending` are the transactions ready to run
 * (every lower nonce of their sender is ready or executed), `queued` those waiting for a missing
 * nonce. Senders are keyed by their checksummed address and transactions by their decimal nonce,
 * as geth does; `txpool_inspect` gives geth's one-line summaries.
 */
export function txpoolApi(pool: { all(): IterableIterator<PoolTx> }): RpcMethodTable<TxpoolMethod> {
  const split = <T>(f: (p: PoolTx) => T, sender?: string) => {
    const pending: BySender<T> = {};
    const queued: BySender<T> = {};
    for (const p of pool.all()) {
      if (sender !== undefined && p.sender !== sender) continue;
      const into = p.readyGen !== 0 ? pending : queued;
      const key = toChecksumAddress(p.sender);
      into[key] ??= {};
      into[key][p.nonce.toString()] = f(p);
    }
    return { pending, queued };
  };
  const full = (p: PoolTx) => formatTx(p.tx.typed(), p.hashHex, p.sender, null);
  const methods: RpcMethodTable<TxpoolMethod> = {
    txpool_status: rpcMethod(z.tuple([]), () => {
      let pending = 0;
      let queued = 0;
      for (const p of pool.all()) {
        if (p.readyGen !== 0) pending++;
        else queued++;
      }
      return { pending: `0x${pending.toString(16)}`, queued: `0x${queued.toString(16)}` };
    }),
    txpool_content: rpcMethod(z.tuple([]), () => split(full)),
    txpool_contentFrom: rpcMethod(z.tuple([s.address]), ([addr]) => {
      const { pending, queued } = split(full, addr);
      const key = toChecksumAddress(addr);
      return { pending: pending[key] ?? {}, queued: queued[key] ?? {} };
    }),
    txpool_inspect: rpcMethod(z.tuple([]), () => split(summary)),
  };
  return methods;
}

/** geth's `txpool_inspect` line: "0xto: value wei + gas gas × price wei". */
function summary(p: PoolTx): string {
  const to = p.tx.to === null ? "contract creation" : toChecksumAddress(hexOf(p.tx.to));
  return `${to}: ${p.tx.value} wei + ${p.tx.gasLimit} gas × ${p.maxFee} wei`;
}
