import { type Common, Hardfork } from "@ethereumjs/common";
import { getOpcodesForHF, paramsEVM } from "@ethereumjs/evm";

/**
 * The rules the fast EVM runs by, read once from the chain's `Common`: the static gas of every
 * opcode (from `@ethereumjs/evm`'s own opcode table for the hardfork, so both engines charge the
 * same), the dynamic-gas parameters, and which Prague features are on. Gas is a JS number: the
 * executor sends transactions with a gas limit above `MAX_FAST_GAS` (2^52) to `runTx`, so every sum
 * stays an exact integer.
 */
export interface Rules {
  readonly hardfork: "cancun" | "prague";
  /** EIP-7623 calldata floor. */
  readonly calldataFloor: boolean;
  /** EIP-7702 delegations (the fast path hands any delegated code to `runTx`). */
  readonly delegations: boolean;
  readonly chainId: bigint;
  /** Static gas per opcode; -1 for an opcode this hardfork does not have. */
  readonly staticGas: Int32Array;
  readonly g: GasParams;
}

export interface GasParams {
  coldAccount: number;
  warmRead: number;
  coldSload: number;
  sstoreSentry: number;
  sstoreSet: number;
  sstoreReset: number;
  sstoreClearRefund: number;
  sstoreInitRefund: number;
  sstoreCleanRefund: number;
  callValue: number;
  callNewAccount: number;
  callStipend: number;
  memory: number;
  quadCoeffDiv: number;
  copy: number;
  keccakWord: number;
  expByte: number;
  logTopic: number;
  logData: number;
  initCodeWord: number;
  createData: number;
  maxCodeSize: number;
  maxInitCodeSize: number;
  maxRefundQuotient: bigint;
  stackLimit: number;
  selfdestruct: number;
}

/**
 * Gas limits above this go to `runTx`: gas is a JS number, and with at most 2^52 gas every sum of
 * two gas values stays an exact integer in a double.
 */
export const MAX_FAST_GAS = 2n ** 52n;

/** The rules for `common`, or null when its hardfork or extra EIPs are not what the fast EVM implements. */
export function rulesFor(common: Common): Rules | null {
  const hf = common.hardfork();
  if (hf !== Hardfork.Cancun && hf !== Hardfork.Prague) return null;
  if (common.eips().length > 0) return null;
  // The EVM's parameter table, as `new EVM()` merges it (a no-op once merged).
  common.updateParams(paramsEVM);
  const p = (name: string) => Number(common.param(name));
  const staticGas = new Int32Array(256).fill(-1);
  for (const [code, op] of getOpcodesForHF(common).opcodes) {
    if (op.name !== "INVALID") staticGas[code] = op.fee;
  }
  return {
    hardfork: hf,
    calldataFloor: common.isActivatedEIP(7623),
    delegations: common.isActivatedEIP(7702),
    chainId: common.chainId(),
    staticGas,
    g: {
      coldAccount: p("coldaccountaccessGas"),
      warmRead: p("warmstoragereadGas"),
      coldSload: p("coldsloadGas"),
      sstoreSentry: p("sstoreSentryEIP2200Gas"),
      sstoreSet: p("sstoreInitEIP2200Gas"),
      sstoreReset: p("sstoreCleanEIP2200Gas"),
      sstoreClearRefund: p("sstoreClearRefundEIP2200Gas"),
      sstoreInitRefund: p("sstoreInitEIP2200Gas") - p("warmstoragereadGas"),
      sstoreCleanRefund: p("sstoreResetGas") - p("coldsloadGas") - p("warmstoragereadGas"),
      callValue: p("callValueTransferGas"),
      callNewAccount: p("callNewAccountGas"),
      callStipend: p("callStipendGas"),
      memory: p("memoryGas"),
      quadCoeffDiv: p("quadCoefficientDivGas"),
      copy: p("copyGas"),
      keccakWord: p("keccak256WordGas"),
      expByte: p("expByteGas"),
      logTopic: p("logTopicGas"),
      logData: p("logDataGas"),
      initCodeWord: p("initCodeWordGas"),
      createData: p("createDataGas"),
      maxCodeSize: p("maxCodeSize"),
      maxInitCodeSize: p("maxInitCodeSize"),
      maxRefundQuotient: common.param("maxRefundQuotient"),
      stackLimit: p("stackLimit"),
      selfdestruct: p("selfdestructGas"),
    },
  };
}
