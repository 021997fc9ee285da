import type { Block } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { TransactionType } from "@ethereumjs/tx";
import { equalsBytes } from "@ethereumjs/util";
import { KECCAK256_NULL } from "../crypto/keccak.ts";
import type { AccountRec, MemoryState } from "../state/memoryState.ts";
import type { Receipt } from "../types/chain.ts";
import { hexOf } from "../util/hex.ts";
import { type TxFields, effectivePrice, txGasRules, upfrontCost } from "../chain/txFields.ts";

/** Rules under which the shortcut below is not what `runTx` does (none is active on Prague). */
const UNSUPPORTED_EIPS = [7778, 7825, 7864, 7928, 8037];
const REQUIRED_EIPS = [1559, 2929, 3651, 7623];

export interface PlainTransferResult {
  receipt: Receipt;
}

/**
 * Runs a plain ETH transfer (no data, no access list, to an address without code) directly on
 * the state, with the exact effects `@ethereumjs/vm`'s `runTx` has for it under this chain's
 * rules: 21,000 gas, the sender pays gas × effective price and the value and its nonce goes up,
 * the recipient gets the value, the coinbase gets the priority fee, and the same accounts are read
 * (for the witness). `runTx` spends ~40 µs of one thread on such a transfer; this, ~4 (`bench/micro/transfer.ts`).
 *
 * Returns null for anything else, and for every case where the outcome is not a success or
 * depends on rules this does not model (wrong nonce, too little balance, fee under the base fee,
 * a sender or recipient with code, a precompile, an existing empty account that EIP-161 would
 * remove, a sender or recipient that is the coinbase or each other): the caller runs `runTx`,
 * which gives the canonical result or error. `plainTransfer.test.ts` checks it against `runTx`
 * on random transactions and states.
 */
export class PlainTransfers {
  private constructor(
    /** A transaction's base intrinsic gas under these rules (21,000). */
    private readonly txGas: bigint,
  ) {}

  /** Null when the chain's rules are not those the shortcut models. */
  static create(common: Common): PlainTransfers | null {
    if (UNSUPPORTED_EIPS.some((e) => common.isActivatedEIP(e))) return null;
    if (!REQUIRED_EIPS.every((e) => common.isActivatedEIP(e))) return null;
    return new PlainTransfers(txGasRules(common).param("txGas"));
  }

  run(state: MemoryState, tx: TxFields, block: Block, gasUsedBefore: bigint): PlainTransferResult | null {
    if (tx.type === TransactionType.BlobEIP4844 || tx.type === TransactionType.EOACodeEIP7702) return null;
    const to = tx.to;
    if (to === null || tx.data.length !== 0 || tx.accessList.length !== 0) return null;
    const gas = this.txGas;
    if (tx.gasLimit < gas) return null;
    // Precompiles (and every other address below 2^16): calling them runs code.
    let high = 0;
    for (let i = 0; i < 18; i++) high |= to[i]!;
    if (high === 0) return null;

    const header = block.header;
    const baseFee = header.baseFeePerGas ?? 0n;
    const maxFee = tx.maxFee;
    if (maxFee < baseFee) return null;
    const price = effectivePrice(tx, baseFee);
    const tip = price - baseFee;

    const from = tx.senderHex;
    const toHex = hexOf(to);
    const coinbase = hexOf(header.coinbase.bytes);
    if (from === toHex || from === coinbase || toHex === coinbase) return null;

    // The reads runTx makes, in its order: sender, recipient, coinbase.
    const sender = state.account(from);
    if (sender === undefined || !equalsBytes(sender.codeHash, KECCAK256_NULL)) return null;
    if (sender.nonce !== tx.nonce) return null;
    const value = tx.value;
    // runTx's two balance checks: the up-front cost, and value + gas limit × max fee.
    if (sender.balance < upfrontCost(tx, baseFee) || sender.balance < value + tx.gasLimit * maxFee)
      return null;
    const recipient = state.account(toHex);
    if (recipient !== undefined && (!equalsBytes(recipient.codeHash, KECCAK256_NULL) || isEmpty(recipient)))
      return null;
    const miner = state.account(coinbase);
    if (miner !== undefined && isEmpty(miner)) return null;

    state.writeAccount(from, {
      nonce: sender.nonce + 1n,
      balance: sender.balance - gas * price - value,
      codeHash: sender.codeHash,
    });
    // A zero-value transfer to a missing account touches it, and EIP-161 removes it again.
    if (recipient !== undefined || value > 0n) {
      state.writeAccount(toHex, {
        nonce: recipient?.nonce ?? 0n,
        balance: (recipient?.balance ?? 0n) + value,
        codeHash: recipient?.codeHash ?? KECCAK256_NULL,
      });
    }
    const reward = gas * tip;
    if (reward > 0n) {
      state.writeAccount(coinbase, {
        nonce: miner?.nonce ?? 0n,
        balance: (miner?.balance ?? 0n) + reward,
        codeHash: miner?.codeHash ?? KECCAK256_NULL,
      });
    }
    return {
      receipt: {
        status: 1,
        cumulativeGasUsed: gasUsedBefore + gas,
        gasUsed: gas,
        effectiveGasPrice: price,
        contractAddress: null,
        logs: [],
      },
    };
  }
}

const isEmpty = (a: AccountRec): boolean =>
  a.nonce === 0n && a.balance === 0n && equalsBytes(a.codeHash, KECCAK256_NULL);
