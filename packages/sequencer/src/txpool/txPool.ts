import type { Common } from "@ethereumjs/common";
import { type TypedTransaction, createTxFromRLP } from "@ethereumjs/tx";
import {
  TxDecoder,
  type TxFields,
  hexOf,
  keccak256,
  pinSender,
  publicKeyToAddress,
  txFieldsOf,
} from "@staccato/common";
import { z } from "zod";
import { FifoQueue } from "./laneQueue.ts";
import { TxRejectedError } from "./txErrors.ts";

/** The tip (wei) that puts a transaction in the priority lane by default (`--priority-fee`). */
export const DEFAULT_PRIORITY_FEE = 1_000_000_000n;
/** Transactions the pool holds by default (`--txpool-max`). */
export const DEFAULT_TXPOOL_MAX = 200_000;
/** How far past its sender's next nonce a transaction may wait by default (`--nonce-gap-limit`). */
export const DEFAULT_NONCE_GAP_LIMIT = 64;

export const txPoolOptionsSchema = z.object({
  /** Transactions held in the pool, ready and queued. */
  maxPoolSize: z.number().int().min(1).default(DEFAULT_TXPOOL_MAX),
  /** How far past a sender's next nonce a queued (future) transaction may be. */
  nonceGapLimit: z.number().int().min(0).default(DEFAULT_NONCE_GAP_LIMIT),
  /** Largest accepted raw transaction, in bytes (geth's limit). */
  maxTxBytes: z
    .number()
    .int()
    .min(1024)
    .default(128 * 1024),
  /** A tip at or above this (wei) puts a transaction in the priority lane; 0 disables the fee tier. */
  priorityFeeThreshold: z.bigint().nonnegative().default(DEFAULT_PRIORITY_FEE),
  /** Senders whose transactions always go in the priority lane (lower-case 0x addresses). */
  prioritySenders: z.array(z.string()).default([]),
});
export type TxPoolOptions = z.infer<typeof txPoolOptionsSchema>;

export const Lane = { priority: 0, bulk: 1 } as const;
export type Lane = (typeof Lane)[keyof typeof Lane];

export interface PoolTx {
  /** Its fields, decoded once on arrival; `tx.typed()` builds the `@ethereumjs/tx` object. */
  readonly tx: TxFields;
  readonly raw: Uint8Array;
  readonly hash: Uint8Array;
  readonly hashHex: string;
  readonly sender: string;
  readonly nonce: bigint;
  readonly lane: Lane;
  readonly maxFee: bigint;
  readonly tip: bigint;
  /** performance.now() at acceptance. */
  readonly receivedAt: number;
  /** Set while the tx sits in a lane queue; a queue entry whose generation differs is stale. */
  readyGen: number;
}

/** What the pool needs to know of the pending state. */
export interface PoolStateView {
  nonce(sender: string): bigint;
  balance(sender: string): bigint;
  baseFee(): bigint;
  blockGasLimit(): bigint;
  /** True if the transaction is already in the chain. */
  isIncluded(hashHex: string): boolean;
}

interface SenderTxs {
  txs: Map<bigint, PoolTx>;
  /** The next nonce that is not ready: every pooled tx below it is in a lane queue. */
  nextReady: bigint;
}

export interface TxPoolEvents {
  onAccepted?(ptx: PoolTx): void;
}

/**
 * Validates transactions before acceptance and orders them for execution.
 *
 * Ordering is first-come, first-served within a lane, the priority lane first: a real-time chain
 * orders by arrival, not by fee auction. A sender's transactions always run in nonce order: a
 * transaction becomes ready (enters its lane's FIFO) when every lower nonce of its sender is ready
 * or executed; until then it is queued, at most `nonceGapLimit` nonces ahead.
 */
export class TxPool {
  private readonly bySender = new Map<string, SenderTxs>();
  private readonly byHash = new Map<string, PoolTx>();
  private readonly lanes = [new FifoQueue<[PoolTx, number]>(), new FifoQueue<[PoolTx, number]>()] as const;
  private readonly prioritySenders: Set<string>;
  private gen = 0;
  private readonly decoder: TxDecoder | null;

