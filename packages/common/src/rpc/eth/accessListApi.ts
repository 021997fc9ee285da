import { runTx } from "@ethereumjs/vm";
import { z } from "zod";
import { replayOver } from "../debug/replay.ts";
import {
  TRACE_LIMITS,
  TraceAbort,
  TraceBudget,
  traceGateFor,
  attachTracer,
  gethError,
} from "../debug/traceSession.ts";
import { type RpcMethodTable, rpcMethod } from "../dispatch.ts";
import { invalidInput } from "../errors.ts";
import * as s from "../schemas.ts";
import { type ChainBackend, stateAt } from "./backend.ts";
import { type TxCallObject, callBlock, callTx, hasFee, txCallObject } from "./callTx.ts";
import { qty } from "./format.ts";
import { txErrorMessage } from "../debug/replay.ts";

/** Rounds of "run, collect what was touched, run again with it" before giving up on a fixpoint. */
const MAX_ROUNDS = 10;

type AccessListEntry = {
  [k: string]: unknown;
  address: string;
  storageKeys: string[];
};

/** The methods `accessListApi` answers. */
export const ACCESS_LIST_METHODS = ["eth_createAccessList"] as const;
export type AccessListMethod = (typeof ACCESS_LIST_METHODS)[number];

/**
 * eth_createAccessList, as geth: runs the call, collects every address and storage slot it
 * touched (minus the sender, the recipient and precompiles, which are warm anyway; a slot of the
 * recipient brings its address in), runs again with that list until the list stops changing, and
 * answers `{accessList, gasUsed, error?}`: the gas the transaction uses with that list, and the
 * execution error if it fails with it.
 */
export function accessListApi(be: ChainBackend, gate = traceGateFor(be)): RpcMethodTable<AccessListMethod> {
  const methods: RpcMethodTable<AccessListMethod> = {
    eth_createAccessList: rpcMethod(z.tuple([txCallObject, s.blockTagOrHash.optional()]), ([c, tag]) =>
      gate.run(() => createAccessList(be, c, tag ?? { tag: "pending" })),
    ),
  };
  return methods;
}

async function createAccessList(be: ChainBackend, c: TxCallObject, tag: s.BlockTagOrHash) {
  const at = await stateAt(be, tag);
  const block = callBlock(be, at.block, !hasFee(c));
  const budget = new TraceBudget(TRACE_LIMITS.defaultTimeoutMs);
  let list: AccessListEntry[] = (c.accessList ?? []).map((e) => ({
    address: e.address,
    storageKeys: [...e.storageKeys],
  }));
  for (let round = 0; ; round++) {
    const st = await replayOver(be, at.view, block);
    const tx = callTx(be, { ...c, accessList: list }, st.layer, be.limits.callGasCap);
    const from = tx.getSenderAddress().toString();
    const detach = attachTracer(st.vm.evm, null, st.layer, budget);
    let r: Awaited<ReturnType<typeof runTx>>;
    try {
      r = await runTx(st.vm, {
        tx,
        block,
        skipNonce: true,
        skipBlockGasLimitValidation: true,
        skipHardForkValidation: true,
        reportAccessList: true,
      });
    } catch (err) {
      if (err instanceof TraceAbort) throw err;
      throw invalidInput(txErrorMessage(err));
    } finally {
      detach();
    }
    const to = tx.to?.toString() ?? r.createdAddress?.toString();
    const next = normalize(r.accessList ?? [], new Set([from, to ?? ""]));
    if (sameList(next, list) || round + 1 >= MAX_ROUNDS) {
      const err = r.execResult.exceptionError?.error;
      return {
        accessList: next,
        gasUsed: qty(r.totalGasSpent),
        ...(err === undefined ? {} : { error: gethError(err) }),
      };
    }
    list = next;
    await budget.pause();
  }
}

/** Lower-case, sorted, without the excluded addresses unless a slot of theirs was touched. */
function normalize(
  raw: { address: string; storageKeys: string[] }[],
  exclude: Set<string>,
): AccessListEntry[] {
  const out: AccessListEntry[] = [];
  for (const e of raw) {
    const address = e.address.toLowerCase();
    const storageKeys = e.storageKeys.map((k) => `0x${k.slice(2).toLowerCase().padStart(64, "0")}`).sort();
    if (exclude.has(address) && storageKeys.length === 0) continue;
    out.push({ address, storageKeys });
  }
  return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

function sameList(a: AccessListEntry[], b: AccessListEntry[]): boolean {
  const key = (l: AccessListEntry[]) =>
    JSON.stringify(
      [...l]
        .map((e) => ({ address: e.address, storageKeys: [...e.storageKeys].sort() }))
        .sort((x, y) => (x.address < y.address ? -1 : 1)),
    );
  return key(a) === key(b);
}
