import type { CodeInfo } from "./codeAnalysis.ts";
import type { Frame } from "./frame.ts";
import { MAX256, readWord, sar, signExtend, toSigned, toUnsigned, writeWordAt } from "./words.ts";

/**
 * Straight-line runs of a hot contract's code, compiled to JavaScript (the hot-contract compiler
 * of issue 16, per basic block as revmc and MegaETH's JIT do). A compiled block keeps the stack in
 * local constants while it runs, so PUSH, DUP, SWAP, POP and JUMPDEST cost nothing, writes back
 * only the stack slots that changed, and charges the static gas of the whole block once.
 *
 * Measured (`bench/micro/evm.ts`): it pays in loops of arithmetic (the compute call, ~15-25 %
 * faster). Token transfers and swaps came out even (within 2 %): their time goes to storage,
 * calls, memory and BigInt arithmetic, not to dispatch. A new block also runs slowly until V8 has
 * optimised it. In the sequencer, under load, swaps ran ~10 % slower with their code compiled,
 * so compiling is off by default (`DEFAULT_COMPILE_AFTER`), for operators to turn on.
 *
 * A block holds only opcodes that read and write nothing outside the frame (arithmetic, stack,
 * memory, calldata, jumps), so where inside it an exceptional halt happens cannot be observed: any
 * halt consumes the frame's gas and discards its memory and stack. Its entry checks (gas for the
 * block's static cost, stack depth for its deepest read and highest push) are the ones the
 * interpreter would make op by op; when they fail the block reports `BLOCK_SKIP` and the
 * interpreter runs those opcodes one by one, exactly. GAS reports what the interpreter would
 * (the static gas of the opcodes after it is added back).
 */

/** Runs the block from its first opcode; returns the next pc, `BLOCK_HALT` or `BLOCK_SKIP`. */
export type CompiledBlock = (s: bigint[], f: Frame) => number;
/** Exceptional halt: the frame's gas is gone. */
export const BLOCK_HALT = -1;
/** The entry checks failed: nothing ran; the interpreter runs these opcodes itself. */
export const BLOCK_SKIP = -2;

/**
 * Contract code is compiled after this many frames ran it: by default never. Measured end to end
 * (the sequencer under `bench/run.ts`), compiling after 1,000 frames made swaps ~10 % slower even
 * over 30,000 of them (3,100-3,200 against 3,370-3,600 tx/s), so it is for chains whose hot
 * contracts loop over arithmetic (`--evm-compile-after`).
 */
export const DEFAULT_COMPILE_AFTER = Number.POSITIVE_INFINITY;
/**
 * Compiled blocks kept at most (each a function with its source and machine code, a few KB): past
 * this, all are dropped and hot code is compiled again as it is reached. Memory stays bounded
 * however many contracts a node meets in its life.
 */
const MAX_COMPILED = 10_000;
/** Pieces of code with compiled blocks kept at most (each holds a 2-byte index per code byte). */
const MAX_CODES = 1_000;
/** Fewer opcodes than this are left to the interpreter: the call costs more than it saves. */
const MIN_OPS = 3;
/** Longer straight-line code is split, to bound a function's size. */
const MAX_OPS = 200;

const OP_JUMP = 0x56;
const OP_JUMPI = 0x57;
const OP_GAS = 0x5a;

/** Opcodes a block may hold (besides PUSH, DUP and SWAP). */
const COMPILABLE = new Uint8Array(256);
for (const op of [
  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x30, 0x33, 0x34, 0x35, 0x36, 0x38, 0x50, 0x51, 0x52, 0x53, 0x56, 0x57,
  0x58, 0x59, 0x5a, 0x5b,
])
  COMPILABLE[op] = 1;
for (let op = 0x5f; op <= 0x9f; op++) COMPILABLE[op] = 1;

/** The compiled blocks of one piece of code, by the pc they start at; compiled as first reached. */
export class Blocks {
  /** By pc: 0 not tried yet, 1 left to the interpreter, k >= 2 the compiled block fns[k - 2]. */
  private readonly index: Uint16Array;
  private readonly fns: CompiledBlock[] = [];