  constructor(
    private readonly opts: TxPoolOptions,
    private readonly deps: { common: Common; state: PoolStateView; events?: TxPoolEvents },
  ) {
    this.prioritySenders = new Set(opts.prioritySenders.map((a) => a.toLowerCase()));
    this.decoder = TxDecoder.create(deps.common);
  }

  get size(): number {
    return this.byHash.size;
  }

  readyCount(): number {
    return this.lanes[0].length + this.lanes[1].length;
  }

  /**
   * Every pooled transaction, ready or waiting for an earlier nonce: senders interleaved as they
   * arrived, each sender's in nonce order, so adding them back in this order admits them all.
   */
  pooled(): PoolTx[] {
    // Per sender, its pooled transactions highest nonce first: each arrival slot takes the lowest left.
    const left = new Map<string, PoolTx[]>();
    return [...this.byHash.values()].map((p) => {
      let txs = left.get(p.sender);
      if (txs === undefined) {
        txs = [...this.bySender.get(p.sender)!.txs.values()].sort((a, b) => (a.nonce > b.nonce ? -1 : 1));
        left.set(p.sender, txs);
      }
      return txs.pop()!;
    });
  }

  get(hashHex: string): PoolTx | undefined {
    return this.byHash.get(hashHex);
  }

  /** The nonce the sender's next transaction should use, counting ready pool transactions. */
  pendingNonce(sender: string): bigint {
    const s = this.bySender.get(sender);
    const stateNonce = this.deps.state.nonce(sender);
    return s !== undefined && s.nextReady > stateNonce ? s.nextReady : stateNonce;
  }

  /**
   * Decodes, validates and admits a raw transaction. Throws `TxRejectedError`. `recovered`: its
   * sender, already recovered from the signature (by a `SenderRecoveryPool`).
   */
  add(raw: Uint8Array, recovered?: Uint8Array): PoolTx {
    if (raw.length > this.opts.maxTxBytes) {
      throw new TxRejectedError("oversized", `${raw.length} bytes, limit ${this.opts.maxTxBytes}`);
    }
    const tx = this.decode(raw, recovered);
    // The hash of the bytes as received: they decoded, so they are the canonical encoding that
    // `tx.hash()` would rebuild field by field first (6 % of the sequencer's main thread in an
    // ETH run), and they are the bytes every node hashes (a full node hashes the raw it applies).
    const hash = keccak256(raw);
    const hashHex = hexOf(hash);
    if (this.byHash.has(hashHex) || this.deps.state.isIncluded(hashHex))
      throw new TxRejectedError("alreadyKnown");
    const senderAddr = tx.senderHex;
    const { maxFee, tip } = tx;
    if (tip > maxFee) throw new TxRejectedError("tipAboveFeeCap");
    const minGas = tx.intrinsicGas > tx.floorGas ? tx.intrinsicGas : tx.floorGas;
    if (tx.gasLimit < minGas) {
      throw new TxRejectedError("intrinsicGasTooLow", `gas ${tx.gasLimit}, minimum needed ${minGas}`);
    }
    const gasLimit = this.deps.state.blockGasLimit();
    if (tx.gasLimit > gasLimit)
      throw new TxRejectedError("gasLimitTooHigh", `gas ${tx.gasLimit} > ${gasLimit}`);
    const baseFee = this.deps.state.baseFee();
    if (maxFee < baseFee) {
      throw new TxRejectedError("feeCapTooLow", `maxFeePerGas: ${maxFee} baseFee: ${baseFee}`);
    }
    const stateNonce = this.deps.state.nonce(senderAddr);
    if (tx.nonce < stateNonce) {
      throw new TxRejectedError("nonceTooLow", `address ${senderAddr}, tx: ${tx.nonce} state: ${stateNonce}`);
    }
    const cost = tx.gasLimit * maxFee + tx.value;
    const balance = this.deps.state.balance(senderAddr);
    if (balance < cost) {
      throw new TxRejectedError("insufficientFunds", `address ${senderAddr} have ${balance} want ${cost}`);
    }

    const s = this.senderTxs(senderAddr, stateNonce);
    const existing = s.txs.get(tx.nonce);
    if (existing === undefined) {
      if (tx.nonce < s.nextReady) {
        // Below the next ready nonce and not pooled: it is being executed right now.
        throw new TxRejectedError(
          "nonceTooLow",
          `address ${senderAddr}, nonce ${tx.nonce} is already in use`,
        );
      }
      if (tx.nonce > s.nextReady + BigInt(this.opts.nonceGapLimit)) {
        throw new TxRejectedError(
          "nonceTooHigh",
          `nonce ${tx.nonce} is more than ${this.opts.nonceGapLimit} past the next expected nonce ${s.nextReady}`,
        );
      }
      // A full pool still takes a transaction that can run now, in place of one that waits for
      // an earlier nonce: otherwise future-nonce transactions could lock everyone out.
      if (this.byHash.size >= this.opts.maxPoolSize && !(tx.nonce === s.nextReady && this.evictQueued())) {
        throw new TxRejectedError("poolFull");
      }
    } else {
      if (maxFee * 10n < existing.maxFee * 11n || tip * 10n < existing.tip * 11n) {
        throw new TxRejectedError("underpriced", "a replacement needs at least a 10% higher fee cap and tip");
      }
    }

    const ptx: PoolTx = {
      tx,
      raw,
      hash,
      hashHex,
      sender: senderAddr,
      nonce: tx.nonce,
      lane: this.laneOf(senderAddr, tip),
      maxFee,
      tip,
      receivedAt: performance.now(),
      readyGen: 0,
    };
    if (existing !== undefined) {
      this.byHash.delete(existing.hashHex);
      ptx.readyGen = existing.readyGen;
      existing.readyGen = 0; // its lane entry goes stale
    }
    s.txs.set(tx.nonce, ptx);
    this.byHash.set(hashHex, ptx);
    if (ptx.readyGen !== 0) this.makeReady(ptx);
    else this.promote(s);
    this.deps.events?.onAccepted?.(ptx);
    return ptx;
  }

