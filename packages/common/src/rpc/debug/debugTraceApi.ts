import { z } from "zod";
import type { ChainBlock } from "../../chain/chainStore.ts";
import { type RpcMethodTable, rpcMethod } from "../dispatch.ts";
import { resourceNotFound } from "../errors.ts";
import { type ChainBackend, resolveBlock, stateAt } from "../eth/backend.ts";
import { callBlock, callTx, hasFee, txCallObject } from "../eth/callTx.ts";
import { applyStateOverrides, stateOverridesSchema } from "../eth/stateOverrides.ts";
import * as s from "../schemas.ts";
import { blockByHash, chainTx, replayBlockTo, replayOver, runTraced, txLocation } from "./replay.ts";
import { type TraceConfig, timeoutOf, traceConfigSchema, tracerFactory } from "./traceConfig.ts";
import { TRACE_LIMITS, TraceBudget, traceGateFor } from "./traceSession.ts";

/** debug_traceCall's config: a TraceConfig plus state overrides. */
const traceCallConfig = traceConfigSchema
  .extend({ stateOverrides: stateOverridesSchema.optional() })
  .describe("traceConfig");

/** The methods `debugTraceApi` answers. */
export const DEBUG_TRACE_METHODS = [
  "debug_traceTransaction",
  "debug_traceCall",
  "debug_traceBlockByNumber",
  "debug_traceBlockByHash",
] as const;
export type DebugTraceMethod = (typeof DEBUG_TRACE_METHODS)[number];

/**
 * geth's debug tracing methods: debug_traceTransaction, debug_traceCall, debug_traceBlockByNumber
 * and debug_traceBlockByHash, with the struct logger (default), `callTracer` and `prestateTracer`.
 * A transaction is traced by running the block's earlier transactions again on the state before
 * the block (so any block within the node's state window, the open block's preconfirmed
 * transactions included). Every request is bounded in time and output size (`TRACE_LIMITS`),
 * and at most `maxConcurrent` run at once.
 */
export function debugTraceApi(be: ChainBackend, gate = traceGateFor(be)): RpcMethodTable<DebugTraceMethod> {
  const traced = <T>(fn: () => Promise<T>): Promise<T> => gate.run(fn);

  const traceBlock = async (b: ChainBlock | undefined, config: TraceConfig | undefined) => {
    const make = tracerFactory(config, 1);
    if (b === undefined) throw resourceNotFound("block not found");
    if (b.hash === null && !be.preconfirmations) throw resourceNotFound("block not found");
    if (b.number === 0n) return [];
    return traced(async () => {
      const budget = new TraceBudget(TRACE_LIMITS.blockTimeoutMs);
      const st = await replayBlockTo(be, b, 0, budget);
      const out: object[] = [];
      // The block's transactions as they are now (the open block may still be growing).
      const txs = b.txs.slice();
      for (const entry of txs) {
        const txBudget = budget.withTimeout(timeoutOf(config));
        const { result } = await runTraced(be, st, chainTx(be, entry), make(txBudget), txBudget, { entry });
        out.push({ txHash: entry.hashHex, result });
        await budget.pause();
      }
      return out;
    });
  };

  const methods: RpcMethodTable<DebugTraceMethod> = {
    debug_traceTransaction: rpcMethod(
      z.tuple([s.hash32, traceConfigSchema.optional()]),
      async ([hash, config]) => {
        const make = tracerFactory(config, 1);
        const loc = await txLocation(be, hash);
        if (loc === undefined) throw resourceNotFound(`transaction ${hash} not found`);
        return traced(async () => {
          const budget = new TraceBudget(timeoutOf(config));
          const st = await replayBlockTo(be, loc.block, loc.tx.index, budget);
          const tx = chainTx(be, loc.tx);
          return (await runTraced(be, st, tx, make(budget), budget, { entry: loc.tx })).result;
        });
      },
    ),

    debug_traceCall: rpcMethod(
      z.tuple([txCallObject, s.blockTagOrHash.optional(), traceCallConfig.optional()]),
      async ([c, tag, config]) => {
        const make = tracerFactory(config, 2);
        return traced(async () => {
          const budget = new TraceBudget(timeoutOf(config));
          const at = await stateAt(be, tag ?? { tag: "latest" });
          const st = await replayOver(be, at.view, callBlock(be, at.block, !hasFee(c)));
          await applyStateOverrides(st.layer, config?.stateOverrides);
          const tx = callTx(be, c, st.layer, be.limits.callGasCap);
          return (await runTraced(be, st, tx, make(budget), budget, { call: true })).result;
        });
      },
    ),

    debug_traceBlockByNumber: rpcMethod(
      z.tuple([s.blockTag, traceConfigSchema.optional()]),
      async ([tag, config]) => traceBlock(await resolveBlock(be, tag), config),
    ),

    debug_traceBlockByHash: rpcMethod(
      z.tuple([s.hash32, traceConfigSchema.optional()]),
      async ([hash, config]) => traceBlock(await blockByHash(be, hash), config),
    ),
  };
  return methods;
}
