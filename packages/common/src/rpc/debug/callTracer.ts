import type { EVMResult, InterpreterStep, Message } from "@ethereumjs/evm";
import { bytesToHex } from "@ethereumjs/util";
import type { MemoryState } from "../../state/memoryState.ts";
import { qty } from "../eth/format.ts";
import { type TraceBudget, type Tracer, type TxEnd, type TxStart, gethError } from "./traceSession.ts";

export type CallType =
  | "CALL"
  | "CALLCODE"
  | "DELEGATECALL"
  | "STATICCALL"
  | "CREATE"
  | "CREATE2"
  | "SELFDESTRUCT";

export interface CallLog {
  address: string;
  topics: string[];
  data: Uint8Array;
  /** Block-wide log index, as the receipt gives it. */
  index: number;
  /** How many sub-calls of the frame came before the log. */
  position: number;
}

/** One call frame, in the tracer's own terms (bigints, bytes); `callFrameJson` gives geth's JSON. */
export interface CallFrame {
  type: CallType;
  from: string;
  to: string | null;
  value: bigint | null;
  gas: bigint;
  gasUsed: bigint;
  input: Uint8Array;
  output: Uint8Array | null;
  error: string | null;
  revertReason: string | null;
  calls: CallFrame[];
  logs: CallLog[];
  /** The frame's changes were rolled back (an error in it). */
  reverted: boolean;
  depth: number;
}

export interface CallTracerConfig {
  onlyTopCall: boolean;
  withLog: boolean;
}

