import type { Block } from "@ethereumjs/block";
import {
  type AccessList,
  type TypedTransaction,
  createAccessList2930Tx,
  createFeeMarket1559Tx,
} from "@ethereumjs/tx";
import { Address, hexToBytes } from "@ethereumjs/util";
import { z } from "zod";
import { executionBlock } from "../../chain/blockHeader.ts";
import type { BlockHead } from "../../chain/chainStore.ts";
import type { MemoryState } from "../../state/memoryState.ts";
import { invalidParams } from "../errors.ts";
import * as s from "../schemas.ts";
import type { ChainBackend } from "./backend.ts";
import { timestampOf } from "./format.ts";

const optional = <T extends z.ZodType>(t: T) => t.optional();

/** A transaction call object (eth_call's, with `nonce` and `type`); unknown members are ignored. */
export const txCallObject = z
  .looseObject({
    from: optional(s.address),
    to: optional(s.address.nullable()),
    gas: optional(s.quantity),
    gasPrice: optional(s.quantity),
    maxFeePerGas: optional(s.quantity),
    maxPriorityFeePerGas: optional(s.quantity),
    value: optional(s.quantity),
    data: optional(s.hexBytes),
    input: optional(s.hexBytes),
    nonce: optional(s.quantity),
    type: optional(s.quantity),
    accessList: optional(z.array(z.looseObject({ address: s.address, storageKeys: z.array(s.hash32) }))),
  })
  .describe("transaction");
export type TxCallObject = z.output<typeof txCallObject>;

const ZERO = new Address(new Uint8Array(20));

/** Whether the call names a fee: without one it runs at a zero base fee, as geth's eth_call does. */
export function hasFee(c: TxCallObject): boolean {
  return c.gasPrice !== undefined || c.maxFeePerGas !== undefined || c.maxPriorityFeePerGas !== undefined;
}

/**
 * The unsigned transaction a call object describes, with its sender pinned (no signature): a
 * fee-market transaction, or an EIP-2930 one when `gasPrice` is given. `gas` defaults to, and is
 * capped at, `gasCap`; `nonce` to the sender's nonce in `state`.
 */
export function callTx(
  be: ChainBackend,
  c: TxCallObject,
  state: MemoryState,
  gasCap: bigint,
): TypedTransaction {
  if (c.data !== undefined && c.input !== undefined && !sameBytes(c.data, c.input))
    throw invalidParams('both "data" and "input" are set and differ');
  if (c.gasPrice !== undefined && (c.maxFeePerGas !== undefined || c.maxPriorityFeePerGas !== undefined))
    throw invalidParams("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified");
  const from = c.from === undefined ? ZERO : new Address(hexToBytes(c.from as `0x${string}`));
  const fromHex = from.toString();
  const gasLimit = c.gas !== undefined && c.gas < gasCap ? c.gas : gasCap;
  const common = be.common;
  const base = {
    to: c.to === undefined || c.to === null ? undefined : hexToBytes(c.to as `0x${string}`),
    data: c.input ?? c.data ?? new Uint8Array(0),
    value: c.value ?? 0n,
    gasLimit,
    nonce: c.nonce ?? state.account(fromHex)?.nonce ?? 0n,
    accessList: (c.accessList ?? []) as AccessList,
  };
  let tx: TypedTransaction;
  try {
    if (c.gasPrice !== undefined) {
      tx = createAccessList2930Tx({ ...base, gasPrice: c.gasPrice }, { common, freeze: false });
    } else {
      const maxFeePerGas = c.maxFeePerGas ?? c.maxPriorityFeePerGas ?? 0n;
      const maxPriorityFeePerGas = c.maxPriorityFeePerGas ?? (c.maxFeePerGas === undefined ? 0n : 0n);
      if (maxPriorityFeePerGas > maxFeePerGas)
        throw invalidParams("maxPriorityFeePerGas is greater than maxFeePerGas");
      tx = createFeeMarket1559Tx({ ...base, maxFeePerGas, maxPriorityFeePerGas }, { common, freeze: false });
    }
  } catch (err) {
    if (err instanceof z.ZodError || (err as Error).name === "RpcError") throw err;
    throw invalidParams(`param 0 (transaction): ${(err as Error).message.split("\n")[0]}`);
  }
  tx.getSenderAddress = () => from;
  return tx;
}

/** The block a call runs in: `b`'s environment, at a zero base fee when the call names no fee. */
export function callBlock(be: ChainBackend, b: BlockHead, zeroBaseFee: boolean): Block {
  if (!zeroBaseFee) return be.blockTemplate(b);
  return executionBlock(
    {
      number: b.number,
      timestamp: timestampOf(b),
      baseFee: 0n,
      gasLimit: b.gasLimit,
      coinbase: b.coinbase,
      prevRandao: b.prevRandao,
    },
    be.common,
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
