import { bytesToHex } from "@ethereumjs/util";
import { z } from "zod";
import type { ChainBlock, TxEntry } from "../../chain/chainStore.ts";
import { type CallFrame, CallTracer } from "../debug/callTracer.ts";
import {
  blockByHash,
  blockByNumber,
  chainTx,
  replayBlockTo,
  runTraced,
  txLocation,
} from "../debug/replay.ts";
import { TRACE_LIMITS, TraceBudget, type TxEnd, traceGateFor } from "../debug/traceSession.ts";
import { type RpcMethodTable, rpcMethod } from "../dispatch.ts";
import { RpcError, RpcErrorCode, resourceNotFound } from "../errors.ts";
import { type ChainBackend, resolveBlock, stateAt } from "../eth/backend.ts";
import { formatBlock, formatReceipt, formatTx, parseTx, qty, timestampOf } from "../eth/format.ts";
import * as s from "../schemas.ts";
import type { AddressIndex, TxLoc } from "./addressIndex.ts";

/** The Otterscan API level served (Otterscan 2.x asks for 8). */
export const OTS_API_LEVEL = 8;
/** Largest page the search and block-transaction methods return (Otterscan asks for 25). */
export const OTS_MAX_PAGE = 500;

/** A block number as Otterscan sends it (a JSON number) or as hex, or a tag. */
const blockNum = z
  .union([z.number().int().nonnegative(), s.blockTag])
  .transform((v): s.BlockTag => (typeof v === "number" ? { number: BigInt(v) } : v))
  .describe("blockNumber");
const pageSize = z.number("expected a page size").int().min(1).max(OTS_MAX_PAGE).describe("pageSize");
const nonce = z
  .union([z.number().int().nonnegative(), s.quantity])
  .transform((v) => BigInt(v))
  .describe("nonce");

/** The methods `otsApi` answers. */
export const OTS_METHODS = [
  "ots_getApiLevel",
  "ots_hasCode",
  "ots_getTransactionError",
  "ots_getInternalOperations",
  "ots_traceTransaction",
  "ots_getBlockDetails",
  "ots_getBlockDetailsByHash",
  "ots_getBlockTransactions",
  "ots_searchTransactionsBefore",
  "ots_searchTransactionsAfter",
  "ots_getTransactionBySenderAndNonce",
  "ots_getContractCreator",
  "erigon_getHeaderByNumber",
] as const;
export type OtsMethod = (typeof OTS_METHODS)[number];

/**
 * Otterscan's API (as Erigon serves it) and `erigon_getHeaderByNumber`, so Otterscan can be
 * pointed at this node. Block and transaction methods are answered from the chain; the trace
 * methods re-execute the transaction like debug_traceTransaction; the address searches,
 * `ots_getTransactionBySenderAndNonce` and `ots_getContractCreator` need an address index, which
 * full nodes keep (`index`); without one they answer -32004 naming where to ask.
 */
