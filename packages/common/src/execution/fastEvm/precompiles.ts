import type { Common } from "@ethereumjs/common";
import {
  type ExecResult,
  NobleBLS,
  NobleBN254,
  type PrecompileFunc,
  getActivePrecompiles,
} from "@ethereumjs/evm";
import { FastPathAbort } from "./abort.ts";

export interface PrecompileOutcome {
  ok: boolean;
  /** The precompile failed with REVERT rather than an exceptional halt (its gas is gone either way). */
  reverted: boolean;
  gasUsed: number;
  output: Uint8Array;
}

/**
 * The precompiled contracts of the chain's hardfork, run through `@ethereumjs/evm`'s own
 * implementations (the same code the reference engine calls, so results and gas agree by
 * construction). The ones ethereumjs writes as `async` (KZG point evaluation, the BLS12-381 set)
 * return a promise a synchronous interpreter cannot wait for: calling one abandons the fast path
 * for the transaction (`FastPathAbort`), which then runs through `runTx`.
 */
export class Precompiles {
  private readonly fns = new Map<string, PrecompileFunc>();
  /** What the precompiles read from the EVM they are given: the curve back-ends. */
  private readonly host: { _bn254: NobleBN254; _bls: NobleBLS };

  constructor(private readonly common: Common) {
    for (const [addr, fn] of getActivePrecompiles(common))
      if (fn !== undefined) this.fns.set(`0x${addr}`, fn);
    this.host = { _bn254: new NobleBN254(), _bls: new NobleBLS() };
  }

  /** The addresses (keys), for warming at the start of a transaction. */
  addresses(): IterableIterator<string> {
    return this.fns.keys();
  }

  has(addr: string): boolean {
    return this.fns.has(addr);
  }

  run(addr: string, data: Uint8Array, gasLimit: number): PrecompileOutcome {
    const fn = this.fns.get(addr)!;
    const r = fn({
      data,
      gasLimit: BigInt(gasLimit),
      common: this.common,
      // biome-ignore lint/suspicious/noExplicitAny: the precompiles read only the curve back-ends off the EVM
      _EVM: this.host as any,
    });
    if (r instanceof Promise) {
      // Nothing to wait for: the caller abandons the transaction, and `runTx` runs the precompile again.
      r.catch(() => {});
      throw new FastPathAbort(`async precompile ${addr}`);
    }
    const res = r as ExecResult;
    const err = res.exceptionError;
    return {
      ok: err === undefined,
      reverted: err?.error === "revert",
      gasUsed: Number(res.executionGasUsed),
      output: res.returnValue,
    };
  }
}
