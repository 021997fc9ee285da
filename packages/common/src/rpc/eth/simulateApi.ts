import type { EVMResult, InterpreterStep, Message } from "@ethereumjs/evm";
import { Capability, type TypedTransaction } from "@ethereumjs/tx";
import { bytesToHex, hexToBytes, setLengthLeft } from "@ethereumjs/util";
import { z } from "zod";
import {
  buildHeader,
  encodeConsensusReceipt,
  executionBlock,
  nextBaseFee,
  orderedTrieRoot,
  receiptBloom,
} from "../../chain/blockHeader.ts";
import { type ChainBlock, type TxEntry, ZERO_BLOOM } from "../../chain/chainStore.ts";
import { KECCAK256_RLP, keccak256 } from "../../crypto/keccak.ts";
import { effectiveGasPrice, revertReason } from "../../execution/callRunner.ts";
import type { Log, Receipt } from "../../types/chain.ts";
import { memorySlice, word } from "../debug/callTracer.ts";
import { type ReplayState, replayOver, runTraced } from "../debug/replay.ts";
import { TRACE_LIMITS, TraceBudget, traceGateFor, type Tracer, gethError } from "../debug/traceSession.ts";
import { type RpcMethodTable, rpcMethod } from "../dispatch.ts";
import { RpcError, RpcErrorCode } from "../errors.ts";
import * as s from "../schemas.ts";
import { type ChainBackend, stateAt } from "./backend.ts";
import { type TxCallObject, callTx, txCallObject } from "./callTx.ts";
import { blockHashHex, formatBlock, qty, timestampOf } from "./format.ts";
import { applyStateOverrides, stateOverridesSchema } from "./stateOverrides.ts";

/** Simulated blocks per request, as the spec recommends (BLOCKHASH's reach). */
export const MAX_SIMULATED_BLOCKS = 256;
/** Calls per request, over all its blocks. */
export const MAX_SIMULATED_CALLS = 1_000;

