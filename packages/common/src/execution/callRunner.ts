import type { Block } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { type AccessList, type TypedTransaction, createFeeMarket1559Tx } from "@ethereumjs/tx";
import { Address, bytesToHex } from "@ethereumjs/util";
import { type EVM, createEVM } from "@ethereumjs/evm";
import { effectivePrice, feeFieldsOf } from "../chain/txFields.ts";
import { type AnyStateReader, LazyState, isAsyncReader } from "../state/asyncState.ts";
import { MemoryState } from "../state/memoryState.ts";
/** Block hashes for BLOCKHASH; may wait for a block whose seal is still in progress. */
export type BlockHashSource = (number: bigint) => Promise<Uint8Array | undefined>;

export interface CallRequest {
  from?: Uint8Array;
  to?: Uint8Array;
  gas?: bigint;
  value?: bigint;
  data?: Uint8Array;
  /** EIP-2930 access list: charged in the intrinsic gas and warm from the start, as in a transaction. */
  accessList?: AccessList;
}

export type CallResult =
  | { ok: true; returnValue: Uint8Array; gasUsed: bigint }
  | { ok: false; reverted: true; returnValue: Uint8Array; gasUsed: bigint }
  | { ok: false; reverted: false; error: string; gasUsed: bigint };

const ZERO_ADDRESS = new Address(new Uint8Array(20));

/**
 * `eth_call` and `eth_estimateGas`: run a message on a throw-away copy-on-write layer over a
 * state version (pending or latest). The chain's state is never touched.
 */
export class CallRunner {
  constructor(
    private readonly common: Common,
    private readonly blockHash: BlockHashSource,
  ) {}

  async call(view: AnyStateReader, block: Block, req: CallRequest, gasCap: bigint): Promise<CallResult> {
    const layer = layerOver(view);
    const intrinsic = intrinsicGas(req, this.common);
    // A caller's gas is capped like geth's RPCGasCap: "gas": "0xffffffffffffffff" must not buy an
    // unbounded loop.
    const gas = req.gas !== undefined && req.gas < gasCap ? req.gas : gasCap;
    if (gas < intrinsic)
      return {
        ok: false,
        reverted: false,
        error: `intrinsic gas too low: have ${gas}, want ${intrinsic}`,
        gasUsed: 0n,
      };
    return this.run(layer, block, req, gas - intrinsic, intrinsic);
  }

  /** The smallest gas limit with which the call succeeds (binary search), or the failure at the cap. */
  async estimate(
    view: AnyStateReader,
    block: Block,
    req: CallRequest,
    gasCap: bigint,
  ): Promise<{ ok: true; gas: bigint } | CallResult> {
    const intrinsic = intrinsicGas(req, this.common);
    const floor = minimumGas(req, this.common);
    const cap = req.gas !== undefined && req.gas < gasCap ? req.gas : gasCap;
    const layer = layerOver(view);
    const first = await this.run(layer, block, req, cap - intrinsic, intrinsic);
    if (!first.ok) return first;
    let lo = intrinsic + first.gasUsed - 1n;
    let hi = intrinsic + first.gasUsed;
    // Refunds and the 63/64 rule can make the needed limit exceed the gas used: grow, then search.
    let step = first.gasUsed / 64n + 2300n;
    for (;;) {
      if (hi >= cap) {
        hi = cap;
        break;
      }
      if ((await this.run(layer, block, req, hi - intrinsic, intrinsic)).ok) break;
      lo = hi;
      hi += step;
      step *= 2n;
    }
    while (hi - lo > 1n) {
      const mid = (lo + hi) / 2n;
      if ((await this.run(layer, block, req, mid - intrinsic, intrinsic)).ok) hi = mid;
      else lo = mid;
    }
    return { ok: true, gas: hi > floor ? hi : floor };
  }

