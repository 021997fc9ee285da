import type { Block } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import type { TypedTransaction } from "@ethereumjs/tx";
import { Address } from "@ethereumjs/util";
import { type VM, createVM, runTx } from "@ethereumjs/vm";
import { type BlockEnv, executionBlock } from "../chain/blockHeader.ts";
import { ZERO_BLOOM } from "../chain/chainStore.ts";
import { type TxFields, effectivePrice, txFieldsOf } from "../chain/txFields.ts";
import { type MemoryState, type ReadSet, newReadSet } from "../state/memoryState.ts";
import type { WitnessReads } from "../trie/stateTrie.ts";
import type { Log, Receipt } from "../types/chain.ts";
import { type BlockHashSource, hashOnlyBlockchain } from "./callRunner.ts";
import { FastPathAbort } from "./fastEvm/abort.ts";
import { FastTxRunner, type SyncBlockHash } from "./fastEvm/fastTx.ts";
import { PlainTransfers } from "./plainTransfer.ts";
import { ErrorCode, StaccatoError } from "../errors.ts";

/**
 * Which EVM runs contract transactions: `@ethereumjs/vm`'s `runTx` (`reference`), or the
 * synchronous interpreter (`fast`), which hands what it does not implement to `runTx`.
 */
export const EXECUTION_ENGINES = ["reference", "fast"] as const;
export type ExecutionEngine = (typeof EXECUTION_ENGINES)[number];

export interface ExecutorOptions {
  /** false: every transaction goes through the engine, plain ETH transfers too (tests compare both). */
  plainTransfers?: boolean;
  /** Default `reference`. */
  engine?: ExecutionEngine;
  /**
   * Block hashes without waiting, for BLOCKHASH on the fast path: the hash, undefined for no such
   * block, null when only `blockHash` could answer (the transaction then runs through `runTx`).
   * Without it, any BLOCKHASH in range sends its transaction to `runTx`.
   */
  syncBlockHash?: SyncBlockHash;
  /** Called with a short, fixed reason each time the fast engine hands a transaction to `runTx`. */
  onFallback?: (reason: string) => void;
  /**
   * Frames that must have run a contract's code before the fast engine compiles it (default
   * `DEFAULT_COMPILE_AFTER`; 0 compiles all code, as tests do to prove the compiler; Infinity never).
   */
  compileAfter?: number;
}

export type TxOutcome = { ok: true; receipt: Receipt; bloom: Uint8Array } | { ok: false; reason: string };

/** What a block's execution read: state keys and codes, and the block numbers BLOCKHASH asked for. */
export interface BlockReads extends ReadSet {
  blockHashes: Set<bigint>;
}

/**
 * Runs transactions with `@ethereumjs/vm` against a `MemoryState`: the sequencer's whole state,
 * or a prover's state backed by a witness. One VM for the life of the executor; each transaction
 * is journaled by the state (checkpoint per call frame). Every key a transaction reads is recorded
 * in the current block's read set (`takeReads`), which becomes the block's witness.
 */
export class Executor {
  private reads: BlockReads = newBlockReads();

  private constructor(
    private readonly vm: VM,
    private readonly common: Common,
    private readonly state: MemoryState,
    /** The shortcut for plain ETH transfers (null: every transaction goes through the engine). */
    private readonly transfers: PlainTransfers | null,
    /** The fast engine (null: `reference`, or rules it does not implement). */
    private readonly fast: FastTxRunner | null,
    private readonly opts: ExecutorOptions,
  ) {}

  static async create(
    common: Common,
    state: MemoryState,
    blockHash: BlockHashSource,
    opts: ExecutorOptions = {},
  ): Promise<Executor> {
    let ex: Executor | null = null;
    const blockchain = hashOnlyBlockchain((n) => {
      ex?.reads.blockHashes.add(n);
      return blockHash(n);
    });
    // biome-ignore lint/suspicious/noExplicitAny: ethereumjs' EVM blockchain interface is loosely typed
    const vm = await createVM({ common, stateManager: state, blockchain: blockchain as any });
    ex = new Executor(
      vm,
      common,
      state,
      opts.plainTransfers === false ? null : PlainTransfers.create(common),
      opts.engine === "fast" ? FastTxRunner.create(common, opts.compileAfter) : null,
      opts,
    );
    return ex;
  }

  /** The engine contract transactions run on (`fast` only if the chain's rules allow it). */
  get engine(): ExecutionEngine {
    return this.fast === null ? "reference" : "fast";
  }

  /** The keys read since the previous call (one block's), and starts a new set. */
  takeReads(): BlockReads {
    const r = this.reads;
    this.reads = newBlockReads();
    return r;
  }

  /** An ethereumjs block carrying the header fields execution reads (no roots yet). */
  blockTemplate(env: BlockEnv): Block {
    return executionBlock(env, this.common);
  }

