import type { Block } from "@ethereumjs/block";
import { type TypedTransaction, createTxFromRLP } from "@ethereumjs/tx";
import { Address, bytesToHex } from "@ethereumjs/util";
import { type VM, createVM, runTx } from "@ethereumjs/vm";
import type { ChainBlock, TxEntry } from "../../chain/chainStore.ts";
import { txFieldsOf } from "../../chain/txFields.ts";
import { hashOnlyBlockchain } from "../../execution/callRunner.ts";
import { PlainTransfers } from "../../execution/plainTransfer.ts";
import { type AnyStateReader, LazyState, isAsyncReader } from "../../state/asyncState.ts";
import { type AccountRec, MemoryState, type PreImage, type StateReader } from "../../state/memoryState.ts";
import { RpcError, RpcErrorCode } from "../errors.ts";
import { type ChainBackend, prunedState } from "../eth/backend.ts";
import { TraceAbort, type TraceBudget, type Tracer, type TxEnd, attachTracer } from "./traceSession.ts";

/*
 * Re-execution for traces: the state before a transaction is the state at the end of the block
 * before it, with the block's earlier transactions run again on a copy-on-write layer. Blocks,
 * transactions and historical state are read through the small async accessors below, so they
 * can be pointed at on-disk history without touching the tracers.
 */

/** A block this node holds, by number (sealed, or the open one being filled). */
export async function blockByNumber(be: ChainBackend, n: bigint): Promise<ChainBlock | undefined> {
  return be.chain.getBlock(n);
}

export async function blockByHash(be: ChainBackend, hashHex: string): Promise<ChainBlock | undefined> {
  return be.chain.getBlockByHash(hashHex);
}

/** A transaction and its block; with preconfirmations off, one whose block has not sealed is not found. */
export async function txLocation(
  be: ChainBackend,
  hashHex: string,
): Promise<{ tx: TxEntry; block: ChainBlock } | undefined> {
  const found = await be.chain.getTx(hashHex);
  if (found === undefined || (found.block.hash === null && !be.preconfirmations)) return undefined;
  return found;
}

/**
 * The state at the end of sealed block `n`. A block that is closed but still sealing (its root
 * being computed) is waited for, up to 5 s; a block older than the node's state window is 4444.
 */