  /**
   * The transaction's fields and sender: decoded straight from the bytes where `TxDecoder` can
   * (every ordinary transaction), else by `@ethereumjs/tx`, whose errors name the rejection.
   */
  private decode(raw: Uint8Array, recovered: Uint8Array | undefined): TxFields {
    const fast = this.decoder?.decode(raw) ?? null;
    if (fast !== null) {
      try {
        fast.setSender(recovered ?? fast.recoverSender());
      } catch {
        throw new TxRejectedError("badSignature");
      }
      return fast;
    }
    const tx = decodeTx(raw, this.deps.common);
    try {
      // Derived once, with the fast keccak.
      pinSender(tx, recovered ?? publicKeyToAddress(tx.getSenderPublicKey()));
    } catch {
      throw new TxRejectedError("badSignature");
    }
    return txFieldsOf(tx);
  }

  /** The next transaction to execute, priority lane first; it leaves the pool. */
  take(): PoolTx | undefined {
    for (const lane of this.lanes) {
      for (;;) {
        const entry = lane.shift();
        if (entry === undefined) break;
        const [ptx, gen] = entry;
        if (ptx.readyGen !== gen) continue; // replaced or demoted since it was queued
        ptx.readyGen = 0;
        this.remove(ptx);
        return ptx;
      }
    }
    return undefined;
  }

  /** A taken transaction that did not fit (block gas) goes back to the front of its lane. */
  putBack(ptx: PoolTx): void {
    const s = this.bySender.get(ptx.sender);
    if (s === undefined || s.txs.has(ptx.nonce)) return;
    s.txs.set(ptx.nonce, ptx);
    this.byHash.set(ptx.hashHex, ptx);
    ptx.readyGen = ++this.gen;
    this.lanes[ptx.lane].unshift([ptx, ptx.readyGen]);
  }