  private async run(
    layer: MemoryState,
    block: Block,
    req: CallRequest,
    execGas: bigint,
    intrinsic: bigint,
  ): Promise<CallResult> {
    if (execGas < 0n) return { ok: false, reverted: false, error: "out of gas", gasUsed: 0n };
    const blockchain = hashOnlyBlockchain(this.blockHash);
    // biome-ignore lint/suspicious/noExplicitAny: ethereumjs' EVM blockchain interface is loosely typed
    const evm = await createEVM({ common: this.common, stateManager: layer, blockchain: blockchain as any });
    warmUp(evm, block, req);
    await layer.checkpoint();
    try {
      const r = await evm.runCall({
        caller: req.from !== undefined ? new Address(req.from) : ZERO_ADDRESS,
        origin: req.from !== undefined ? new Address(req.from) : ZERO_ADDRESS,
        to: req.to !== undefined ? new Address(req.to) : undefined,
        value: req.value ?? 0n,
        data: req.data ?? new Uint8Array(0),
        gasLimit: execGas,
        gasPrice: 0n,
        block,
      });
      const gasUsed = r.execResult.executionGasUsed;
      const err = r.execResult.exceptionError;
      if (err === undefined) return { ok: true, returnValue: r.execResult.returnValue, gasUsed };
      if (err.error === "revert")
        return { ok: false, reverted: true, returnValue: r.execResult.returnValue, gasUsed };
      return { ok: false, reverted: false, error: err.error, gasUsed: gasUsed + intrinsic };
    } finally {
      await layer.revert();
    }
  }
}

/** A throw-away copy-on-write layer over a state version, in memory or on disk. */
function layerOver(view: AnyStateReader): MemoryState {
  return isAsyncReader(view) ? new LazyState(view) : new MemoryState(view);
}

/**
 * What `runTx` warms before a transaction runs (EIP-2929, EIP-3651, EIP-2930): precompiles,
 * sender, recipient, coinbase and the access list. Without it a call pays cold-access prices a
 * real transaction does not, and estimates disagree with execution.
 */
function warmUp(evm: EVM, block: Block, req: CallRequest): void {
  const journal = evm.journal;
  for (const [address] of evm.precompiles) journal.addAlwaysWarmAddress(address);
  journal.addAlwaysWarmAddress(bytesToHex(req.from ?? ZERO_ADDRESS.bytes).slice(2));
  if (req.to !== undefined) journal.addAlwaysWarmAddress(bytesToHex(req.to).slice(2));
  journal.addAlwaysWarmAddress(bytesToHex(block.header.coinbase.bytes).slice(2));
  for (const item of req.accessList ?? []) {
    const address = item.address.toLowerCase();
    journal.addAlwaysWarmAddress(address, true);
    for (const key of item.storageKeys) journal.addAlwaysWarmSlot(address, key.toLowerCase(), true);
  }
}

function probeTx(req: CallRequest, common: Common) {
  return createFeeMarket1559Tx(
    {
      to: req.to,
      data: req.data ?? new Uint8Array(0),
      value: req.value ?? 0n,
      gasLimit: 0n,
      accessList: req.accessList ?? [],
    },
    { common, freeze: false },
  );
}

export function intrinsicGas(req: CallRequest, common: Common): bigint {
  return probeTx(req, common).getIntrinsicGas();
}

function minimumGas(req: CallRequest, common: Common): bigint {
  return probeTx(req, common).getMinimumGasLimit();
}

/** Decodes `Error(string)` revert data into its message. */
export function revertReason(data: Uint8Array): string | undefined {
  if (data.length < 68 || bytesToHex(data.subarray(0, 4)) !== "0x08c379a0") return undefined;
  try {
    const len = Number(BigInt(bytesToHex(data.subarray(36, 68))));
    if (len > data.length - 68) return undefined;
    return new TextDecoder().decode(data.subarray(68, 68 + len));
  } catch {
    return undefined;
  }
}

/** EIP-1559 effective gas price of a transaction under a base fee. */
export function effectiveGasPrice(tx: TypedTransaction, baseFee: bigint): bigint {
  return effectivePrice(feeFieldsOf(tx), baseFee);
}

/** The little of a blockchain the EVM asks for (BLOCKHASH), answered from a block-hash source. */
export function hashOnlyBlockchain(blockHash: BlockHashSource) {
  const zero = new Uint8Array(32);
  const blockchain = {
    async getBlock(n: number) {
      const h = (await blockHash(BigInt(n))) ?? zero;
      return { hash: () => h };
    },
    async putBlock() {},
    shallowCopy() {
      return blockchain;
    },
  };
  return blockchain;
}