export async function stateAfterBlock(be: ChainBackend, n: bigint): Promise<AnyStateReader> {
  for (let i = 0; ; i++) {
    const view = be.history.at(n) ?? be.pastState?.at(n);
    if (view !== undefined) return view;
    if (n < stateFloor(be) || i >= 250 || (await blockByNumber(be, n)) === undefined)
      throw prunedState(be, n);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Throws 4444 if block `n`'s state left the window while a trace read it (its reads may be wrong). */
function checkStillKept(be: ChainBackend, n: bigint): void {
  if (n < stateFloor(be)) throw prunedState(be, n);
}

/** The oldest block whose state this node serves (its window, or its archive's floor). */
function stateFloor(be: ChainBackend): bigint {
  return be.pastState?.floor() ?? be.history.oldest;
}

/** A VM over a throw-away layer, positioned somewhere in a block. */
export interface ReplayState {
  vm: VM;
  layer: MemoryState;
  block: Block;
  chainBlock: ChainBlock | null;
  /** Gas used by the block's transactions run so far. */
  gasUsed: bigint;
  /** Logs emitted by them (the next log's block-wide index). */
  logIndex: number;
  /** The sealed block whose state the layer starts from (checked again at the end). */
  baseNumber: bigint | null;
}

/** A layer and a VM over any state (debug_traceCall, eth_simulateV1, eth_createAccessList). */
export async function replayOver(be: ChainBackend, view: AnyStateReader, block: Block): Promise<ReplayState> {
  const layer = isAsyncReader(view) ? new LazyState(view) : new MemoryState(view);
  const blockchain = hashOnlyBlockchain(async (n) => (await blockByNumber(be, n))?.hash ?? undefined);
  // biome-ignore lint/suspicious/noExplicitAny: ethereumjs' VM blockchain interface is loosely typed
  const vm = await createVM({ common: be.common, stateManager: layer, blockchain: blockchain as any });
  return { vm, layer, block, chainBlock: null, gasUsed: 0n, logIndex: 0, baseNumber: null };
}

/**
 * The state before transaction `upTo` of block `b`: the previous block's state with transactions
 * 0..upTo-1 run again. Each re-run must use the gas its receipt says, or the node's history and
 * its execution disagree: that is an internal error, never a silently wrong trace.
 */
export async function replayBlockTo(
  be: ChainBackend,
  b: ChainBlock,
  upTo: number,
  budget: TraceBudget,
): Promise<ReplayState> {
  if (b.number === 0n) throw new RpcError(RpcErrorCode.InvalidInput, "genesis is not traceable");
  const base = await stateAfterBlock(be, b.number - 1n);
  const st = await replayOver(be, base, be.blockTemplate(b));
  st.chainBlock = b;
  st.baseNumber = b.number - 1n;
  const plain = PlainTransfers.create(be.common);
  for (let i = 0; i < upTo; i++) {
    const entry = b.txs[i]!;
    const tx = chainTx(be, entry);
    const fast = plain?.run(st.layer, txFieldsOf(tx), st.block, st.gasUsed);
    let gasUsed: bigint;
    if (fast != null) gasUsed = fast.receipt.gasUsed;
    else {
      const detach = attachTracer(st.vm.evm, null, st.layer, budget);
      try {
        gasUsed = (
          await runTx(st.vm, { tx, block: st.block, blockGasUsed: st.gasUsed, skipHardForkValidation: true })
        ).totalGasSpent;
      } finally {
        detach();
      }
    }
    checkReceipt(entry, gasUsed);
    st.gasUsed += gasUsed;
    st.logIndex += entry.receipt.logs.length;
    await budget.pause();
  }
  return st;
}

/** A chain transaction, decoded, with its known sender (no signature recovery). */
export function chainTx(be: ChainBackend, entry: TxEntry): TypedTransaction {
  const tx = createTxFromRLP(entry.raw, { common: be.common, freeze: false });
  const sender = new Address(entry.sender);
  tx.getSenderAddress = () => sender;
  return tx;
}

function checkReceipt(entry: TxEntry, gasUsed: bigint): void {
  if (gasUsed !== entry.receipt.gasUsed) {
    throw new Error(
      `re-executing ${entry.hashHex} used ${gasUsed} gas, its receipt says ${entry.receipt.gasUsed}: the node's state history disagrees with its chain`,
    );
  }
}

export interface RunOptions {
  /** debug_traceCall / eth_simulateV1: no nonce check, no block gas limit check. */
  call?: boolean;
  /** The chain entry being re-run: its receipt is checked. */
  entry?: TxEntry;
}

/**
 * Runs one transaction on the replay state with `tracer` hooked in, advances the state past it
 * and returns the tracer's result. A run that ethereumjs refuses (a call that cannot pay, a bad
 * nonce) is an RpcError with its reason.
 */
export async function runTraced(
  be: ChainBackend,
  st: ReplayState,
  tx: TypedTransaction,
  tracer: Tracer | null,
  budget: TraceBudget,
  opts: RunOptions = {},
): Promise<{ result: unknown; end: TxEnd }> {
  const { layer } = st;
  layer.takePreImage(); // what the transaction touches is recorded from here
  const pre = new PreTxView(layer);
  const from = tx.getSenderAddress().toString();
  tracer?.start(
    {
      from,
      to: tx.to?.toString() ?? null,
      gasLimit: tx.gasLimit,
      value: tx.value,
      input: tx.data,
      coinbase: st.block.header.coinbase.toString(),
      pre,
      firstLogIndex: st.logIndex,
    },
    layer,
  );
  const detach = attachTracer(st.vm.evm, tracer, layer, budget);
  let r: Awaited<ReturnType<typeof runTx>>;
  try {
    r = await runTx(st.vm, {
      tx,
      block: st.block,
      blockGasUsed: st.gasUsed,
      skipHardForkValidation: true,
      skipNonce: opts.call === true,
      skipBlockGasLimitValidation: opts.call === true,
    });
  } catch (err) {
    layer.reads = null;
    if (err instanceof TraceAbort) throw err;
    if (opts.entry !== undefined) throw err;
    throw new RpcError(RpcErrorCode.InvalidInput, txErrorMessage(err));
  } finally {
    detach();
  }
  pre.freeze(layer.takePreImage());
  if (opts.entry !== undefined) checkReceipt(opts.entry, r.totalGasSpent);
  const end: TxEnd = {
    gasUsed: r.totalGasSpent,
    returnValue: r.execResult.returnValue,
    error: r.execResult.exceptionError?.error,
    createdAddress: r.createdAddress?.toString() ?? null,
  };
  const result = tracer?.end(end, layer);
  st.gasUsed += r.totalGasSpent;
  st.logIndex += r.receipt.logs.length;
  if (st.baseNumber !== null) checkStillKept(be, st.baseNumber);
  return { result, end };
}

/** ethereumjs' refusal of a transaction, as geth words the common ones. */
export function txErrorMessage(err: unknown): string {
  const msg = ((err as Error)?.message ?? String(err)).split("\n")[0]!.replace(/ -> .*$/, "");
  if (/enough funds|upfront cost|max cost/.test(msg)) return "insufficient funds for gas * price + value";
  if (/maxFeePerGas .*less than block/i.test(msg)) return "max fee per gas less than block base fee";
  if (/intrinsic gas|gasLimit is too low/i.test(msg)) return "intrinsic gas too low";
  if (/not EOA/.test(msg)) return "sender not an eoa";
  return msg.replace(/\s*\(.*?block number.*$/, "");
}

/**
 * The state as it was before the transaction: while it runs, the layer itself (nothing changed
 * yet when a tracer starts); once it ran, the pre-values of what it touched over the layer.
 */
class PreTxView implements StateReader {
  private image: PreImage | null = null;

  constructor(private readonly layer: MemoryState) {}

  freeze(image: PreImage): void {
    this.image = image;
  }

  account(addr: string): AccountRec | undefined {
    const im = this.image;
    if (im?.accounts.has(addr)) return im.accounts.get(addr);
    return this.layer.account(addr);
  }

  code(addr: string): Uint8Array | undefined {
    const im = this.image;
    if (im?.code.has(addr)) return im.code.get(addr);
    return this.layer.code(addr);
  }

  slot(addr: string, key: string): Uint8Array | undefined {
    const im = this.image;
    if (im !== null) {
      const m = im.slots.get(addr);
      if (m?.has(key)) return m.get(key);
      if (im.storage.has(addr)) return im.storage.get(addr)?.get(key);
    }
    return this.layer.slot(addr, key);
  }

  slots(addr: string): ReadonlyMap<string, Uint8Array> | undefined {
    if (this.image === null) return this.layer.slots(addr);
    const merged = new Map(
      this.image.storage.has(addr) ? (this.image.storage.get(addr) ?? []) : (this.layer.slots(addr) ?? []),
    );
    for (const [k, v] of this.image.slots.get(addr) ?? []) {
      if (v === undefined || v.length === 0) merged.delete(k);
      else merged.set(k, v);
    }
    return merged.size > 0 ? merged : undefined;
  }

  hasStorage(addr: string): boolean {
    return (this.slots(addr)?.size ?? 0) > 0;
  }
}

export const hexAddr = (b: Uint8Array): string => bytesToHex(b);
