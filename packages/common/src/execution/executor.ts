import type { Block } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import type { TypedTransaction } from "@ethereumjs/tx";
import { Address } from "@ethereumjs/util";
import { type VM, createVM, runTx } from "@ethereumjs/vm";
import {
  type BlockEnv,
  type BlockHashSource,
  type Log,
  type MemoryState,
  type Receipt,
  effectiveGasPrice,
  executionBlock,
  hashOnlyBlockchain,
} from "@staccato/common";

export type TxOutcome = { ok: true; receipt: Receipt; bloom: Uint8Array } | { ok: false; reason: string };

/**
 * Runs transactions with `@ethereumjs/vm` against the in-memory state. One VM for the life of the
 * sequencer; each transaction is journaled by the state (checkpoint per call frame).
 */
export class Executor {
  private constructor(
    private readonly vm: VM,
    private readonly common: Common,
  ) {}

  static async create(common: Common, state: MemoryState, blockHash: BlockHashSource): Promise<Executor> {
    const blockchain = hashOnlyBlockchain(blockHash);
    // biome-ignore lint/suspicious/noExplicitAny: ethereumjs' EVM blockchain interface is loosely typed
    const vm = await createVM({ common, stateManager: state, blockchain: blockchain as any });
    return new Executor(vm, common);
  }

  /** An ethereumjs block carrying the header fields execution reads (no roots yet). */
  blockTemplate(env: BlockEnv): Block {
    return executionBlock(env, this.common);
  }

  /**
   * Executes one transaction on top of the state. A transaction that cannot be included (nonce,
   * balance or fee no longer valid, not enough gas left in the block) changes nothing.
   */
  async execute(tx: TypedTransaction, block: Block, gasUsedBefore: bigint): Promise<TxOutcome> {
    if (gasUsedBefore + tx.gasLimit > block.header.gasLimit)
      return { ok: false, reason: "block gas limit reached" };
    let r: Awaited<ReturnType<typeof runTx>>;
    try {
      r = await runTx(this.vm, { tx, block, blockGasUsed: gasUsedBefore, skipHardForkValidation: true });
    } catch (err) {
      return { ok: false, reason: (err as Error).message.split("\n")[0] ?? "invalid transaction" };
    }
    const baseFee = block.header.baseFeePerGas ?? 0n;
    const logs: Log[] = r.receipt.logs.map(([address, topics, data]) => ({ address, topics, data }));
    const receipt: Receipt = {
      status: "status" in r.receipt ? r.receipt.status : 1,
      cumulativeGasUsed: r.receipt.cumulativeBlockGasUsed,
      gasUsed: r.totalGasSpent,
      effectiveGasPrice: effectiveGasPrice(tx, baseFee),
      contractAddress: r.createdAddress?.bytes ?? null,
      logs,
    };
    return { ok: true, receipt, bloom: r.receipt.bitvector };
  }
}

export const addressFromBytes = (b: Uint8Array): Address => new Address(b);
