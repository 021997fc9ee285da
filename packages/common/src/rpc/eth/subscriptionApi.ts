import { randomBytes } from "node:crypto";
import { bytesToHex } from "@ethereumjs/util";
import { type RpcMethodTable, type WsConnection, rpcMethod } from "../dispatch.ts";
import { RpcError, RpcErrorCode, invalidParams } from "../errors.ts";
import { z } from "zod";
import { type ChainBlock, type LogFilter, type TxEntry, matches } from "../../chain/chainStore.ts";
import type { BlockTag } from "../schemas.ts";
import type { ChainBackend } from "./backend.ts";
import { filterObject, getLogs, logMatchers, toLogFilter } from "./ethApi.ts";
import { formatBlock, formatLog, formatReceipt, qty } from "./format.ts";

const SUBSCRIPTION_KINDS = [
  "newHeads",
  "logs",
  "newPendingTransactions",
  "miniBlocks",
  "stateChanges",
] as const;

/** Polling filters are dropped after this long without a poll, as geth does. */
const FILTER_TTL_MS = 5 * 60_000;
/** Most items a filter buffers between polls. */
const FILTER_MAX_ITEMS = 10_000;
const MAX_FILTERS = 10_000;

interface PollFilter {
  kind: "logs" | "blocks" | "pendingTxs";
  criteria: LogFilter | null;
  raw: z.output<typeof filterObject> | null;
  items: unknown[];
  overflowed: boolean;
  lastPoll: number;
  unsubscribe: () => void;
}

/** A subscription or filter id: 128 random bits as a JSON-RPC quantity (no leading zeros). */
const newId = (): string => qty(BigInt(bytesToHex(randomBytes(16))) | (1n << 127n));

/** A log filter or subscription asks for preconfirmed logs when either bound is `pending`. */
const wantsPending = (f: { fromBlock?: BlockTag; toBlock?: BlockTag }): boolean =>
  [f.fromBlock, f.toBlock].some((t) => t !== undefined && "tag" in t && t.tag === "pending");

/**
 * Delivers each log matching `c` exactly once: from every mini-block as it seals (preconfirmed,
 * placeholder blockHash) when `pending`, else from every block as it seals (final blockHash).
 */
function onLogs(
  be: ChainBackend,
  c: LogFilter,
  pending: boolean,
  deliver: (log: object) => void,
): () => void {
  const each = (block: ChainBlock, txs: readonly TxEntry[]) => {
    if (block.number < c.fromBlock || block.number > c.toBlock) return;
    for (const tx of txs) {
      tx.receipt.logs.forEach((log, i) => {
        if (matches(log, c)) deliver(formatLog(log, tx, tx.firstLogIndex + i, block));
      });
    }
  };
  return pending
    ? be.events.on("miniBlock", ({ block, txs }) => each(block, txs))
    : be.events.on("block", (b) => each(b, b.txs));
}

/** The methods `subscriptionApi` answers. */
export const SUBSCRIPTION_METHODS = [
  "eth_subscribe",
  "eth_unsubscribe",
  "eth_newFilter",
  "eth_newBlockFilter",
  "eth_newPendingTransactionFilter",
  "eth_getFilterChanges",
  "eth_getFilterLogs",
  "eth_uninstallFilter",
] as const;
export type SubscriptionMethod = (typeof SUBSCRIPTION_METHODS)[number];

/**
 * `eth_subscribe` over WebSocket and the HTTP polling filters. Real-time events come from
 * mini-blocks: `miniBlocks`, `stateChanges`, and `logs` subscriptions or log filters whose
 * fromBlock or toBlock is `pending` fire when a mini-block seals (logs carry the placeholder
 * blockHash). `newHeads`, block filters and other log subscriptions and filters fire when a block
 * seals. Either way a subscriber gets each log once.
 */