  /**
   * Executes one transaction on top of the state. A transaction that cannot be included (nonce,
   * balance or fee no longer valid, not enough gas left in the block) changes nothing.
   */
  async execute(t: TxFields | TypedTransaction, block: Block, gasUsedBefore: bigint): Promise<TxOutcome> {
    const tx = "typed" in t ? t : txFieldsOf(t);
    if (gasUsedBefore + tx.gasLimit > block.header.gasLimit)
      return { ok: false, reason: "block gas limit reached" };
    let r: Awaited<ReturnType<typeof runTx>>;
    this.state.reads = this.reads;
    try {
      const plain = this.transfers?.run(this.state, tx, block, gasUsedBefore);
      if (plain != null) return { ok: true, receipt: plain.receipt, bloom: ZERO_BLOOM };
      if (this.fast !== null) {
        const out = this.runFast(this.fast, tx, block, gasUsedBefore);
        if (out !== null) return out;
      }
      r = await runTx(this.vm, {
        tx: tx.typed(),
        block,
        blockGasUsed: gasUsedBefore,
        skipHardForkValidation: true,
      });
    } catch (err) {
      // A witness-backed state throws for a key outside the witness: never a verdict on the tx.
      if (isMissingStateError(err)) throw err;
      return { ok: false, reason: (err as Error).message.split("\n")[0] ?? "invalid transaction" };
    } finally {
      this.state.reads = null;
    }
    const baseFee = block.header.baseFeePerGas ?? 0n;
    const logs: Log[] = r.receipt.logs.map(([address, topics, data]) => ({ address, topics, data }));
    const receipt: Receipt = {
      status: "status" in r.receipt ? r.receipt.status : 1,
      cumulativeGasUsed: r.receipt.cumulativeBlockGasUsed,
      gasUsed: r.totalGasSpent,
      effectiveGasPrice: effectivePrice(tx, baseFee),
      contractAddress: r.createdAddress?.bytes ?? null,
      logs,
    };
    return { ok: true, receipt, bloom: r.receipt.bitvector };
  }

  /** The fast engine's outcome, or null when the transaction must go to `runTx` (state untouched). */
  private runFast(fast: FastTxRunner, tx: TxFields, block: Block, gasUsedBefore: bigint): TxOutcome | null {
    let reason: string;
    try {
      const r = fast.run(this.state, tx, block, gasUsedBefore, this.syncBlockHash);
      if (r.kind === "ok") return { ok: true, receipt: r.receipt, bloom: r.bloom };
      if (r.kind === "invalid") return { ok: false, reason: r.reason };
      reason = r.reason;
    } catch (err) {
      if (isMissingStateError(err)) throw err;
      // Anything else the interpreter throws (a JS stack overflow on a very deep call chain
      // included) is a reason to let the reference engine decide: counted, never guessed.
      reason =
        err instanceof FastPathAbort ? err.reason : `internal error (${(err as Error)?.name ?? "unknown"})`;
    }
    this.opts.onFallback?.(reason);
    return null;
  }

  private readonly syncBlockHash: SyncBlockHash = (n) => {
    const src = this.opts.syncBlockHash;
    const h = src === undefined ? null : src(n);
    if (h !== null) this.reads.blockHashes.add(n);
    return h;
  };
}

export const addressFromBytes = (b: Uint8Array): Address => new Address(b);

export const newBlockReads = (): BlockReads => ({ ...newReadSet(), blockHashes: new Set() });

/** Adds `from`'s keys to `into` (a block's reads, mini-block by mini-block). */
export function mergeReads(into: BlockReads, from: BlockReads): void {
  for (const a of from.accounts) into.accounts.add(a);
  for (const [a, keys] of from.slots) {
    const s = into.slots.get(a);
    if (s === undefined) into.slots.set(a, new Set(keys));
    else for (const k of keys) s.add(k);
  }
  for (const [h, c] of from.codes) if (!into.codes.has(h)) into.codes.set(h, c);
  for (const a of from.codeAddrs) into.codeAddrs.add(a);
  for (const n of from.blockHashes) into.blockHashes.add(n);
}

/** The read set in the shape the state trie takes to record a witness. */
export function toWitnessReads(r: BlockReads): WitnessReads {
  const slots: [string, string[]][] = [];
  for (const [a, keys] of r.slots) slots.push([a, [...keys]]);
  return { accounts: [...r.accounts], slots };
}

/** Thrown by a state that is missing data it should have (a partial, witness-built state). */
export class MissingStateError extends StaccatoError<{ key: string }> {
  /** `key`: the trie node hash or code hash that is missing (0x hex). */
  constructor(message: string, key: string) {
    super(ErrorCode.MissingState, message, { key });
  }
}

function isMissingStateError(err: unknown): boolean {
  return err instanceof MissingStateError || (err as Error)?.name === "MissingTrieNodeError";
}
