import type { Block } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { TransactionType } from "@ethereumjs/tx";
import { receiptBloom } from "../../chain/blockHeader.ts";
import { KECCAK256_NULL } from "../../crypto/keccak.ts";
import { ZERO_BLOOM } from "../../chain/chainStore.ts";
import type { MemoryState } from "../../state/memoryState.ts";
import type { Receipt } from "../../types/chain.ts";
import { bytesOfHex, hexOf } from "../../util/hex.ts";
import { type TxFields, effectivePrice, upfrontCost } from "../../chain/txFields.ts";
import { FastPathAbort } from "./abort.ts";
import { DEFAULT_COMPILE_AFTER } from "./blockCompiler.ts";
import { STATUS_OK } from "./frame.ts";
import { MAX_FAST_GAS, type Rules, rulesFor } from "./rules.ts";
import { FastVm, createAddress } from "./vm.ts";
import { toBig } from "./words.ts";

export type FastTxResult =
  | { kind: "ok"; receipt: Receipt; bloom: Uint8Array }
  /** The transaction cannot be included (nonce, balance, fee, intrinsic gas): nothing changed. */
  | { kind: "invalid"; reason: string }
  /** Not for the fast path: nothing was read or written beyond what `runTx` reads first. */
  | { kind: "fallback"; reason: string };

/**
 * A block hash the fast path can read without waiting: the hash, undefined for a block that does
 * not exist (BLOCKHASH gives zero, as with `runTx`), or null if it would have to wait (→ runTx).
 */
export type SyncBlockHash = (n: bigint) => Uint8Array | undefined | null;

/**
 * Executes whole transactions with the fast EVM, mirroring `@ethereumjs/vm`'s `runTx` on a
 * `MemoryState`: the same validation (a transaction `runTx` rejects is `invalid` here), the same
 * fee debit, nonce bump, warm set, execution, refund cap (EIP-3529), calldata floor (EIP-7623),
 * sender refund, coinbase payment, EIP-6780 self-destructs and EIP-161 cleanup, in the same order
 * and with the same state reads, so receipts, state diff and witness reads are identical.
 *
 * Blob (EIP-4844) and set-code (EIP-7702) transactions, senders with code, gas limits above
 * `MAX_FAST_GAS`, and whatever the interpreter abandons mid-way (`FastPathAbort`) are handed to
 * `runTx`: up front as `fallback`, or by throwing after `rollback()` restored the state.
 */
export class FastTxRunner {
  private readonly vm: FastVm;

  private constructor(
    private readonly rules: Rules,
    common: Common,
    compileAfter: number,
  ) {
    this.vm = new FastVm(rules, common);
    this.vm.compileAfter = compileAfter;
    for (const a of this.vm.pre.addresses()) this.vm.sub.alwaysWarm.add(a);
  }

  /** Null when the chain's rules are not ones the fast EVM implements (then everything goes to runTx). */
  static create(common: Common, compileAfter = DEFAULT_COMPILE_AFTER): FastTxRunner | null {
    const rules = rulesFor(common);
    return rules === null ? null : new FastTxRunner(rules, common, compileAfter);
  }

  /**
   * Runs one transaction. Throws `FastPathAbort` (after restoring the state) when it has to be
   * run by `runTx` instead; any other error also leaves the state restored.
   */
  run(
    state: MemoryState,
    tx: TxFields,
    block: Block,
    gasUsedBefore: bigint,
    blockHash: SyncBlockHash,
  ): FastTxResult {
    if (tx.type === TransactionType.BlobEIP4844) return { kind: "fallback", reason: "blob transaction" };
    if (tx.type === TransactionType.EOACodeEIP7702)
      return { kind: "fallback", reason: "set-code transaction" };
    if (tx.gasLimit > MAX_FAST_GAS) return { kind: "fallback", reason: "gas limit above 2^52" };
    const vm = this.vm;
    vm.state = state;
    try {
      return this.execute(state, tx, block, gasUsedBefore, blockHash);
    } catch (err) {
      this.rollback(state);
      throw err;
    }
  }

  /** Undoes everything an abandoned attempt did: open checkpoints, and the transaction's original slot values. */
  private rollback(state: MemoryState): void {
    const vm = this.vm;
    while (vm.openCheckpoints > 0) {
      state.revertSync();
      vm.openCheckpoints--;
    }
    state.clearOriginals();
    vm.sub.reset();
    // Frames unwound by the throw did not zero and return their memory.
    vm.pool.clear();
  }