const EMPTY = new Uint8Array(0);
const CALL_OPS = new Set(["CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "CREATE", "CREATE2"]);

/**
 * geth's `callTracer`: the tree of call frames of a transaction, with `type`, `from`, `to`,
 * `value`, `gas`, `gasUsed`, `input`, `output`, `error`, `revertReason`, `calls` and (withLog)
 * `logs`. The top frame's `gas` is the transaction's gas limit and its `gasUsed` the receipt's.
 * Logs of frames that failed, or whose caller failed, are dropped (they never happened).
 */
export class CallTracer implements Tracer {
  private readonly stack: CallFrame[] = [];
  private root: CallFrame | null = null;
  /** The opcode that made the next frame (CALL, DELEGATECALL…), seen on its step. */
  private pendingOp: string | null = null;
  private gasLimit = 0n;
  private liveLogs = 0;
  private firstLogIndex = 0;
  /** Log count when each open frame was entered (a failed frame's logs give their indexes back). */
  private readonly logMarks: number[] = [];

  constructor(
    private readonly config: CallTracerConfig,
    private readonly budget: TraceBudget,
  ) {}

  start(tx: TxStart): void {
    this.gasLimit = tx.gasLimit;
    this.firstLogIndex = tx.firstLogIndex;
  }

  step(s: InterpreterStep, state: MemoryState): void {
    const op = s.opcode.name;
    if (CALL_OPS.has(op)) {
      this.pendingOp = op;
      return;
    }
    if (op === "SELFDESTRUCT") {
      if (this.config.onlyTopCall) return;
      const parent = this.stack.at(-1);
      if (parent === undefined) return;
      const from = s.address.toString();
      const to = word(s.stack.at(-1) ?? 0n).slice(-40);
      parent.calls.push(
        frame({
          type: "SELFDESTRUCT",
          from,
          to: `0x${to}`,
          value: state.account(from)?.balance ?? 0n,
          gas: 0n,
          input: EMPTY,
          depth: s.depth + 1,
        }),
      );
      this.budget.charge(160);
      return;
    }
    if (op.startsWith("LOG") && this.config.withLog) {
      const cur = this.stack.at(-1);
      if (cur === undefined || (this.config.onlyTopCall && this.stack.length > 1)) return;
      const st = s.stack;
      const offset = Number(st.at(-1) ?? 0n);
      const size = Number(st.at(-2) ?? 0n);
      const n = Number(op.slice(3));
      const topics: string[] = [];
      for (let i = 0; i < n; i++) topics.push(`0x${word(st.at(-3 - i) ?? 0n)}`);
      const data = memorySlice(s.memory, offset, size);
      cur.logs.push({
        address: s.address.toString(),
        topics,
        data,
        index: this.firstLogIndex + this.liveLogs++,
        position: cur.calls.length,
      });
      this.budget.charge(120 + 70 * n + 2 * data.length);
    }
  }

  enter(m: Message): void {
    const op = this.pendingOp;
    this.pendingOp = null;
    const parent = this.stack.at(-1);
    if (parent !== undefined && this.config.onlyTopCall) {
      this.stack.push(parent); // a placeholder, so exits pair up
      return;
    }
    const type = frameType(m, op, parent === undefined);
    // DELEGATECALL and CALLCODE run the callee's code in the caller's context: `to` is the code.
    const to =
      m.to === undefined
        ? null
        : type === "DELEGATECALL" || type === "CALLCODE"
          ? m.codeAddress.toString()
          : m.to.toString();
    // `from` is the account that executed the call opcode (the caller's context, for DELEGATECALL).
    const from = parent === undefined ? m.caller.toString() : contextAddress(parent);
    const f = frame({
      type,
      from,
      to,
      value: type === "STATICCALL" ? null : m.value,
      gas: parent === undefined ? this.gasLimit : m.gasLimit,
      // Copied: a CREATE's init code is a view of the caller's memory, which goes on changing.
      input: m.data.slice(),
      depth: m.depth,
    });
    this.budget.charge(200 + 2 * m.data.length);
    this.stack.push(f);
    this.logMarks.push(this.liveLogs);
  }

  exit(r: EVMResult): void {
    const f = this.stack.pop();
    if (f === undefined) return;
    const parent = this.stack.at(-1);
    if (parent === f) return; // an onlyTopCall placeholder
    const mark = this.logMarks.pop() ?? 0;
    const err = r.execResult.exceptionError?.error;
    if (err !== undefined) this.liveLogs = mark;
    f.gasUsed = r.execResult.executionGasUsed;
    if ((f.type === "CREATE" || f.type === "CREATE2") && r.createdAddress !== undefined)
      f.to = r.createdAddress.toString();
    processOutput(f, r.execResult.returnValue.slice(), err);
    this.budget.charge(2 * r.execResult.returnValue.length);
    if (parent === undefined) this.root = f;
    else parent.calls.push(f);
  }

  /** The frame tree (for tracers built on this one); set by `end`. */
  tree(): CallFrame {
    if (this.root === null) throw new Error("callTracer: the transaction entered no call frame");
    return this.root;
  }

  end(e: TxEnd): object {
    const root = this.tree();
    root.gasUsed = e.gasUsed;
    if (this.config.withLog) clearFailedLogs(root, false);
    return callFrameJson(root);
  }
}

function frame(f: Pick<CallFrame, "type" | "from" | "to" | "value" | "gas" | "input" | "depth">): CallFrame {
  return {
    ...f,
    gasUsed: 0n,
    output: null,
    error: null,
    revertReason: null,
    calls: [],
    logs: [],
    reverted: false,
  };
}

function frameType(m: Message, op: string | null, top: boolean): CallType {
  if (m.to === undefined) return m.salt !== undefined ? "CREATE2" : "CREATE";
  if (top) return "CALL";
  if (op === "CALLCODE" || op === "DELEGATECALL" || op === "STATICCALL" || op === "CALL") return op;
  if (m.delegatecall) return "DELEGATECALL";
  return "CALL";
}

/** The address whose storage and balance a frame runs with (where its own calls come from). */
function contextAddress(f: CallFrame): string {
  // DELEGATECALL and CALLCODE frames run in their caller's context.
  if (f.type === "DELEGATECALL" || f.type === "CALLCODE") return f.from;
  return f.to ?? f.from;
}

/** geth's `processOutput`: output on success, or the error (and revert data and reason). */
function processOutput(f: CallFrame, output: Uint8Array, err: string | undefined): void {
  if (err === undefined) {
    f.output = output;
    return;
  }
  f.error = gethError(err);
  f.reverted = true;
  if (f.type === "CREATE" || f.type === "CREATE2") f.to = null;
  if (err !== "revert" || output.length === 0) return;
  f.output = output;
  if (output.length >= 4) f.revertReason = unpackRevert(output) ?? null;
}

function clearFailedLogs(f: CallFrame, parentFailed: boolean): void {
  const failed = (f.error !== null && f.reverted) || parentFailed;
  if (failed) f.logs = [];
  for (const c of f.calls) clearFailedLogs(c, failed);
}

/** geth's JSON for a frame: quantities and bytes as hex, empty members left out. */
export function callFrameJson(f: CallFrame): object {
  const out: Record<string, unknown> = {
    from: f.from,
    gas: qty(f.gas),
    gasUsed: qty(f.gasUsed),
  };
  if (f.to !== null) out.to = f.to;
  out.input = bytesToHex(f.input);
  if (f.output !== null && f.output.length > 0) out.output = bytesToHex(f.output);
  if (f.error !== null) out.error = f.error;
  if (f.revertReason !== null) out.revertReason = f.revertReason;
  if (f.calls.length > 0) out.calls = f.calls.map(callFrameJson);
  if (f.logs.length > 0)
    out.logs = f.logs.map((l) => ({
      address: l.address,
      topics: l.topics,
      data: bytesToHex(l.data),
      index: qty(l.index),
      position: qty(l.position),
    }));
  if (f.value !== null) out.value = qty(f.value);
  out.type = f.type;
  return out;
}

const PANIC_REASONS: Record<number, string> = {
  0: "generic panic",
  1: "assert(false)",
  17: "arithmetic underflow or overflow",
  18: "division or modulo by zero",
  33: "enum overflow",
  34: "invalid encoded storage byte array accessed",
  49: "out-of-bounds array access; popping on an empty array",
  50: "out-of-bounds access of an array or bytesN",
  65: "out of memory",
  81: "uninitialized function",
};

/** geth's `abi.UnpackRevert`: the message of `Error(string)`, or the meaning of `Panic(uint256)`. */
export function unpackRevert(data: Uint8Array): string | undefined {
  if (data.length < 4) return undefined;
  const selector = bytesToHex(data.subarray(0, 4));
  if (selector === "0x08c379a0") {
    if (data.length < 68) return undefined;
    const offset = Number(BigInt(bytesToHex(data.subarray(4, 36))));
    if (offset + 32 > data.length - 4) return undefined;
    const len = Number(BigInt(bytesToHex(data.subarray(4 + offset, 36 + offset))));
    if (36 + offset + len > data.length) return undefined;
    return new TextDecoder().decode(data.subarray(36 + offset, 36 + offset + len));
  }
  if (selector === "0x4e487b71" && data.length >= 36) {
    const code = BigInt(bytesToHex(data.subarray(4, 36)));
    const reason = code < 256n ? PANIC_REASONS[Number(code)] : undefined;
    return reason ?? `unknown panic code: 0x${code.toString(16)}`;
  }
  return undefined;
}

/** A 256-bit stack word as 64 hex digits. */
export function word(v: bigint): string {
  return v.toString(16).padStart(64, "0");
}

/** Bytes [offset, offset+size) of a memory snapshot, zero past its end (the opcode expands memory). */
export function memorySlice(memory: Uint8Array, offset: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  if (offset < memory.length) out.set(memory.subarray(offset, Math.min(memory.length, offset + size)));
  return out;
}
