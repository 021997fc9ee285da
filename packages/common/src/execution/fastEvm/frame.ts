import type { CodeInfo } from "./codeAnalysis.ts";
import type { SlotKeys } from "./keyCache.ts";
import { EMPTY, readWord, small, toBigAt } from "./words.ts";

export const STATUS_OK = 0;
export const STATUS_REVERT = 1;
export const STATUS_ERROR = 2;
export type Status = typeof STATUS_OK | typeof STATUS_REVERT | typeof STATUS_ERROR;

/** Past this many bytes (2^31 words), memory costs more than `MAX_FAST_GAS`: out of gas. */
const MEMORY_LIMIT = 2n ** 36n;
/** Offsets below this have their memory gas worked out in numbers (`expandAt`). */
const SMALL_OFFSET = 2n ** 32n;
/** Up to this many words, words² is exact in a double. */
const EXACT_WORDS = 2 ** 26;

/**
 * One call frame: code, program counter, gas (a number), stack and memory. Memory buffers come
 * from per-depth pools (`FramePool`), zeroed on release up to what the frame used.
 */
export class Frame {
  pc = 0;
  sp = 0;
  /**
   * The stack, new with each frame and grown as it is pushed to. A pooled stack would live in
   * V8's old generation, and every new BigInt stored into it would go through the write barrier's
   * slow path (recording an old-to-young pointer): ~5 % of a swap's time. A young array has none,
   * and costs a few hundred bytes a frame.
   */
  readonly stack: bigint[] = [];
  /** Memory size in 32-byte words (what MSIZE reports and gas was paid for). */
  memWords = 0;
  /** Total memory cost paid so far. */
  memCost = 0;
  mem: Buffer;
  /** A view of `mem`, for words in and out 64 bits at a time. */
  view: DataView;
  /** The return data of the newest sub-call (RETURNDATASIZE/COPY). */
  returnData: Uint8Array = EMPTY;
  /** RETURN/REVERT data of this frame. */
  output: Uint8Array = EMPTY;
  status: Status = STATUS_OK;
  /** The kept keys of this account's slots (`KeyCache.slotsOf`), taken at its first storage access. */
  slotKeys: Map<bigint, SlotKeys> | null = null;
  private addrBig: bigint | null = null;
  private callerBig: bigint | null = null;
  private dataView: DataView | null = null;

  constructor(
    mem: Buffer,
    readonly code: Uint8Array,
    readonly info: CodeInfo,
    public gas: number,
    /** The account whose storage and balance the code acts on. */
    readonly address: string,
    readonly caller: string,
    readonly value: bigint,
    readonly data: Uint8Array,
    readonly isStatic: boolean,
    readonly depth: number,
  ) {
    this.mem = mem;
    this.view = new DataView(mem.buffer, mem.byteOffset, mem.length);
  }

  addressWord(): bigint {
    if (this.addrBig === null) this.addrBig = BigInt(this.address);
    return this.addrBig;
  }

  /**
   * CALLDATALOAD: the 32 bytes of the call's input at `i` (zeros past its end) as a word. A whole
   * word inside the input is read through a view of it, made at the first load.
   */
  dataWord(i: bigint): bigint {
    const data = this.data;
    if (i >= small(data.length)) return 0n;
    const o = Number(i);
    if (o + 32 > data.length) return toBigAt(data, o, 32);
    if (this.dataView === null) this.dataView = new DataView(data.buffer, data.byteOffset, data.length);
    return readWord(this.dataView, o);
  }

  /** CALLER as a word, parsed from its hex key once a frame. */
  callerWord(): bigint {
    if (this.callerBig === null) this.callerBig = BigInt(this.caller);
    return this.callerBig;
  }

  /**
   * Charges nothing: records memory growth to cover [off, off+len) and returns its gas (Infinity
   * when no gas limit the fast path runs with could pay for it). The buffer grows later, in
   * `ensureMem`, only once the gas is paid.
   */
  expand(off: bigint, len: bigint): number {
    if (len === 0n) return 0;
    const end = off + len;
    if (end > MEMORY_LIMIT) return Number.POSITIVE_INFINITY;
    const words = Math.ceil(Number(end) / 32);
    if (words <= this.memWords) return 0;
    return this.grow(words);
  }

  /**
   * `expand` for a fixed small length (MLOAD, MSTORE, MSTORE8), given the offset both as a word
   * and as a number (`Number(off)`, which the caller uses to address memory): offsets below 2^32
   * are worked out in numbers, with no BigInt arithmetic; larger ones go through `expand`.
   */
  expandAt(off: bigint, o: number, len: number): number {
    if (off >= SMALL_OFFSET) return this.expand(off, BigInt(len));
    const words = Math.ceil((o + len) / 32);
    if (words <= this.memWords) return 0;
    return this.grow(words);
  }

  /** Records memory grown to `words` (more than now) and returns the gas it costs. */
  private grow(words: number): number {
    let cost: number;
    if (words <= EXACT_WORDS) cost = words * 3 + Math.floor((words * words) / 512);
    else {
      const w = BigInt(words);
      const exact = w * 3n + (w * w) / 512n;
      if (exact > BigInt(Number.MAX_SAFE_INTEGER)) return Number.POSITIVE_INFINITY;
      cost = Number(exact);
    }
    const add = cost - this.memCost;
    this.memCost = cost;
    this.memWords = words;
    return add;
  }

  /** The memory buffer, grown to the paid size. */
  ensureMem(): Buffer {
    const need = this.memWords * 32;
    if (this.mem.length < need) {
      const grown = Buffer.alloc(Math.max(need, this.mem.length * 2));
      grown.set(this.mem);
      this.mem = grown;
      this.view = new DataView(grown.buffer, grown.byteOffset, grown.length);
    }
    return this.mem;
  }
}

/** Memory buffers by call depth, reused across frames and transactions. */
export class FramePool {
  private readonly mems: Buffer[] = [];

  mem(depth: number): Buffer {
    return this.mems[depth] ?? Buffer.alloc(1024);
  }

  /** Drops every pooled memory buffer: after an abandoned transaction, frames never released theirs. */
  clear(): void {
    this.mems.length = 0;
  }

  /** Takes a finished frame's memory back (zeroed where it was used). */
  release(f: Frame): void {
    const m = f.mem;
    // Keep buffers of a sane size only: one huge frame must not pin its memory for ever. The
    // pooled buffer the frame started with may hold data if the frame outgrew it: replace it.
    if (m.length <= 1 << 20) {
      m.fill(0, 0, Math.min(f.memWords * 32, m.length));
      this.mems[f.depth] = m;
    } else this.mems[f.depth] = Buffer.alloc(1024);
  }
}