/** The pseudo-contract `traceTransfers` logs ETH transfers from (execution-apis). */
const TRANSFER_LOG_ADDRESS = hexToBytes(`0x${"ee".repeat(20)}`);
/** keccak256("Transfer(address,address,uint256)"). */
const TRANSFER_TOPIC = hexToBytes("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

const blockOverrides = z
  .looseObject({
    number: s.quantity.optional(),
    time: s.quantity.optional(),
    gasLimit: s.quantity.optional(),
    feeRecipient: s.address.optional(),
    prevRandao: s.hash32.optional(),
    baseFeePerGas: s.quantity.optional(),
    blobBaseFee: s.quantity.optional(),
    withdrawals: z.array(z.unknown()).max(0, "withdrawals are not supported on this chain").optional(),
  })
  .describe("blockOverrides");

const simulatePayload = z
  .looseObject({
    blockStateCalls: z
      .array(
        z.looseObject({
          blockOverrides: blockOverrides.optional(),
          stateOverrides: stateOverridesSchema.optional(),
          calls: z.array(txCallObject).optional(),
        }),
      )
      .min(1, "at least one block")
      .max(MAX_SIMULATED_BLOCKS, `at most ${MAX_SIMULATED_BLOCKS} blocks`),
    traceTransfers: z.boolean().optional(),
    validation: z.boolean().optional(),
    returnFullTransactions: z.boolean().optional(),
  })
  .describe("payload");
type SimulatePayload = z.output<typeof simulatePayload>;

/** execution-apis error codes of eth_simulateV1. */
const SimError = {
  nonceTooLow: -38010,
  nonceTooHigh: -38011,
  baseFeeTooLow: -38012,
  intrinsicGas: -38013,
  insufficientFunds: -38014,
  blockGasLimit: -38015,
  blockNumberOrder: -38020,
  timestampOrder: -38021,
  clientLimit: -38026,
  vmError: -32015,
} as const;

/** The methods `simulateApi` answers. */
export const SIMULATE_METHODS = ["eth_simulateV1"] as const;
export type SimulateMethod = (typeof SIMULATE_METHODS)[number];

/**
 * eth_simulateV1 (execution-apis): blocks of calls on top of a block's state, each building on
 * the last, with block and state overrides, `validation` (nonces, fees and balances checked as in
 * a real block), `traceTransfers` (ETH movements as ERC-20 `Transfer` logs from 0xeeee…eeee) and
 * `returnFullTransactions`. Blocks carry real transactions and receipts roots and hashes; their
 * `stateRoot` is zero (this node computes state roots only for sealed blocks).
 */
export function simulateApi(be: ChainBackend, gate = traceGateFor(be)): RpcMethodTable<SimulateMethod> {
  const methods: RpcMethodTable<SimulateMethod> = {
    eth_simulateV1: rpcMethod(z.tuple([simulatePayload, s.blockTagOrHash.optional()]), async ([p, tag]) => {
      const calls = p.blockStateCalls.reduce((n, b) => n + (b.calls?.length ?? 0), 0);
      if (calls > MAX_SIMULATED_CALLS)
        throw new RpcError(SimError.clientLimit, `too many calls: ${calls}, at most ${MAX_SIMULATED_CALLS}`);
      return gate.run(() => simulate(be, p, tag ?? { tag: "latest" }));
    }),
  };
  return methods;
}

interface SimBlockEnv {
  number: bigint;
  timestamp: bigint;
  gasLimit: bigint;
  baseFee: bigint;
  coinbase: Uint8Array;
  prevRandao: Uint8Array;
  gasUsed: bigint;
  hash: Uint8Array;
}

async function simulate(be: ChainBackend, p: SimulatePayload, tag: s.BlockTagOrHash): Promise<object[]> {
  const at = await stateAt(be, tag);
  const budget = new TraceBudget(TRACE_LIMITS.blockTimeoutMs);
  const validation = p.validation === true;
  const base = at.block;
  let prev: SimBlockEnv = {
    number: base.number,
    timestamp: timestampOf(base),
    gasLimit: base.gasLimit,
    baseFee: base.baseFee,
    coinbase: base.coinbase,
    prevRandao: base.prevRandao,
    gasUsed: base.gasUsed,
    hash: base.hash ?? new Uint8Array(32),
  };
  let st: ReplayState | null = null;
  const out: object[] = [];
  for (let i = 0; i < p.blockStateCalls.length; i++) {
    const bsc = p.blockStateCalls[i]!;
    const o = bsc.blockOverrides ?? {};
    const number = o.number ?? prev.number + 1n;
    if (number <= prev.number)
      throw new RpcError(
        SimError.blockNumberOrder,
        `block numbers must increase: ${number} after ${prev.number}`,
      );
    // Skipped numbers become empty blocks, as the spec asks.
    while (prev.number + 1n < number) {
      if (out.length >= MAX_SIMULATED_BLOCKS)
        throw new RpcError(SimError.clientLimit, `more than ${MAX_SIMULATED_BLOCKS} simulated blocks`);
      const env = nextEnv(be, prev, {}, validation);
      const done = finishBlock(be, env, prev.hash, [], p.returnFullTransactions === true);
      out.push(done.block);
      prev = { ...env, hash: done.hash };
    }
    const env = nextEnv(be, prev, o, validation);
    if (env.timestamp < prev.timestamp)
      throw new RpcError(
        SimError.timestampOrder,
        `block timestamps must not decrease: ${env.timestamp} after ${prev.timestamp}`,
      );
    const block = executionBlock(env, be.common);
    if (st === null) st = await replayOver(be, at.view, block);
    else {
      st.block = block;
      st.gasUsed = 0n;
      st.logIndex = 0;
    }
    await applyStateOverrides(st.layer, bsc.stateOverrides);
    const results: SimCall[] = [];
    for (const c of bsc.calls ?? []) {
      results.push(
        await simulateCall(be, st, env, c, validation, p.traceTransfers === true, budget, results.length),
      );
      await budget.pause();
    }
    env.gasUsed = st.gasUsed;
    const done = finishBlock(be, env, prev.hash, results, p.returnFullTransactions === true);
    out.push(done.block);
    prev = { ...env, hash: done.hash };
  }
  return out;
}

function nextEnv(
  be: ChainBackend,
  prev: SimBlockEnv,
  o: z.output<typeof blockOverrides>,
  validation: boolean,
): SimBlockEnv {
  const number = o.number ?? prev.number + 1n;
  return {
    number,
    timestamp: o.time ?? prev.timestamp + 1n,
    gasLimit: o.gasLimit ?? prev.gasLimit,
    // Without validation, fees are not charged unless asked for: a zero base fee, as eth_call.
    baseFee:
      o.baseFeePerGas ??
      (validation
        ? nextBaseFee(
            { baseFee: prev.baseFee, gasUsed: prev.gasUsed, gasLimit: prev.gasLimit },
            be.config.baseFee,
          )
        : 0n),
    coinbase: o.feeRecipient === undefined ? prev.coinbase : hexToBytes(o.feeRecipient as `0x${string}`),
    prevRandao:
      o.prevRandao === undefined
        ? keccak256(setLengthLeft(hexToBytes(qty(number) as `0x${string}`), 32))
        : hexToBytes(o.prevRandao as `0x${string}`),
    gasUsed: 0n,
    hash: new Uint8Array(32),
  };
}

interface SimCall {
  tx: TypedTransaction;
  sender: Uint8Array;
  receipt: Receipt;
  result: Record<string, unknown>;
  logs: Log[];
}

async function simulateCall(
  be: ChainBackend,
  st: ReplayState,
  env: SimBlockEnv,
  c: TxCallObject,
  validation: boolean,
  traceTransfers: boolean,
  budget: TraceBudget,
  index: number,
): Promise<SimCall> {
  const left = env.gasLimit - st.gasUsed;
  const cap = left < be.limits.callGasCap ? left : be.limits.callGasCap;
  if (c.gas !== undefined && c.gas > left)
    throw new RpcError(
      SimError.blockGasLimit,
      `block gas limit reached: call ${index} wants ${c.gas}, ${left} left`,
    );
  // With validation, fees are charged: a call that names none pays twice the base fee, no tip.
  const priced =
    validation &&
    c.gasPrice === undefined &&
    c.maxFeePerGas === undefined &&
    c.maxPriorityFeePerGas === undefined
      ? { ...c, maxFeePerGas: env.baseFee * 2n, maxPriorityFeePerGas: 0n }
      : c;
  const tx = callTx(be, priced, st.layer, cap);
  const from = tx.getSenderAddress();
  if (validation) {
    const nonce = st.layer.account(from.toString())?.nonce ?? 0n;
    if (tx.nonce < nonce)
      throw new RpcError(
        SimError.nonceTooLow,
        `nonce too low: address ${from}, tx: ${tx.nonce} state: ${nonce}`,
      );
    if (tx.nonce > nonce)
      throw new RpcError(
        SimError.nonceTooHigh,
        `nonce too high: address ${from}, tx: ${tx.nonce} state: ${nonce}`,
      );
    const maxFee = tx.supports(Capability.EIP1559FeeMarket)
      ? (tx as { maxFeePerGas: bigint }).maxFeePerGas
      : (tx as { gasPrice: bigint }).gasPrice;
    if (maxFee < env.baseFee)
      throw new RpcError(
        SimError.baseFeeTooLow,
        `max fee per gas less than block base fee: address ${from}, maxFeePerGas: ${maxFee}, baseFee: ${env.baseFee}`,
      );
  }
  const tracer = new TransferLogTracer(traceTransfers);
  let ran: Awaited<ReturnType<typeof runTraced>>;
  try {
    ran = await runTraced(be, st, tx, tracer, budget, { call: !validation });
  } catch (err) {
    if (err instanceof RpcError && err.rpcCode === RpcErrorCode.InvalidInput) throw simErrorFor(err.message);
    throw err;
  }
  const logs = tracer.logs ?? [];
  const e = ran.end;
  const receipt: Receipt = {
    status: e.error === undefined ? 1 : 0,
    cumulativeGasUsed: st.gasUsed,
    gasUsed: e.gasUsed,
    effectiveGasPrice: effectiveGasPrice(tx, env.baseFee),
    contractAddress: e.createdAddress === null ? null : hexToBytes(e.createdAddress as `0x${string}`),
    logs,
  };
  const result: Record<string, unknown> = {
    returnData: bytesToHex(e.returnValue),
    gasUsed: qty(e.gasUsed),
    status: e.error === undefined ? "0x1" : "0x0",
  };
  if (e.error === "revert") {
    const reason = revertReason(e.returnValue);
    result.error = {
      code: RpcErrorCode.ExecutionReverted,
      message: reason === undefined ? "execution reverted" : `execution reverted: ${reason}`,
      data: bytesToHex(e.returnValue),
    };
  } else if (e.error !== undefined) {
    result.error = { code: SimError.vmError, message: `vm execution error: ${gethError(e.error)}` };
  }
  return { tx, sender: from.bytes, receipt, result, logs };
}

function simErrorFor(message: string): RpcError {
  if (message.startsWith("insufficient funds")) return new RpcError(SimError.insufficientFunds, message);
  if (message.startsWith("intrinsic gas")) return new RpcError(SimError.intrinsicGas, message);
  if (message.startsWith("max fee per gas")) return new RpcError(SimError.baseFeeTooLow, message);
  if (/nonce/.test(message)) return new RpcError(SimError.nonceTooLow, message);
  return new RpcError(RpcErrorCode.InvalidInput, message);
}

/** Builds the block object: header (zero state root), transactions, and each call's result. */
function finishBlock(
  be: ChainBackend,
  env: SimBlockEnv,
  parentHash: Uint8Array,
  calls: SimCall[],
  full: boolean,
): { block: object; hash: Uint8Array } {
  const raws = calls.map((c) => c.tx.serialize());
  const hashes = raws.map((r) => keccak256(r));
  const blooms = calls.map((c) => (c.receipt.logs.length === 0 ? ZERO_BLOOM : receiptBloom(c.receipt)));
  const bloom = new Uint8Array(256);
  for (const b of blooms) for (let i = 0; i < 256; i++) bloom[i]! |= b[i]!;
  const header = buildHeader(
    {
      parentHash,
      coinbase: env.coinbase,
      stateRoot: new Uint8Array(32),
      transactionsRoot: calls.length === 0 ? KECCAK256_RLP : orderedTrieRoot(raws),
      receiptsRoot:
        calls.length === 0
          ? KECCAK256_RLP
          : orderedTrieRoot(calls.map((c, i) => encodeConsensusReceipt(c.receipt, c.tx.type, blooms[i]!))),
      logsBloom: bloom,
      number: env.number,
      gasLimit: env.gasLimit,
      gasUsed: env.gasUsed,
      timestamp: env.timestamp,
      prevRandao: env.prevRandao,
      baseFee: env.baseFee,
    },
    be.common,
  );
  const hash = header.hash();
  let logIndex = 0;
  const entries: TxEntry[] = calls.map((c, i) => {
    const e: TxEntry = {
      hashHex: bytesToHex(hashes[i]!),
      raw: raws[i]!,
      sender: c.sender,
      type: c.tx.type,
      blockNumber: env.number,
      index: i,
      miniBlockNumber: 0n,
      receipt: c.receipt,
      firstLogIndex: logIndex,
      bloom: blooms[i]!,
    };
    logIndex += c.receipt.logs.length;
    return e;
  });
  const chainBlock: ChainBlock = {
    number: env.number,
    timestamp: env.timestamp,
    baseFee: env.baseFee,
    gasLimit: env.gasLimit,
    coinbase: env.coinbase,
    prevRandao: env.prevRandao,
    txs: entries,
    miniBlocks: [],
    gasUsed: env.gasUsed,
    txCount: entries.length,
    miniBlockCount: 0,
    logCount: logIndex,
    header,
    hash,
    signature: null,
  };
  const block = formatBlock(chainBlock, full, be.common, bytesToHex(parentHash)) as Record<string, unknown>;
  block.calls = calls.map((c, i) => {
    const e = entries[i]!;
    const out: Record<string, unknown> = { ...c.result };
    if (c.receipt.status === 1)
      out.logs = c.receipt.logs.map((l, j) => ({
        address: bytesToHex(l.address),
        topics: l.topics.map(bytesToHex),
        data: bytesToHex(l.data),
        blockNumber: qty(env.number),
        blockHash: blockHashHex(chainBlock),
        blockTimestamp: qty(env.timestamp),
        transactionHash: e.hashHex,
        transactionIndex: qty(i),
        logIndex: qty(e.firstLogIndex + j),
        removed: false,
      }));
    return out;
  });
  return { block, hash };
}

interface FrameLogs {
  logs: Log[];
}

/**
 * The logs of a simulated call in execution order: the EVM's own, and with `traceTransfers` one
 * ERC-20 `Transfer(from, to, value)` log from 0xeeee…eeee per ETH transfer, dropped with the
 * frame when it fails.
 */
class TransferLogTracer implements Tracer {
  private readonly frames: FrameLogs[] = [];
  logs: Log[] | null = null;

  constructor(private readonly transfers: boolean) {}

  start(): void {}

  step(s: InterpreterStep): void {
    const op = s.opcode.name;
    if (!op.startsWith("LOG")) return;
    const st = s.stack;
    const n = Number(op.slice(3));
    const topics: Uint8Array[] = [];
    for (let i = 0; i < n; i++) topics.push(hexToBytes(`0x${word(st.at(-3 - i) ?? 0n)}`));
    this.frames.at(-1)?.logs.push({
      address: s.address.bytes,
      topics,
      data: memorySlice(s.memory, Number(st.at(-1) ?? 0n), Number(st.at(-2) ?? 0n)),
    });
  }

  enter(m: Message): void {
    const f: FrameLogs = { logs: [] };
    this.frames.push(f);
    if (this.transfers && m.value > 0n && !m.delegatecall) {
      const to = m.to?.bytes ?? null;
      f.logs.push({
        address: TRANSFER_LOG_ADDRESS,
        topics: [
          TRANSFER_TOPIC,
          setLengthLeft(m.caller.bytes, 32),
          setLengthLeft(to ?? new Uint8Array(20), 32),
        ],
        data: setLengthLeft(hexToBytes(qty(m.value) as `0x${string}`), 32),
      });
    }
  }

  exit(r: EVMResult): void {
    const f = this.frames.pop();
    if (f === undefined) return;
    const failed = r.execResult.exceptionError !== undefined;
    if (f.logs.length > 0 && r.createdAddress !== undefined && this.transfers) {
      // A creation's transfer goes to the address it created.
      const first = f.logs[0]!;
      if (first.address === TRANSFER_LOG_ADDRESS && first.topics[2]!.every((b) => b === 0))
        first.topics[2] = setLengthLeft(r.createdAddress.bytes, 32);
    }
    const parent = this.frames.at(-1);
    const kept = failed ? [] : f.logs;
    if (parent !== undefined) parent.logs.push(...kept);
    else this.logs = kept;
  }

  end(): undefined {
    return undefined;
  }
}