export function otsApi(be: ChainBackend, index: AddressIndex | null): RpcMethodTable<OtsMethod> {
  const gate = traceGateFor(be);
  const needIndex = (method: string): AddressIndex => {
    if (index !== null) return index;
    throw new RpcError(
      RpcErrorCode.MethodNotSupported,
      `${method} needs the address index that Staccato full nodes keep: point Otterscan at a full node (the sequencer does not index address history)`,
    );
  };

  /** The call tree and outcome of a transaction, re-executed. */
  const traceTx = async (hash: string): Promise<{ tree: CallFrame; end: TxEnd; entry: TxEntry }> => {
    const loc = await txLocation(be, hash);
    if (loc === undefined) throw resourceNotFound(`transaction ${hash} not found`);
    return gate.run(async () => {
      const budget = new TraceBudget(TRACE_LIMITS.defaultTimeoutMs);
      const st = await replayBlockTo(be, loc.block, loc.tx.index, budget);
      const tracer = new CallTracer({ onlyTopCall: false, withLog: false }, budget);
      const { end } = await runTraced(be, st, chainTx(be, loc.tx), tracer, budget, { entry: loc.tx });
      return { tree: tracer.tree(), end, entry: loc.tx };
    });
  };

  const sealed = async (tag: s.BlockTag): Promise<ChainBlock | undefined> => {
    const b = "number" in tag ? await blockByNumber(be, tag.number) : await resolveBlock(be, tag);
    return b === undefined || b.hash === null ? undefined : b;
  };

  const parentHash = async (b: ChainBlock) => {
    const p = await blockByNumber(be, b.number - 1n);
    return p?.hash == null ? null : bytesToHex(p.hash);
  };

  const blockDetails = async (b: ChainBlock | undefined) => {
    if (b === undefined || b.hash === null) return null;
    const block = formatBlock(b, false, be.common, await parentHash(b)) as Record<string, unknown>;
    delete block.transactions;
    block.logsBloom = null;
    block.transactionCount = b.txs.length;
    let fees = 0n;
    for (const t of b.txs) fees += t.receipt.gasUsed * t.receipt.effectiveGasPrice;
    return {
      block,
      issuance: { blockReward: "0x0", uncleReward: "0x0", issuance: "0x0" },
      totalFees: qty(fees),
    };
  };

  /** Transactions and receipts at the given locations, as Erigon's search results carry them. */
  const txsAndReceipts = async (locs: TxLoc[]) => {
    const txs: object[] = [];
    const receipts: object[] = [];
    for (const l of locs) {
      const b = await blockByNumber(be, l.block);
      const t = b?.txs[l.index];
      if (b === undefined || t === undefined) continue;
      txs.push(
        formatTx(parseTx(t.raw, be.common), t.hashHex, bytesToHex(t.sender), { block: b, index: t.index }),
      );
      receipts.push({ ...formatReceipt(t, b, be.common), timestamp: Number(timestampOf(b)) });
    }
    return { txs, receipts };
  };

  const methods: RpcMethodTable<OtsMethod> = {
    ots_getApiLevel: rpcMethod(z.tuple([]), () => OTS_API_LEVEL),

    ots_hasCode: rpcMethod(z.tuple([s.address, s.blockTagOrHash.optional()]), async ([a, tag]) => {
      const code = await (await stateAt(be, tag ?? { tag: "latest" })).view.code(a);
      return code !== undefined && code.length > 0;
    }),

    ots_getTransactionError: rpcMethod(z.tuple([s.hash32]), async ([hash]) => {
      const { end } = await traceTx(hash);
      return end.error === "revert" ? bytesToHex(end.returnValue) : "0x";
    }),

    ots_getInternalOperations: rpcMethod(z.tuple([s.hash32]), async ([hash]) => {
      const { tree } = await traceTx(hash);
      const ops: { type: number; from: string; to: string; value: string }[] = [];
      const walk = (f: CallFrame, depth: number) => {
        if (depth > 0) {
          const value = qty(f.value ?? 0n);
          if (f.type === "CALL" && (f.value ?? 0n) > 0n)
            ops.push({ type: 0, from: f.from, to: f.to ?? f.from, value });
          else if (f.type === "SELFDESTRUCT") ops.push({ type: 1, from: f.from, to: f.to ?? f.from, value });
          else if (f.type === "CREATE" && f.to !== null) ops.push({ type: 2, from: f.from, to: f.to, value });
          else if (f.type === "CREATE2" && f.to !== null)
            ops.push({ type: 3, from: f.from, to: f.to, value });
        }
        for (const c of f.calls) walk(c, depth + 1);
      };
      walk(tree, 0);
      return ops;
    }),

    ots_traceTransaction: rpcMethod(z.tuple([s.hash32]), async ([hash]) => {
      const { tree } = await traceTx(hash);
      const out: object[] = [];
      const walk = (f: CallFrame, depth: number) => {
        const entry: Record<string, unknown> = {
          type: f.type,
          depth,
          from: f.from,
          to: f.to ?? "0x0000000000000000000000000000000000000000",
          value: f.type === "STATICCALL" || f.type === "DELEGATECALL" ? null : qty(f.value ?? 0n),
          input: bytesToHex(f.input),
        };
        if (f.output !== null) entry.output = bytesToHex(f.output);
        out.push(entry);
        for (const c of f.calls) walk(c, depth + 1);
      };
      walk(tree, 0);
      return out;
    }),

    ots_getBlockDetails: rpcMethod(z.tuple([blockNum]), async ([tag]) => blockDetails(await sealed(tag))),
    ots_getBlockDetailsByHash: rpcMethod(z.tuple([s.hash32]), async ([h]) =>
      blockDetails(await blockByHash(be, h)),
    ),

    ots_getBlockTransactions: rpcMethod(
      z.tuple([blockNum, z.number("expected a page number").int().min(0).describe("pageNumber"), pageSize]),
      async ([tag, page, size]) => {
        const b = await sealed(tag);
        if (b === undefined) return null;
        // Page 0 holds the block's last transactions (Otterscan lists newest first), as Erigon.
        const end = Math.max(0, b.txs.length - page * size);
        const start = Math.max(0, end - size);
        const slice = b.txs.slice(start, end);
        const block = formatBlock({ ...b, txs: slice }, true, be.common, await parentHash(b)) as Record<
          string,
          unknown
        >;
        block.transactionCount = b.txs.length;
        block.logsBloom = null;
        const receipts = slice.map((t) => ({
          ...(formatReceipt(t, b, be.common) as Record<string, unknown>),
          logs: null,
          logsBloom: null,
        }));
        return { fullblock: block, receipts };
      },
    ),

    ots_searchTransactionsBefore: rpcMethod(
      z.tuple([s.address, z.number().int().nonnegative().describe("blockNumber"), pageSize]),
      async ([a, block, size]) => {
        const idx = needIndex("ots_searchTransactionsBefore");
        const page = await idx.before(a, block === 0 ? null : BigInt(block), size);
        return { ...(await txsAndReceipts(page.locs)), firstPage: block === 0, lastPage: !page.more };
      },
    ),

    ots_searchTransactionsAfter: rpcMethod(
      z.tuple([s.address, z.number().int().nonnegative().describe("blockNumber"), pageSize]),
      async ([a, block, size]) => {
        const idx = needIndex("ots_searchTransactionsAfter");
        const page = await idx.after(a, BigInt(block), size);
        // Erigon answers newest first in both directions.
        const r = await txsAndReceipts([...page.locs].reverse());
        return { ...r, firstPage: !page.more, lastPage: block === 0 };
      },
    ),

    ots_getTransactionBySenderAndNonce: rpcMethod(z.tuple([s.address, nonce]), async ([a, n]) => {
      const loc = await needIndex("ots_getTransactionBySenderAndNonce").bySenderAndNonce(a, n);
      if (loc === undefined) return null;
      return (await blockByNumber(be, loc.block))?.txs[loc.index]?.hashHex ?? null;
    }),

    ots_getContractCreator: rpcMethod(z.tuple([s.address]), async ([a]) => {
      const c = await needIndex("ots_getContractCreator").creation(a);
      if (c === undefined) return null;
      const b = await blockByNumber(be, c.block);
      if (b === undefined) return null;
      for (let i = c.first; i <= c.last; i++) {
        const t = b.txs[i];
        if (t === undefined) break;
        // Created by the transaction itself: its sender.
        if (t.receipt.contractAddress !== null && bytesToHex(t.receipt.contractAddress) === a)
          return { hash: t.hashHex, creator: bytesToHex(t.sender) };
      }
      // Created by a contract: the frame that created it, found by re-executing.
      for (let i = c.first; i <= c.last; i++) {
        const t = b.txs[i];
        if (t === undefined) break;
        const found = findCreator((await traceTx(t.hashHex)).tree, a);
        if (found !== undefined) return { hash: t.hashHex, creator: found };
      }
      return null;
    }),

    erigon_getHeaderByNumber: rpcMethod(z.tuple([blockNum]), async ([tag]) => {
      const b = await sealed(tag);
      if (b === undefined) return null;
      const h = formatBlock(b, false, be.common, await parentHash(b)) as Record<string, unknown>;
      delete h.transactions;
      delete h.uncles;
      delete h.withdrawals;
      return h;
    }),
  };
  return methods;
}

function findCreator(f: CallFrame, address: string): string | undefined {
  if ((f.type === "CREATE" || f.type === "CREATE2") && f.to === address && f.error === null) return f.from;
  for (const c of f.calls) {
    const found = findCreator(c, address);
    if (found !== undefined) return found;
  }
  return undefined;
}