  constructor(
    private readonly code: Uint8Array,
    private readonly info: CodeInfo,
    private readonly staticGas: Int32Array,
  ) {
    this.index = new Uint16Array(code.length);
  }

  /** The block that starts at `pc`, or null where the interpreter runs the code itself. */
  at(pc: number): CompiledBlock | null {
    const k = this.index[pc]!;
    if (k >= 2) return this.fns[k - 2]!;
    if (k === 1) return null;
    const b =
      this.fns.length < 0xfff0
        ? compileBlock(this.code, pc, this.info.dests, this.info.pushes, this.staticGas)
        : null;
    if (b === null) this.index[pc] = 1;
    else {
      this.fns.push(b);
      this.index[pc] = this.fns.length + 1;
    }
    return b;
  }
}

const byCode = new Map<CodeInfo, Blocks>();
/** The hardfork the kept blocks were compiled for (their static gas is baked in). */
let blocksFork = "";
let compiledCount = 0;

/** The compiled blocks of hot code (the same code array `info` was made for). */
export function blocksOf(info: CodeInfo, code: Uint8Array, hardfork: string, staticGas: Int32Array): Blocks {
  if (hardfork !== blocksFork) {
    byCode.clear();
    blocksFork = hardfork;
    compiledCount = 0;
  }
  let b = byCode.get(info);
  if (b === undefined) {
    if (byCode.size >= MAX_CODES) byCode.clear();
    b = new Blocks(code, info, staticGas);
    byCode.set(info, b);
  }
  return b;
}

const HELPERS = {
  M: MAX256,
  toSigned,
  toUnsigned,
  signExtend,
  sar,
  readWord,
  writeWordAt,
} as const;
const HELPER_NAMES = Object.keys(HELPERS);
const HELPER_VALUES = Object.values(HELPERS);

/**
 * The symbolic stack of a block being compiled: the JavaScript expression (a constant's name or a
 * literal) each slot holds, by position relative to the stack height at entry (-1 = the entry top).
 */
class BlockWriter {
  readonly lines: string[] = [];
  private readonly vals = new Map<number, string>();
  private readonly loaded = new Map<number, string>();
  private temps = 0;
  /** Current height relative to the entry height. */
  h = 0;
  /** Entry items the block needs (its deepest read or pop). */
  need = 0;
  /** Highest relative height reached. */
  maxH = 0;

  temp(expr: string): string {
    const name = `t${this.temps++}`;
    this.lines.push(`const ${name} = ${expr};`);
    return name;
  }

  /** The expression at relative position r (< h). */
  at(r: number): string {
    let v = this.vals.get(r);
    if (v === undefined) {
      v = this.temp(`s[sp - ${-r}]`);
      this.vals.set(r, v);
      this.loaded.set(r, v);
      this.need = Math.max(this.need, -r);
    }
    return v;
  }

  pop(): string {
    const v = this.at(this.h - 1);
    this.drop();
    return v;
  }

  /** Pops without reading the value (POP). */
  drop(): void {
    this.h--;
    this.vals.delete(this.h);
    this.need = Math.max(this.need, -this.h);
  }

  push(expr: string): void {
    this.vals.set(this.h++, expr);
    this.maxH = Math.max(this.maxH, this.h);
  }

  swap(k: number): void {
    const a = this.at(this.h - 1);
    const b = this.at(this.h - 1 - k);
    this.vals.set(this.h - 1, b);
    this.vals.set(this.h - 1 - k, a);
  }

  /** Stores the slots that no longer hold what they held at entry, and the new height and gas. */
  writeBack(): void {
    for (const [r, v] of this.vals)
      if (r < this.h && this.loaded.get(r) !== v)
        this.lines.push(r < 0 ? `s[sp - ${-r}] = ${v};` : `s[sp + ${r}] = ${v};`);
    this.lines.push(`f.sp = sp + ${this.h};`, "f.gas = gas;");
  }
}