export function subscriptionApi(be: ChainBackend): {
  methods: RpcMethodTable<SubscriptionMethod>;
  close(): void;
} {
  const filters = new Map<string, PollFilter>();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, f] of filters) {
      if (now - f.lastPoll > FILTER_TTL_MS) {
        f.unsubscribe();
        filters.delete(id);
      }
    }
  }, 30_000);
  sweep.unref();

  const push = (f: PollFilter, item: unknown) => {
    if (f.items.length >= FILTER_MAX_ITEMS) {
      f.overflowed = true;
      return;
    }
    f.items.push(item);
  };

  const install = (f: Omit<PollFilter, "items" | "overflowed" | "lastPoll" | "unsubscribe">): string => {
    if (filters.size >= MAX_FILTERS)
      throw new RpcError(RpcErrorCode.LimitExceeded, "too many filters installed");
    const id = newId();
    const pf: PollFilter = {
      ...f,
      items: [],
      overflowed: false,
      lastPoll: Date.now(),
      unsubscribe: () => {},
    };
    if (f.kind === "blocks") pf.unsubscribe = be.events.on("block", (b) => push(pf, bytesToHex(b.hash!)));
    else if (f.kind === "pendingTxs") pf.unsubscribe = be.events.on("pendingTx", (p) => push(pf, p.hashHex));
    else pf.unsubscribe = onLogs(be, pf.criteria!, wantsPending(pf.raw!), (log) => push(pf, log));
    filters.set(id, pf);
    return id;
  };

  const filter = (id: string): PollFilter => {
    const f = filters.get(id.toLowerCase());
    if (f === undefined) throw new RpcError(RpcErrorCode.InvalidInput, "filter not found");
    f.lastPoll = Date.now();
    return f;
  };

  const subscribe = (
    conn: WsConnection,
    kind: (typeof SUBSCRIPTION_KINDS)[number],
    opts: unknown,
  ): string => {
    const id = newId();
    const notify = (result: unknown) =>
      conn.send({ jsonrpc: "2.0", method: "eth_subscription", params: { subscription: id, result } });
    let off: () => void;
    switch (kind) {
      case "newHeads":
        off = be.events.on("block", (b) => notify(formatBlock(b, false, be.common, null)));
        break;
      case "newPendingTransactions":
        off = be.events.on("pendingTx", (p) => notify(p.hashHex));
        break;
      case "logs": {
        // New logs only, as geth: with fromBlock/toBlock "pending" (MegaETH's Realtime API) as
        // each mini-block seals, else as each block seals, with its final blockHash.
        const parsed = filterObject.safeParse(opts ?? {});
        if (!parsed.success)
          throw invalidParams(
            'param 1 (filter): expected {address?, topics?, fromBlock?: "pending", toBlock?: "pending"}',
          );
        const crit = { fromBlock: 0n, toBlock: (1n << 63n) - 1n, ...logMatchers(parsed.data) };
        off = onLogs(be, crit, wantsPending(parsed.data), notify);
        break;
      }
      case "miniBlocks": {
        const full = (opts as { fullTransactions?: boolean } | undefined)?.fullTransactions === true;
        off = be.events.on("miniBlock", ({ block, miniBlock, txs }) => {
          let gasUsed = 0n;
          for (const t of txs) gasUsed += t.receipt.gasUsed;
          notify({
            number: qty(miniBlock.number),
            hash: bytesToHex(miniBlock.hash),
            parentHash: bytesToHex(miniBlock.parentHash),
            blockNumber: qty(miniBlock.blockNumber),
            index: qty(miniBlock.index),
            timestampUs: qty(miniBlock.timestampUs),
            gasUsed: qty(gasUsed),
            transactions: txs.map((t) => t.hashHex),
            receipts: full ? txs.map((t) => formatReceipt(t, block, be.common)) : undefined,
          });
        });
        break;
      }
      case "stateChanges":
        off = be.events.on("miniBlock", ({ miniBlock }) =>
          notify({
            miniBlock: qty(miniBlock.number),
            blockNumber: qty(miniBlock.blockNumber),
            changes: miniBlock.diff.map((d) => ({
              address: bytesToHex(d.address),
              deleted: (d.flags & 2) !== 0 ? true : undefined,
              nonce: d.nonce === undefined ? undefined : qty(d.nonce),
              balance: d.balance === undefined ? undefined : qty(d.balance),
              codeChanged: d.code === undefined ? undefined : true,
              storage: Object.fromEntries(
                d.storage.map(([k, v]) => [
                  bytesToHex(k),
                  `0x${Buffer.from(v).toString("hex").padStart(64, "0")}`,
                ]),
              ),
            })),
          }),
        );
        break;
    }
    subs.set(id, off);
    conn.onClose(() => {
      off();
      subs.delete(id);
    });
    return id;
  };
  const subs = new Map<string, () => void>();

  const methods: RpcMethodTable<SubscriptionMethod> = {
    eth_subscribe: rpcMethod(
      z.tuple([z.enum(SUBSCRIPTION_KINDS).describe("subscription"), z.unknown().optional()]),
      ([kind, opts], ctx) => {
        if (ctx.connection === null) {
          throw new RpcError(
            RpcErrorCode.MethodNotSupported,
            "notifications not supported: eth_subscribe needs a WebSocket connection",
          );
        }
        return subscribe(ctx.connection, kind, opts);
      },
    ),
    eth_unsubscribe: rpcMethod(z.tuple([z.string().describe("subscription id")]), ([id]) => {
      const off = subs.get(id.toLowerCase());
      if (off === undefined) return false;
      off();
      subs.delete(id.toLowerCase());
      return true;
    }),
    eth_newFilter: rpcMethod(z.tuple([filterObject]), async ([f]) => {
      // A tag as toBlock (or none) moves with the chain: the filter sees every new block.
      const open = f.toBlock === undefined || "tag" in f.toBlock;
      const criteria = await toLogFilter(
        be,
        { ...f, toBlock: open ? { number: (1n << 63n) - 1n } : f.toBlock },
        false,
      );
      // A filter's range may be open-ended; the block-range limit applies to eth_getFilterLogs.
      return install({ kind: "logs", criteria, raw: f });
    }),
    eth_newBlockFilter: rpcMethod(z.tuple([]), () => install({ kind: "blocks", criteria: null, raw: null })),
    eth_newPendingTransactionFilter: rpcMethod(z.tuple([]), () =>
      install({ kind: "pendingTxs", criteria: null, raw: null }),
    ),
    eth_getFilterChanges: rpcMethod(z.tuple([z.string().describe("filter id")]), ([id]) => {
      const f = filter(id);
      if (f.overflowed) {
        f.overflowed = false;
        f.items = [];
        throw new RpcError(
          RpcErrorCode.LimitExceeded,
          `filter buffered more than ${FILTER_MAX_ITEMS} items between polls; poll more often`,
        );
      }
      const items = f.items;
      f.items = [];
      return items;
    }),
    eth_getFilterLogs: rpcMethod(z.tuple([z.string().describe("filter id")]), async ([id]) => {
      const f = filter(id);
      if (f.kind !== "logs") throw new RpcError(RpcErrorCode.InvalidInput, "filter is not a log filter");
      return getLogs(be, await toLogFilter(be, f.raw!));
    }),
    eth_uninstallFilter: rpcMethod(z.tuple([z.string().describe("filter id")]), ([id]) => {
      const f = filters.get(id.toLowerCase());
      if (f === undefined) return false;
      f.unsubscribe();
      filters.delete(id.toLowerCase());
      return true;
    }),
  };
  return {
    methods,
    close() {
      clearInterval(sweep);
      for (const f of filters.values()) f.unsubscribe();
      filters.clear();
      for (const off of subs.values()) off();
      subs.clear();
    },
  };
}
