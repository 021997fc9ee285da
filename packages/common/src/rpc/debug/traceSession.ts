import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { EVMInterface, EVMResult, InterpreterStep, Message } from "@ethereumjs/evm";
import type { MemoryState, StateReader } from "../../state/memoryState.ts";
import { ErrorCode, StaccatoError } from "../../errors.ts";
import { RpcError, RpcErrorCode } from "../errors.ts";

/**
 * The bounds every trace runs under, so one request cannot take the node down (README: "Tracing
 * and simulation"). A trace runs on the main thread but gives the event loop a turn every
 * `YIELD_EVERY_MS`, so other requests and the node's own work keep being served while it runs.
 */
export const TRACE_LIMITS = {
  /** geth's default `timeout` for one transaction's trace. */
  defaultTimeoutMs: 5_000,
  /** The longest `timeout` a request may ask for. */
  maxTimeoutMs: 60_000,
  /** A whole block's trace (debug_traceBlockBy*) stops after this, whatever the per-tx timeout. */
  blockTimeoutMs: 60_000,
  /** Estimated size of one request's trace output (struct logs, frames, prestate) before it stops. */
  maxResultBytes: 32 * 1024 * 1024,
  /** Traces running at once; more wait in line, up to `maxQueued`, then get -32005. */
  maxConcurrent: 2,
  maxQueued: 16,
} as const;

const YIELD_EVERY_MS = 8;
/** The clock is read every this many opcodes (a power of two minus one, as a mask). */
const CLOCK_MASK = 255;

/**
 * Why a trace stopped before the end: a request bound was reached (TRACE_TIMEOUT, -32000, or
 * TRACE_TOO_LARGE, -32005, to the client).
 */
export class TraceAbort extends StaccatoError {
  constructor(message: string, kind: "timeout" | "size") {
    super(kind === "timeout" ? ErrorCode.TraceTimeout : ErrorCode.TraceTooLarge, message, undefined);
  }
}

/** What a transaction's trace starts from. */
export interface TxStart {
  from: string;
  /** null for a contract creation. */
  to: string | null;
  gasLimit: bigint;
  value: bigint;
  input: Uint8Array;
  coinbase: string;
  /** The state before the transaction (the layer it runs on reads through it, never writes it). */
  pre: StateReader;
  /** The block-wide index the transaction's first log gets (geth's `log.index`). */
  firstLogIndex: number;
}

/** How a transaction's execution ended. */
export interface TxEnd {
  gasUsed: bigint;
  returnValue: Uint8Array;
  /** ethereumjs' error name ("revert", "out of gas", …); undefined on success. */
  error: string | undefined;
  createdAddress: string | null;
}

/**
 * A tracer sees one transaction: its start, every opcode, every call frame's entry and exit, and
 * its end, which returns the result. Hooks are synchronous; `state` is the layer the transaction
 * runs on, current at each hook. A hook may throw a `TraceAbort`: execution stops and the
 * request fails with it.
 */
export interface Tracer {
  start(tx: TxStart, state: MemoryState): void;
  step?(s: InterpreterStep, state: MemoryState): void;
  enter?(m: Message, state: MemoryState): void;
  exit?(r: EVMResult, state: MemoryState): void;
  end(e: TxEnd, state: MemoryState): unknown;
}

/** The time and size budget of one request; shared by the transactions of a block trace. */
export class TraceBudget {
  private bytes = 0;
  private lastYield = performance.now();
  private deadline: number;
  private timeoutText: string;

  constructor(
    timeoutMs: number,
    readonly maxBytes: number = TRACE_LIMITS.maxResultBytes,
  ) {
    this.deadline = performance.now() + timeoutMs;
    this.timeoutText = durationText(timeoutMs);
  }

  /** A tighter deadline for one part of the request (one transaction of a block). */
  withTimeout(timeoutMs: number): TraceBudget {
    const b = new TraceBudget(timeoutMs, this.maxBytes);
    if (b.deadline > this.deadline) {
      b.deadline = this.deadline;
      b.timeoutText = this.timeoutText;
    }
    b.bytes = this.bytes;
    b.parent = this;
    return b;
  }

  private parent: TraceBudget | null = null;

