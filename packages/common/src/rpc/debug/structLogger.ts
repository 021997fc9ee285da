import type { EVMResult, InterpreterStep, Message } from "@ethereumjs/evm";
import { bytesToHex } from "@ethereumjs/util";
import type { MemoryState } from "../../state/memoryState.ts";
import { memorySlice, word } from "./callTracer.ts";
import { type TraceBudget, type Tracer, type TxEnd, gethError } from "./traceSession.ts";

export interface StructLoggerConfig {
  disableStack: boolean;
  disableStorage: boolean;
  enableMemory: boolean;
  enableReturnData: boolean;
  /** Struct logs recorded at most (0: no limit but the node's size bound); execution goes on. */
  limit: number;
}

interface StructLog {
  pc: number;
  op: string;
  gas: number;
  gasCost: number;
  depth: number;
  error?: string;
  stack?: string[];
  returnData?: string;
  memory?: string[];
  storage?: Record<string, string>;
  refund?: number;
}

const EMPTY = new Uint8Array(0);

/**
 * geth's default tracer, the struct (opcode) logger: one entry per executed opcode with `pc`, `op`,
 * `gas` (left before the opcode), `gasCost`, `depth` (1 for the transaction's own frame), `stack`
 * (unless `disableStack`), `memory` (with `enableMemory`), `returnData` (with `enableReturnData`),
 * `storage` (the slots of the running contract read or written so far, on SLOAD and SSTORE, unless
 * `disableStorage`) and `refund`. `gasCost` of the CALL and CREATE families is the opcode's own
 * cost (memory expansion, cold access, value transfer), without the gas handed to the callee.
 */
export class StructLogger implements Tracer {
  private readonly logs: StructLog[] = [];
  private readonly storage = new Map<string, Map<string, string>>();
  /** Per open frame: the return data of its last finished sub-call. */
  private readonly returnData: Uint8Array[] = [];
  /** Per open frame: its last recorded entry (an exceptional halt is written on it). */
  private readonly lastLog: (StructLog | undefined)[] = [];

  constructor(
    private readonly config: StructLoggerConfig,
    private readonly budget: TraceBudget,
  ) {}

  start(): void {}

  enter(_m: Message): void {
    this.returnData.push(EMPTY);
    this.lastLog.push(undefined);
  }

  exit(r: EVMResult): void {
    this.returnData.pop();
    const last = this.lastLog.pop();
    const err = r.execResult.exceptionError?.error;
    if (err !== undefined && err !== "revert" && last !== undefined && last.error === undefined) {
      last.error = gethError(err);
    }
    if (this.returnData.length > 0) this.returnData[this.returnData.length - 1] = r.execResult.returnValue;
  }

  step(s: InterpreterStep, state: MemoryState): void {
    const { config } = this;
    if (config.limit > 0 && this.logs.length >= config.limit) return;
    const op = s.opcode.name;
    const log: StructLog = {
      pc: s.pc,
      op,
      gas: Number(s.gasLeft),
      gasCost: Number(s.opcode.dynamicFee ?? BigInt(s.opcode.fee)),
      depth: s.depth + 1,
    };
    let size = 70 + op.length;
    if (!config.disableStack) {
      log.stack = s.stack.map((v) => `0x${v.toString(16)}`);
      for (const v of log.stack) size += v.length + 3;
    }
    if (config.enableReturnData) {
      const rd = this.returnData.at(-1) ?? EMPTY;
      if (rd.length > 0) {
        log.returnData = bytesToHex(rd);
        size += log.returnData.length;
      }
    }
    if (config.enableMemory && s.memory.length > 0) {
      const words: string[] = [];
      for (let i = 0; i < s.memory.length; i += 32) words.push(bytesToHex(memorySlice(s.memory, i, 32)));
      log.memory = words;
      size += words.length * 69;
    }
    if (!config.disableStorage && (op === "SLOAD" || op === "SSTORE")) {
      const addr = s.address.toString();
      let slots = this.storage.get(addr);
      if (slots === undefined) {
        slots = new Map();
        this.storage.set(addr, slots);
      }
      const key = `0x${word(s.stack.at(-1) ?? 0n)}`;
      if (op === "SLOAD") {
        const v = state.slot(addr, key);
        slots.set(key, `0x${word(v === undefined || v.length === 0 ? 0n : BigInt(bytesToHex(v)))}`);
      } else {
        slots.set(key, `0x${word(s.stack.at(-2) ?? 0n)}`);
      }
      log.storage = Object.fromEntries(slots);
      size += slots.size * 140;
    }
    if (s.gasRefund > 0n) log.refund = Number(s.gasRefund);
    this.budget.charge(size);
    this.logs.push(log);
    if (this.lastLog.length > 0) this.lastLog[this.lastLog.length - 1] = log;
  }

  end(e: TxEnd): object {
    const failed = e.error !== undefined;
    return {
      gas: Number(e.gasUsed),
      failed,
      // The return data on success, the revert data on a revert, nothing on any other failure.
      returnValue: bytesToHex(failed && e.error !== "revert" ? EMPTY : e.returnValue),
      structLogs: this.logs,
    };
  }
}