  // The same parameters as `run`, passed on rather than bundled: one object per transaction on the
  // hot path is a cost with no reader to gain.
  private execute(
    state: MemoryState,
    tx: TxFields,
    block: Block,
    gasUsedBefore: bigint,
    blockHash: SyncBlockHash,
  ): FastTxResult {
    const vm = this.vm;
    const header = block.header;
    const from = tx.senderHex;
    const intrinsic = tx.intrinsicGas;
    const floor = this.rules.calldataFloor ? tx.floorGas : 0n;
    const minGas = intrinsic > floor ? intrinsic : floor;
    if (tx.gasLimit < minGas)
      return { kind: "invalid", reason: `intrinsic gas too low: have ${tx.gasLimit}, want ${minGas}` };
    const baseFee = header.baseFeePerGas ?? 0n;
    const is1559 = tx.is1559;
    const maxFee = tx.maxFee;
    if (maxFee < baseFee) return { kind: "invalid", reason: "max fee per gas less than block base fee" };

    const acc = state.account(from);
    if (acc !== undefined && !vm.isEmptyCodeHash(acc.codeHash))
      return { kind: "fallback", reason: "sender has code" };
    const balance = acc?.balance ?? 0n;
    const nonce = acc?.nonce ?? 0n;
    if (balance < upfrontCost(tx, baseFee))
      return { kind: "invalid", reason: "insufficient funds for gas * price + value" };
    if (balance < tx.value + (is1559 ? tx.gasLimit * maxFee : 0n))
      return { kind: "invalid", reason: "insufficient funds for gas * price + value" };
    if (nonce !== tx.nonce)
      return { kind: "invalid", reason: `nonce mismatch: account ${nonce}, tx ${tx.nonce}` };

    const gasPrice = effectivePrice(tx, baseFee);
    const inclusionFee = gasPrice - baseFee;

    // Environment: the block's fields once per header (a block's transactions share it).
    if (vm.header !== header) {
      vm.number = header.number;
      vm.timestamp = header.timestamp;
      vm.coinbase = hexOf(header.coinbase.bytes);
      vm.coinbaseWord = BigInt(vm.coinbase);
      vm.blockGasLimit = header.gasLimit;
      vm.baseFee = baseFee;
      vm.prevRandao = toBig(header.mixHash);
      vm.header = header;
    }
    vm.blockHashFn = blockHash;
    vm.origin = from;
    vm.originWord = BigInt(from);
    vm.gasPrice = gasPrice;
    const sub = vm.sub;
    sub.reset();

    // runTx: the outer checkpoint, the warm set, the up-front debit and the nonce.
    vm.checkpoint();
    sub.warmAddrs.add(from);
    const to = tx.to === null ? null : hexOf(tx.to);
    if (to !== null) sub.warmAddrs.add(to);
    sub.warmAddrs.add(vm.coinbase);
    for (const [addrBytes, slots] of tx.accessList) {
      const a = hexOf(addrBytes);
      sub.warmAddrs.add(a);
      for (const k of slots) sub.warmSlots.add(a + hexOf(k));
    }
    const txCost = tx.gasLimit * gasPrice;
    state.writeAccount(from, {
      nonce: nonce + 1n,
      balance: balance - txCost,
      codeHash: acc?.codeHash ?? KECCAK256_NULL,
    });
    sub.touch(from);

    // The message.
    const execGas = Number(tx.gasLimit - intrinsic);
    let status: number;
    let gasLeft: number;
    let created: string | null = null;
    vm.checkpoint();
    if (to !== null) {
      const r = vm.callMessage(from, to, to, tx.value, tx.data, execGas, false, 0, false);
      status = r.status;
      gasLeft = r.gasLeft;
    } else {
      const address = createAddress(from, nonce);
      const r = vm.createMessage(from, address, tx.value, tx.data, execGas, 0);
      status = r.status;
      gasLeft = r.gasLeft;
      if (r.created) created = address;
    }
    vm.commit();

    // Gas: refund capped at a fifth (EIP-3529), then the calldata floor (EIP-7623).
    let gasUsed = tx.gasLimit - BigInt(gasLeft);
    const refund = status === STATUS_OK ? BigInt(sub.refund) : 0n;
    if (refund > 0n) {
      const cap = gasUsed / this.rules.g.maxRefundQuotient;
      gasUsed -= refund < cap ? refund : cap;
    }
    if (gasUsed < floor) gasUsed = floor;
    vm.pay(from, txCost - gasUsed * gasPrice);
    vm.pay(vm.coinbase, gasUsed * inclusionFee);

    // EIP-6780: only contracts created by this transaction are deleted.
    if (status === STATUS_OK && sub.selfdestructs.size > 0) {
      for (const a of [...sub.selfdestructs].sort()) {
        if (!sub.created.has(a)) continue;
        sub.touch(a);
        state.removeAccount(a);
      }
    }
    // EIP-161: touched accounts left empty are removed.
    for (const a of sub.touched) {
      const t = state.account(a);
      if (t === undefined || vm.isEmpty(t)) state.removeAccount(a);
    }
    vm.commit();
    state.clearOriginals();

    const logs = status === STATUS_OK ? sub.logs : [];
    const receipt: Receipt = {
      status: status === STATUS_OK ? 1 : 0,
      cumulativeGasUsed: gasUsedBefore + gasUsed,
      gasUsed,
      effectiveGasPrice: gasPrice,
      contractAddress: created === null ? null : bytesOfHex(created),
      logs,
    };
    const bloom = logs.length === 0 ? ZERO_BLOOM : receiptBloom(receipt);
    return { kind: "ok", receipt, bloom };
  }
}

export { FastPathAbort };