  /**
   * A taken transaction could not be executed (its sender's balance or nonce moved on). Its
   * sender's later transactions can no longer run, so they go back to waiting for that nonce.
   */
  dropFailed(ptx: PoolTx): void {
    const s = this.bySender.get(ptx.sender);
    if (s === undefined) return;
    s.nextReady = this.deps.state.nonce(ptx.sender);
    for (const t of s.txs.values()) t.readyGen = 0;
    this.promote(s);
  }

  private senderTxs(sender: string, stateNonce: bigint): SenderTxs {
    let s = this.bySender.get(sender);
    if (s === undefined) {
      s = { txs: new Map(), nextReady: stateNonce };
      this.bySender.set(sender, s);
    } else if (s.nextReady < stateNonce) {
      s.nextReady = stateNonce;
    }
    return s;
  }

  private promote(s: SenderTxs): void {
    for (;;) {
      const next = s.txs.get(s.nextReady);
      if (next === undefined) return;
      if (next.readyGen === 0) this.makeReady(next);
      s.nextReady++;
    }
  }

  private makeReady(ptx: PoolTx): void {
    ptx.readyGen = ++this.gen;
    this.lanes[ptx.lane].push([ptx, ptx.readyGen]);
  }

  private remove(ptx: PoolTx): void {
    this.byHash.delete(ptx.hashHex);
    const s = this.bySender.get(ptx.sender);
    if (s === undefined) return;
    if (s.txs.get(ptx.nonce) === ptx) s.txs.delete(ptx.nonce);
  }

  /** Drops the highest-nonce waiting (not ready) transaction of some sender; false if none waits. */
  private evictQueued(): boolean {
    for (const s of this.bySender.values()) {
      let victim: PoolTx | undefined;
      for (const t of s.txs.values())
        if (t.readyGen === 0 && (victim === undefined || t.nonce > victim.nonce)) victim = t;
      if (victim !== undefined) {
        this.remove(victim);
        return true;
      }
    }
    return false;
  }

  /** Forgets senders with nothing pooled whose nonces the state has caught up with. */
  prune(): void {
    for (const [sender, s] of this.bySender) {
      if (s.txs.size === 0 && s.nextReady <= this.deps.state.nonce(sender)) this.bySender.delete(sender);
    }
  }

  private laneOf(sender: string, tip: bigint): Lane {
    if (this.prioritySenders.has(sender)) return Lane.priority;
    const threshold = this.opts.priorityFeeThreshold;
    return threshold > 0n && tip >= threshold ? Lane.priority : Lane.bulk;
  }

  /** Pending (ready or queued) transactions, for `newPendingTransactions` and txpool inspection. */
  *all(): IterableIterator<PoolTx> {
    yield* this.byHash.values();
  }
}

/** Decodes a raw transaction with the chain's rules; maps library errors to pool rejections. */
export function decodeTx(raw: Uint8Array, common: Common): TypedTransaction {
  let tx: TypedTransaction;
  try {
    tx = createTxFromRLP(raw, { common, freeze: false });
  } catch (err) {
    const msg = (err as Error).message ?? "";
    if (/maxFeePerGas cannot be less than maxPriorityFeePerGas/.test(msg))
      throw new TxRejectedError("tipAboveFeeCap");
    if (/chain ?id|EIP155-based V/i.test(msg))
      throw new TxRejectedError("wrongChainId", `expected ${common.chainId()}`);
    if (/invalid signature|s-values|signature/i.test(msg)) throw new TxRejectedError("badSignature");
    if (/TypedTransaction with ID|transaction type .*(unknown|not supported)/i.test(msg)) {
      throw new TxRejectedError("unsupportedType");
    }
    throw new TxRejectedError("malformed", firstLine(msg));
  }
  if (!tx.isSigned()) throw new TxRejectedError("badSignature", "transaction is not signed");
  if (tx.type === 3) throw new TxRejectedError("unsupportedType", "blob transactions are not supported");
  return tx;
}

function firstLine(s: string): string {
  const line = s.split("\n")[0] ?? s;
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