  /** Counts `n` more bytes of output; throws a TraceAbort past the size bound. */
  charge(n: number): void {
    this.bytes += n;
    if (this.parent !== null) this.parent.bytes += n;
    if (this.bytes > this.maxBytes) {
      throw new TraceAbort(
        `trace result too large: more than ${this.maxBytes} bytes (the node's bound); trace less (callTracer, a struct-logger "limit", "disableStack": true) or a single transaction`,
        "size",
      );
    }
  }

  checkClock(now = performance.now()): void {
    if (now > this.deadline) {
      throw new TraceAbort(
        `execution timeout: the trace did not finish within ${this.timeoutText} (pass a larger "timeout", at most ${TRACE_LIMITS.maxTimeoutMs / 1000}s)`,
        "timeout",
      );
    }
  }

  /** Whether it is time to give the event loop a turn (and notes that it gets one). */
  dueForYield(now = performance.now()): boolean {
    if (now - this.lastYield < YIELD_EVERY_MS) return false;
    this.lastYield = now;
    return true;
  }

  /** Between transactions: checks the clock and yields when due. */
  async pause(): Promise<void> {
    const now = performance.now();
    this.checkClock(now);
    if (this.dueForYield(now)) await yieldToEventLoop();
  }
}

function durationText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * Hooks `tracer` (or only the budget, with null) into an EVM's events for one transaction.
 * Returns the function that unhooks it. Every opcode is counted so a long loop is stopped at the
 * deadline and yields to the event loop while it runs.
 */
export function attachTracer(
  evm: EVMInterface,
  tracer: Tracer | null,
  state: MemoryState,
  budget: TraceBudget,
): () => void {
  let n = 0;
  const onStep = (s: InterpreterStep, resolve?: (v?: unknown) => void): void => {
    // A throw here rejects ethereumjs' step promise: execution stops and runTx rejects with it.
    tracer?.step?.(s, state);
    if ((++n & CLOCK_MASK) === 0) {
      const now = performance.now();
      budget.checkClock(now);
      if (budget.dueForYield(now)) {
        setImmediate(() => resolve?.());
        return;
      }
    }
    resolve?.();
  };
  const onEnter = (m: Message): void => tracer?.enter?.(m, state);
  const onExit = (r: EVMResult): void => tracer?.exit?.(r, state);
  const events = evm.events;
  if (events === undefined) throw new Error("the EVM has no event emitter to trace with");
  events.on("step", onStep);
  if (tracer?.enter !== undefined) events.on("beforeMessage", onEnter);
  if (tracer?.exit !== undefined) events.on("afterMessage", onExit);
  return () => {
    events.off("step", onStep);
    events.off("beforeMessage", onEnter);
    events.off("afterMessage", onExit);
  };
}

const gates = new WeakMap<object, TraceGate>();

/** The one gate every tracing and simulation method of a node shares (keyed by its backend). */
export function traceGateFor(owner: object): TraceGate {
  let g = gates.get(owner);
  if (g === undefined) {
    g = new TraceGate();
    gates.set(owner, g);
  }
  return g;
}

/** Admits at most `maxConcurrent` traces at once; the next `maxQueued` wait, the rest are refused. */
export class TraceGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly maxConcurrent: number = TRACE_LIMITS.maxConcurrent,
    private readonly maxQueued: number = TRACE_LIMITS.maxQueued,
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxConcurrent) {
      if (this.waiting.length >= this.maxQueued) {
        throw new RpcError(
          RpcErrorCode.LimitExceeded,
          `too many traces in progress (${this.running} running, ${this.waiting.length} waiting): try again later`,
        );
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running--;
    }
  }
}

/** geth's wording for ethereumjs' EVM errors (callTracer `error`, struct-log `error`). */
export function gethError(error: string): string {
  switch (error) {
    case "revert":
      return "execution reverted";
    case "invalid JUMP":
      return "invalid jump destination";
    case "static state change":
      return "write protection";
    case "insufficient balance":
      return "insufficient balance for transfer";
    case "create collision":
      return "contract address collision";
    case "code size to deposit exceeds maximum code size":
      return "max code size exceeded";
    case "code store out of gas":
      return "contract creation code storage out of gas";
    case "invalid returndata buffer access":
      return "return data out of bounds";
    case "stack overflow":
      return "stack limit reached 1024";
    case "invalid bytecode deployed":
      return "invalid code: must not begin with 0xef";
    default:
      return error;
  }
}