/**
 * Compiles the straight-line code from `start`, or null when fewer than `MIN_OPS` opcodes there
 * can be compiled (the interpreter runs them).
 */
export function compileBlock(
  code: Uint8Array,
  start: number,
  dests: Uint8Array,
  pushes: readonly (bigint | undefined)[],
  staticGas: Int32Array,
): CompiledBlock | null {
  const n = code.length;
  // First pass: where the block ends, and the static gas of each opcode in it.
  const pcs: number[] = [];
  let pc = start;
  let ends = false;
  while (pc < n && pcs.length < MAX_OPS) {
    const op = code[pc]!;
    if (COMPILABLE[op] !== 1 || staticGas[op]! < 0) break;
    pcs.push(pc);
    if (op === OP_JUMP || op === OP_JUMPI) {
      ends = true;
      break;
    }
    pc += op >= 0x60 && op <= 0x7f ? op - 0x5e : 1;
  }
  if (pcs.length < MIN_OPS) return null;
  const next = ends ? -1 : pc;
  let total = 0;
  for (const p of pcs) total += staticGas[code[p]!]!;

  const w = new BlockWriter();
  let charged = 0;
  for (const p of pcs) {
    const op = code[p]!;
    charged += staticGas[op]!;
    if (op >= 0x5f && op <= 0x7f) {
      w.push(op === 0x5f ? "0n" : `${pushes[p]!}n`);
      continue;
    }
    if (op >= 0x80 && op <= 0x8f) {
      w.push(w.at(w.h - (op - 0x7f)));
      continue;
    }
    if (op >= 0x90 && op <= 0x9f) {
      w.swap(op - 0x8f);
      continue;
    }
    switch (op) {
      case 0x01:
        w.push(w.temp(`(${w.pop()} + ${w.pop()}) & M`));
        break;
      case 0x02:
        w.push(w.temp(`(${w.pop()} * ${w.pop()}) & M`));
        break;
      case 0x03:
        w.push(w.temp(`(${w.pop()} - ${w.pop()}) & M`));
        break;
      case 0x04: {
        const a = w.pop();
        const b = w.pop();
        w.push(w.temp(`${b} === 0n ? 0n : ${a} / ${b}`));
        break;
      }
      case 0x05: {
        const a = w.pop();
        const b = w.pop();
        w.push(w.temp(`${b} === 0n ? 0n : toUnsigned(toSigned(${a}) / toSigned(${b})) & M`));
        break;
      }
      case 0x06: {
        const a = w.pop();
        const b = w.pop();
        w.push(w.temp(`${b} === 0n ? 0n : ${a} % ${b}`));
        break;
      }
      case 0x07: {
        const a = w.pop();
        const b = w.pop();
        w.push(w.temp(`${b} === 0n ? 0n : toUnsigned(toSigned(${a}) % toSigned(${b}))`));
        break;
      }
      case 0x08:
      case 0x09: {
        const a = w.pop();
        const b = w.pop();
        const m = w.pop();
        w.push(w.temp(`${m} === 0n ? 0n : (${a} ${op === 0x08 ? "+" : "*"} ${b}) % ${m}`));
        break;
      }
      case 0x0b: {
        const k = w.pop();
        w.push(w.temp(`signExtend(${k}, ${w.pop()})`));
        break;
      }
      case 0x10:
      case 0x11: {
        const a = w.pop();
        w.push(w.temp(`${a} ${op === 0x10 ? "<" : ">"} ${w.pop()} ? 1n : 0n`));
        break;
      }
      case 0x12:
      case 0x13: {
        const a = w.pop();
        w.push(w.temp(`toSigned(${a}) ${op === 0x12 ? "<" : ">"} toSigned(${w.pop()}) ? 1n : 0n`));
        break;
      }
      case 0x14:
        w.push(w.temp(`${w.pop()} === ${w.pop()} ? 1n : 0n`));
        break;
      case 0x15:
        w.push(w.temp(`${w.pop()} === 0n ? 1n : 0n`));
        break;
      case 0x16:
      case 0x17:
      case 0x18: {
        const sign = op === 0x16 ? "&" : op === 0x17 ? "|" : "^";
        w.push(w.temp(`${w.pop()} ${sign} ${w.pop()}`));
        break;
      }
      case 0x19:
        w.push(w.temp(`M ^ ${w.pop()}`));
        break;
      case 0x1a: {
        const i = w.pop();
        w.push(w.temp(`${i} >= 32n ? 0n : (${w.pop()} >> (248n - ${i} * 8n)) & 0xffn`));
        break;
      }
      case 0x1b: {
        const sh = w.pop();
        w.push(w.temp(`${sh} >= 256n ? 0n : (${w.pop()} << ${sh}) & M`));
        break;
      }
      case 0x1c: {
        const sh = w.pop();
        w.push(w.temp(`${sh} >= 256n ? 0n : ${w.pop()} >> ${sh}`));
        break;
      }
      case 0x1d: {
        const sh = w.pop();
        w.push(w.temp(`sar(${sh}, ${w.pop()})`));
        break;
      }
      case 0x30:
        w.push(w.temp("f.addressWord()"));
        break;
      case 0x33:
        w.push(w.temp("BigInt(f.caller)"));
        break;
      case 0x34:
        w.push(w.temp("f.value"));
        break;
      case 0x35: {
        const i = w.pop();
        w.push(w.temp(`f.dataWord(${i})`));
        break;
      }
      case 0x36:
        w.push(w.temp("BigInt(f.data.length)"));
        break;
      case 0x38:
        w.push(`${n}n`);
        break;
      case 0x50:
        w.drop();
        break;
      case 0x51: {
        const off = w.pop();
        w.lines.push(`gas -= f.expand(${off}, 32n);`, "if (gas < 0) return -1;", "f.ensureMem();");
        w.push(w.temp(`readWord(f.view, Number(${off}))`));
        break;
      }
      case 0x52:
      case 0x53: {
        const off = w.pop();
        const v = w.pop();
        w.lines.push(
          `gas -= f.expand(${off}, ${op === 0x52 ? 32 : 1}n);`,
          "if (gas < 0) return -1;",
          op === 0x52
            ? `f.ensureMem(); writeWordAt(f.view, Number(${off}), ${v});`
            : `f.ensureMem()[Number(${off})] = Number(${v} & 0xffn);`,
        );
        break;
      }
      case OP_JUMP:
      case OP_JUMPI: {
        const d = w.pop();
        const cond = op === OP_JUMPI ? w.pop() : null;
        w.writeBack();
        const jump = `if (${d} >= ${n}n || D[Number(${d})] !== 1) return -1; return Number(${d});`;
        if (cond === null) w.lines.push(jump);
        else w.lines.push(`if (${cond} !== 0n) { ${jump} }`, `return ${p + 1};`);
        break;
      }
      case 0x58:
        w.push(`${p}n`);
        break;
      case 0x59:
        w.push(w.temp("BigInt(f.memWords * 32)"));
        break;
      case OP_GAS:
        w.push(w.temp(`BigInt(gas + ${total - charged})`));
        break;
      case 0x5b:
        break;
      default:
        throw new Error(`opcode 0x${op.toString(16)} is not compilable`);
    }
  }
  if (next >= 0) {
    w.writeBack();
    w.lines.push(`return ${next};`);
  }
  const head = [
    "const sp = f.sp;",
    `if (f.gas < ${total} || sp < ${w.need} || sp > ${1024 - w.maxH}) return -2;`,
    `let gas = f.gas - ${total};`,
  ];
  const body = `return function block_${start}(s, f) {\n${[...head, ...w.lines].join("\n")}\n};`;
  if (++compiledCount > MAX_COMPILED) {
    // Frames running now keep the arrays they hold; everything else is compiled afresh.
    byCode.clear();
    compiledCount = 1;
  }
  return new Function("D", ...HELPER_NAMES, body)(dests, ...HELPER_VALUES) as CompiledBlock;
}
