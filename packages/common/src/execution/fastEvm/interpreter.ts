import { keccak256 } from "../../crypto/keccak.ts";
import { FastPathAbort } from "./abort.ts";
import { BLOCK_HALT, blocksOf } from "./blockCompiler.ts";
import type { SlotKeys } from "./keyCache.ts";
import { type Frame, STATUS_ERROR, STATUS_OK, STATUS_REVERT, type Status } from "./frame.ts";
import type { FastVm } from "./vm.ts";
import {
  EMPTY,
  MAX256,
  readWord,
  sar,
  signExtend,
  small,
  toBig,
  toSigned,
  toUnpadded,
  toUnsigned,
  writeWordAt,
} from "./words.ts";

/** Stack items each opcode takes, and how many it leaves (STACK_OUT). 0xff = invalid here. */
const STACK_IN = new Uint8Array(256);
const STACK_OUT = new Uint8Array(256);
function ops(first: number, last: number, inp: number, out: number): void {
  for (let o = first; o <= last; o++) {
    STACK_IN[o] = inp;
    STACK_OUT[o] = out;
  }
}
ops(0x01, 0x07, 2, 1);
ops(0x08, 0x09, 3, 1);
ops(0x0a, 0x0b, 2, 1);
ops(0x10, 0x14, 2, 1);
ops(0x15, 0x15, 1, 1);
ops(0x16, 0x18, 2, 1);
ops(0x19, 0x19, 1, 1);
ops(0x1a, 0x1d, 2, 1);
ops(0x20, 0x20, 2, 1);
ops(0x30, 0x30, 0, 1);
ops(0x31, 0x31, 1, 1);
ops(0x32, 0x34, 0, 1);
ops(0x35, 0x35, 1, 1);
ops(0x36, 0x36, 0, 1);
ops(0x37, 0x37, 3, 0);
ops(0x38, 0x38, 0, 1);
ops(0x39, 0x39, 3, 0);
ops(0x3a, 0x3a, 0, 1);
ops(0x3b, 0x3b, 1, 1);
ops(0x3c, 0x3c, 4, 0);
ops(0x3d, 0x3d, 0, 1);
ops(0x3e, 0x3e, 3, 0);
ops(0x3f, 0x40, 1, 1);
ops(0x41, 0x48, 0, 1);
ops(0x49, 0x49, 1, 1);
ops(0x4a, 0x4a, 0, 1);
ops(0x50, 0x50, 1, 0);
ops(0x51, 0x51, 1, 1);
ops(0x52, 0x53, 2, 0);
ops(0x54, 0x54, 1, 1);
ops(0x55, 0x55, 2, 0);
ops(0x56, 0x56, 1, 0);
ops(0x57, 0x57, 2, 0);
ops(0x58, 0x5a, 0, 1);
ops(0x5c, 0x5c, 1, 1);
ops(0x5d, 0x5d, 2, 0);
ops(0x5e, 0x5e, 3, 0);
ops(0x5f, 0x7f, 0, 1);
for (let n = 1; n <= 16; n++) {
  ops(0x7f + n, 0x7f + n, n, n + 1);
  ops(0x8f + n, 0x8f + n, n + 1, n + 1);
}
for (let n = 0; n <= 4; n++) ops(0xa0 + n, 0xa0 + n, n + 2, 0);
ops(0xf0, 0xf0, 3, 1);
ops(0xf1, 0xf2, 7, 1);
ops(0xf3, 0xf3, 2, 0);
ops(0xf4, 0xf4, 6, 1);
ops(0xf5, 0xf5, 4, 1);
ops(0xfa, 0xfa, 6, 1);
ops(0xfd, 0xfd, 2, 0);
ops(0xff, 0xff, 1, 0);

/**
 * The stack heights an opcode may start at, packed in one entry for one load per opcode: the
 * least (its inputs) in the low 16 bits, and in the high 16 how far above that it may start
 * without overflowing 1024. `(sp - least) >>> 0 > span` is then both checks in one compare.
 */
const STACK_RANGE = new Int32Array(256);
for (let o = 0; o < 256; o++) {
  const most = 1024 - Math.max(0, STACK_OUT[o]! - STACK_IN[o]!);
  STACK_RANGE[o] = STACK_IN[o]! | ((most - STACK_IN[o]!) << 16);
}

const WORD_LIMIT = 2n ** 37n;
const TWO256 = 1n << 256n;
/** Words (32 bytes, rounded up) in a length, for per-word gas; Infinity past any payable size. */
const words = (len: bigint): number =>
  len > WORD_LIMIT ? Number.POSITIVE_INFINITY : Math.ceil(Number(len) / 32);

/** `@ethereumjs/evm` treats code starting 0xEF00 as EOF even where EOF is not active. */
const EOF_MAGIC = Uint8Array.of(0xef, 0x00);
const EOF_HASH = toBig(keccak256(EOF_MAGIC));
const isEof = (code: Uint8Array): boolean => code.length >= 2 && code[0] === 0xef && code[1] === 0x00;

/** A copy of memory bytes (Buffer.slice would be a view of memory that is reused). */
function copyOut(mem: Uint8Array, off: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  out.set(mem.subarray(off, off + len));
  return out;
}

/** Copies `len` bytes of `src` from `srcOff` (zeros past its end) into memory at `dst`. */
function copyInto(mem: Uint8Array, dst: number, src: Uint8Array, srcOff: bigint, len: number): void {
  const start = srcOff >= small(src.length) ? src.length : Number(srcOff);
  const avail = Math.min(len, src.length - start);
  if (avail > 0) mem.set(src.subarray(start, start + avail), dst);
  if (avail < len) mem.fill(0, dst + Math.max(avail, 0), dst + len);
}

function expMod(base: bigint, exp: bigint): bigint {
  if (exp === 0n) return 1n;
  if (base === 2n) return exp < 256n ? 1n << exp : 0n;
  let r = 1n;
  let b = base;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) r = (r * b) & MAX256;
    e >>= 1n;
    if (e > 0n) b = (b * b) & MAX256;
  }
  return r;
}

/** The kept keys of a storage slot of the frame's account (`KeyCache`). */
function slotKeys(vm: FastVm, f: Frame, v: bigint): SlotKeys {
  let m = f.slotKeys;
  if (m === null) m = f.slotKeys = vm.keys.slotsOf(f.address);
  return vm.keys.slot(m, f.address, v);
}

/**
 * JUMP/JUMPI: where `d` lands, or -1 if that is not a JUMPDEST. Converted first and compared as a
 * number: a word past 2^53 becomes a number past any code size, so no BigInt compare is needed.
 */
function jumpTarget(d: bigint, codeSize: number, dests: Uint8Array): number {
  const to = Number(d);
  if (!(to < codeSize)) return -1;
  return dests[to | 0] === 1 ? to | 0 : -1;
}

/** An exceptional halt: all the frame's gas is gone. */
function halt(f: Frame): Status {
  f.status = STATUS_ERROR;
  f.gas = 0;
  return STATUS_ERROR;
}

/**
 * Runs a frame's code to its end: STOP/RETURN (`STATUS_OK`), REVERT, or an exceptional halt
 * (`STATUS_ERROR`, all gas gone). Synchronous: state comes from `MemoryState`, sub-calls recurse
 * through `vm`. Gas checks and state reads happen in the order `@ethereumjs/evm` does them, so the
 * keys read (the witness) are the same even when an opcode runs out of gas.
 */
export function run(vm: FastVm, f: Frame): Status {
  const code = f.code;
  const n = code.length;
  const nBig = BigInt(n);
  const dests = f.info.dests;
  const pushes = f.info.pushes;
  const s = f.stack;
  const staticGas = vm.rules.staticGas;
  const g = vm.rules.g;
  const sub = vm.sub;
  const state = vm.state;
  let sp = 0;
  let pc = 0;
  let gas = f.gas;
  // Hot code runs its straight-line parts compiled (blockCompiler.ts). After a block's entry
  // checks fail, its opcodes are interpreted one by one up to the next jump.
  const info = f.info;
  const blocks = ++info.runs >= vm.compileAfter ? blocksOf(info, code, vm.rules.hardfork, staticGas) : null;
  let compiled = blocks !== null;

  while (pc < n) {
    if (compiled) {
      const b = blocks!.at(pc);
      if (b !== null) {
        f.sp = sp;
        f.gas = gas;
        const next = b(s, f);
        if (next >= 0) {
          pc = next | 0;
          sp = f.sp;
          gas = f.gas;
          continue;
        }
        if (next === BLOCK_HALT) return halt(f);
        compiled = false;
      }
    }
    const op = code[pc]!;
    const base = staticGas[op]!;
    if (base < 0) return halt(f);
    const range = STACK_RANGE[op]!;
    if ((sp - (range & 0xffff)) >>> 0 > range >>> 16) return halt(f);
    if (op !== 0xff) {
      gas -= base;
      if (gas < 0) return halt(f);
    }
    switch (op) {
      case 0x00: // STOP
        f.gas = gas;
        f.status = STATUS_OK;
        return f.status;
      case 0x01: {
        // Reduced only when it wrapped: a compare allocates nothing, a mask is another BigInt.
        sp--;
        const r = s[sp - 1]! + s[sp]!;
        s[sp - 1] = r > MAX256 ? r - TWO256 : r;
        break;
      }
      case 0x02: {
        sp--;
        const r = s[sp - 1]! * s[sp]!;
        s[sp - 1] = r > MAX256 ? r & MAX256 : r;
        break;
      }
      case 0x03: {
        sp--;
        const r = s[sp]! - s[sp - 1]!;
        s[sp - 1] = r < 0n ? r + TWO256 : r;
        break;
      }
      case 0x04: {
        sp--;
        const b = s[sp - 1]!;
        s[sp - 1] = b === 0n ? 0n : s[sp]! / b;
        break;
      }
      case 0x05: {
        sp--;
        const b = s[sp - 1]!;
        s[sp - 1] = b === 0n ? 0n : toUnsigned(toSigned(s[sp]!) / toSigned(b)) & MAX256;
        break;
      }
      case 0x06: {
        sp--;
        const b = s[sp - 1]!;
        s[sp - 1] = b === 0n ? 0n : s[sp]! % b;
        break;
      }
      case 0x07: {
        sp--;
        const b = s[sp - 1]!;
        s[sp - 1] = b === 0n ? 0n : toUnsigned(toSigned(s[sp]!) % toSigned(b));
        break;
      }
      case 0x08: {
        sp -= 2;
        const m = s[sp - 1]!;
        s[sp - 1] = m === 0n ? 0n : (s[sp + 1]! + s[sp]!) % m;
        break;
      }
      case 0x09: {
        sp -= 2;
        const m = s[sp - 1]!;
        s[sp - 1] = m === 0n ? 0n : (s[sp + 1]! * s[sp]!) % m;
        break;
      }
      case 0x0a: {
        const e = s[sp - 2]!;
        if (e !== 0n) {
          gas -= g.expByte * Math.ceil(e.toString(2).length / 8);
          if (gas < 0) return halt(f);
        }
        sp--;
        s[sp - 1] = expMod(s[sp]!, e);
        break;
      }
      case 0x0b:
        sp--;
        s[sp - 1] = signExtend(s[sp]!, s[sp - 1]!);
        break;
      case 0x10:
        sp--;
        s[sp - 1] = s[sp]! < s[sp - 1]! ? 1n : 0n;
        break;
      case 0x11:
        sp--;
        s[sp - 1] = s[sp]! > s[sp - 1]! ? 1n : 0n;
        break;
      case 0x12:
        sp--;
        s[sp - 1] = toSigned(s[sp]!) < toSigned(s[sp - 1]!) ? 1n : 0n;
        break;
      case 0x13:
        sp--;
        s[sp - 1] = toSigned(s[sp]!) > toSigned(s[sp - 1]!) ? 1n : 0n;
        break;
      case 0x14:
        sp--;
        s[sp - 1] = s[sp - 1] === s[sp] ? 1n : 0n;
        break;
      case 0x15:
        s[sp - 1] = s[sp - 1] === 0n ? 1n : 0n;
        break;
      case 0x16:
        sp--;
        s[sp - 1] = s[sp - 1]! & s[sp]!;
        break;
      case 0x17:
        sp--;
        s[sp - 1] = s[sp - 1]! | s[sp]!;
        break;
      case 0x18:
        sp--;
        s[sp - 1] = s[sp - 1]! ^ s[sp]!;
        break;
      case 0x19:
        s[sp - 1] = MAX256 ^ s[sp - 1]!;
        break;
      case 0x1a: {
        sp--;
        const i = s[sp]!;
        s[sp - 1] = i >= 32n ? 0n : (s[sp - 1]! >> (248n - i * 8n)) & 0xffn;
        break;
      }
      case 0x1b: {
        sp--;
        const sh = s[sp]!;
        if (sh >= 256n) s[sp - 1] = 0n;
        else {
          const r = s[sp - 1]! << sh;
          s[sp - 1] = r > MAX256 ? r & MAX256 : r;
        }
        break;
      }
      case 0x1c: {
        sp--;
        const sh = s[sp]!;
        s[sp - 1] = sh >= 256n ? 0n : s[sp - 1]! >> sh;
        break;
      }
      case 0x1d:
        sp--;
        s[sp - 1] = sar(s[sp]!, s[sp - 1]!);
        break;
      case 0x20: {
        const off = s[sp - 1]!;
        const len = s[sp - 2]!;
        gas -= f.expand(off, len) + g.keccakWord * words(len);
        if (gas < 0) return halt(f);
        sp--;
        const mem = f.ensureMem();
        const o = Number(off);
        s[sp - 1] =
          len === 0n
            ? KECCAK_EMPTY
            : len === 64n
              ? vm.keys.hash64(mem, o)
              : toBig(keccak256(mem.subarray(o, o + Number(len))));
        break;
      }
      case 0x30:
        s[sp++] = f.addressWord();
        break;
      case 0x31: {
        const a = vm.keys.addr(s[sp - 1]!);
        gas -= sub.warmAddr(a) ? g.coldAccount : g.warmRead;
        if (gas < 0) return halt(f);
        s[sp - 1] = state.account(a)?.balance ?? 0n;
        break;
      }
      case 0x32:
        s[sp++] = vm.originWord;
        break;
      case 0x33:
        s[sp++] = f.callerWord();
        break;
      case 0x34:
        s[sp++] = f.value;
        break;
      case 0x35:
        s[sp - 1] = f.dataWord(s[sp - 1]!);
        break;
      case 0x36:
        s[sp++] = small(f.data.length);
        break;
      case 0x37:
      case 0x39:
      case 0x3e: {
        const memOff = s[sp - 1]!;
        const srcOff = s[sp - 2]!;
        const len = s[sp - 3]!;
        if (op === 0x3e && srcOff + len > small(f.returnData.length)) return halt(f);
        gas -= f.expand(memOff, len) + (len === 0n ? 0 : g.copy * words(len));
        if (gas < 0) return halt(f);
        sp -= 3;
        if (len !== 0n) {
          const src = op === 0x37 ? f.data : op === 0x39 ? code : f.returnData;
          copyInto(f.ensureMem(), Number(memOff), src, srcOff, Number(len));
        }
        break;
      }
      case 0x38:
        s[sp++] = nBig;
        break;
      case 0x3a:
        s[sp++] = vm.gasPrice;
        break;
      case 0x3b: {
        const a = vm.keys.addr(s[sp - 1]!);
        gas -= sub.warmAddr(a) ? g.coldAccount : g.warmRead;
        if (gas < 0) return halt(f);
        const c = state.code(a) ?? EMPTY;
        s[sp - 1] = isEof(c) ? 2n : small(c.length);
        break;
      }
      case 0x3c: {
        const a = vm.keys.addr(s[sp - 1]!);
        const memOff = s[sp - 2]!;
        const codeOff = s[sp - 3]!;
        const len = s[sp - 4]!;
        gas -= f.expand(memOff, len);
        gas -= sub.warmAddr(a) ? g.coldAccount : g.warmRead;
        if (len !== 0n) gas -= g.copy * words(len);
        if (gas < 0) return halt(f);
        sp -= 4;
        if (len !== 0n) {
          let c = state.code(a) ?? EMPTY;
          if (isEof(c)) c = EOF_MAGIC;
          copyInto(f.ensureMem(), Number(memOff), c, codeOff, Number(len));
        }
        break;
      }
      case 0x3d:
        s[sp++] = small(f.returnData.length);
        break;
      case 0x3f: {
        const a = vm.keys.addr(s[sp - 1]!);
        gas -= sub.warmAddr(a) ? g.coldAccount : g.warmRead;
        if (gas < 0) return halt(f);
        const c = state.code(a) ?? EMPTY;
        if (isEof(c)) {
          s[sp - 1] = EOF_HASH;
          break;
        }
        const acc = state.account(a);
        s[sp - 1] =
          acc === undefined || (acc.nonce === 0n && acc.balance === 0n && vm.isEmptyCodeHash(acc.codeHash))
            ? 0n
            : toBig(acc.codeHash);
        break;
      }
      case 0x40: {
        const num = s[sp - 1]!;
        const diff = vm.number - num;
        s[sp - 1] = diff > 256n || diff <= 0n ? 0n : toBig(vm.blockHash(num));
        break;
      }
      case 0x41:
        s[sp++] = vm.coinbaseWord;
        break;
      case 0x42:
        s[sp++] = vm.timestamp;
        break;
      case 0x43:
        s[sp++] = vm.number;
        break;
      case 0x44:
        s[sp++] = vm.prevRandao;
        break;
      case 0x45:
        s[sp++] = vm.blockGasLimit;
        break;
      case 0x46:
        s[sp++] = vm.rules.chainId;
        break;
      case 0x47:
        s[sp++] = state.account(f.address)?.balance ?? 0n;
        break;
      case 0x48:
        s[sp++] = vm.baseFee;
        break;
      case 0x49:
        // Blob transactions go to runTx: no versioned hashes here.
        s[sp - 1] = 0n;
        break;
      case 0x4a:
        s[sp++] = vm.blobBaseFee();
        break;
      case 0x50:
        sp--;
        break;
      case 0x51: {
        const off = s[sp - 1]!;
        // Exact wherever it is used: past 2^36 the memory gas is unpayable (`expand`).
        const o = Number(off);
        gas -= f.expandAt(off, o, 32);
        if (gas < 0) return halt(f);
        f.ensureMem();
        s[sp - 1] = readWord(f.view, o);
        break;
      }
      case 0x52: {
        const off = s[sp - 1]!;
        const o = Number(off);
        gas -= f.expandAt(off, o, 32);
        if (gas < 0) return halt(f);
        f.ensureMem();
        writeWordAt(f.view, o, s[sp - 2]!);
        sp -= 2;
        break;
      }
      case 0x53: {
        const off = s[sp - 1]!;
        const o = Number(off);
        gas -= f.expandAt(off, o, 1);
        if (gas < 0) return halt(f);
        f.ensureMem()[o] = Number(s[sp - 2]! & 0xffn);
        sp -= 2;
        break;
      }
      case 0x54: {
        const k = slotKeys(vm, f, s[sp - 1]!);
        gas -= sub.warmSlot(k.joined) ? g.coldSload : g.warmRead;
        if (gas < 0) return halt(f);
        s[sp - 1] = toBig(state.slot(f.address, k.key) ?? EMPTY);
        break;
      }
      case 0x55: {
        if (f.isStatic) return halt(f);
        // One string for the warm set and the originals, kept across transactions: hashed once.
        const { key, joined } = slotKeys(vm, f, s[sp - 1]!);
        const v = s[sp - 2]!;
        const current = toBig(state.slot(f.address, key) ?? EMPTY);
        const original = toBig(state.originalSlot(f.address, key, joined));
        if (gas <= g.sstoreSentry) return halt(f);
        const cold = !sub.warmSlots.has(joined);
        let cost: number;
        if (current === v) cost = g.warmRead;
        else if (original === current) {
          if (original === 0n) cost = g.sstoreSet;
          else {
            if (v === 0n) sub.refund += g.sstoreClearRefund;
            cost = g.sstoreReset;
          }
        } else {
          if (original !== 0n) {
            if (current === 0n) {
              sub.refund -= g.sstoreClearRefund;
              if (sub.refund < 0) return halt(f);
            } else if (v === 0n) sub.refund += g.sstoreClearRefund;
          }
          if (original === v) sub.refund += original === 0n ? g.sstoreInitRefund : g.sstoreCleanRefund;
          cost = g.warmRead;
        }
        if (cold) {
          sub.warmSlot(joined);
          cost += g.coldSload;
        }
        gas -= cost;
        if (gas < 0) return halt(f);
        state.writeSlot(f.address, key, toUnpadded(v), joined);
        sp -= 2;
        break;
      }
      case 0x56: {
        const to = jumpTarget(s[--sp]!, n, dests);
        if (to < 0) return halt(f);
        pc = to;
        compiled = blocks !== null;
        continue;
      }
      case 0x57: {
        sp -= 2;
        compiled = blocks !== null;
        if (s[sp]! !== 0n) {
          const to = jumpTarget(s[sp + 1]!, n, dests);
          if (to < 0) return halt(f);
          pc = to;
          continue;
        }
        break;
      }
      case 0x58:
        s[sp++] = small(pc);
        break;
      case 0x59:
        s[sp++] = small(f.memWords * 32);
        break;
      case 0x5a:
        s[sp++] = small(gas);
        break;
      case 0x5b:
        break;
      case 0x5c:
        s[sp - 1] = sub.tload(slotKeys(vm, f, s[sp - 1]!).joined);
        break;
      case 0x5d:
        if (f.isStatic) return halt(f);
        sub.tstore(slotKeys(vm, f, s[sp - 1]!).joined, s[sp - 2]!);
        sp -= 2;
        break;
      case 0x5e: {
        const dst = s[sp - 1]!;
        const src = s[sp - 2]!;
        const len = s[sp - 3]!;
        gas -= g.copy * words(len) + f.expand(src > dst ? src : dst, len);
        if (gas < 0) return halt(f);
        sp -= 3;
        if (len !== 0n) {
          const mem = f.ensureMem();
          const so = Number(src);
          mem.copyWithin(Number(dst), so, so + Number(len));
        }
        break;
      }
      case 0x5f:
        s[sp++] = 0n;
        break;
      case 0x60:
      case 0x61:
      case 0x62:
      case 0x63:
      case 0x64:
      case 0x65:
      case 0x66:
      case 0x67:
      case 0x68:
      case 0x69:
      case 0x6a:
      case 0x6b:
      case 0x6c:
      case 0x6d:
      case 0x6e:
      case 0x6f:
      case 0x70:
      case 0x71:
      case 0x72:
      case 0x73:
      case 0x74:
      case 0x75:
      case 0x76:
      case 0x77:
      case 0x78:
      case 0x79:
      case 0x7a:
      case 0x7b:
      case 0x7c:
      case 0x7d:
      case 0x7e:
      case 0x7f: {
        s[sp++] = pushes[pc]!;
        pc += op - 0x5e;
        continue;
      }
      case 0x80:
      case 0x81:
      case 0x82:
      case 0x83:
      case 0x84:
      case 0x85:
      case 0x86:
      case 0x87:
      case 0x88:
      case 0x89:
      case 0x8a:
      case 0x8b:
      case 0x8c:
      case 0x8d:
      case 0x8e:
      case 0x8f:
        s[sp] = s[sp - (op - 0x7f)]!;
        sp++;
        break;
      case 0x90:
      case 0x91:
      case 0x92:
      case 0x93:
      case 0x94:
      case 0x95:
      case 0x96:
      case 0x97:
      case 0x98:
      case 0x99:
      case 0x9a:
      case 0x9b:
      case 0x9c:
      case 0x9d:
      case 0x9e:
      case 0x9f: {
        const j = sp - 1 - (op - 0x8f);
        const t = s[sp - 1]!;
        s[sp - 1] = s[j]!;
        s[j] = t;
        break;
      }
      case 0xa0:
      case 0xa1:
      case 0xa2:
      case 0xa3:
      case 0xa4: {
        if (f.isStatic) return halt(f);
        const topicsN = op - 0xa0;
        const off = s[sp - 1]!;
        const len = s[sp - 2]!;
        gas -=
          f.expand(off, len) +
          g.logTopic * topicsN +
          (len > WORD_LIMIT ? Number.POSITIVE_INFINITY : Number(len) * g.logData);
        if (gas < 0) return halt(f);
        const topics: Uint8Array[] = [];
        for (let t = 0; t < topicsN; t++) topics.push(vm.word(s[sp - 3 - t]!));
        const mem = f.ensureMem();
        const o = Number(off);
        const data = len === 0n ? EMPTY : copyOut(mem, o, Number(len));
        sub.logs.push({ address: vm.logAddress(f.address), topics, data });
        sp -= 2 + topicsN;
        break;
      }
      case 0xf0:
      case 0xf5: {
        if (f.isStatic) return halt(f);
        const value = s[sp - 1]!;
        const off = s[sp - 2]!;
        const len = s[sp - 3]!;
        const w = words(len);
        gas -= f.expand(off, len) + g.initCodeWord * w + (op === 0xf5 ? g.keccakWord * w : 0);
        if (gas < 0) return halt(f);
        // The creator is warm (EIP-2929 charges nothing for it).
        sub.warmAddr(f.address);
        if (len > BigInt(g.maxInitCodeSize)) return halt(f);
        const salt = op === 0xf5 ? s[sp - 4]! : null;
        sp -= op === 0xf5 ? 4 : 3;
        const limit = gas - Math.floor(gas / 64);
        const o = Number(off);
        const init = len === 0n ? EMPTY : f.ensureMem().subarray(o, o + Number(len));
        f.sp = sp;
        if (isEof(init)) {
          // @ethereumjs/evm refuses EOF init code before anything happens.
          s[sp++] = 0n;
          break;
        }
        f.gas = gas;
        const r = vm.opCreate(f, limit, value, Uint8Array.prototype.slice.call(init), salt);
        gas = f.gas;
        s[sp++] = r;
        break;
      }
      case 0xf1:
      case 0xf2:
      case 0xf4:
      case 0xfa: {
        const hasValue = op === 0xf1 || op === 0xf2;
        const gasArg = s[sp - 1]!;
        const to = vm.keys.addr(s[sp - 2]!);
        const value = hasValue ? s[sp - 3]! : op === 0xf4 ? f.value : 0n;
        const a = hasValue ? 4 : 3;
        const inOff = s[sp - a]!;
        const inLen = s[sp - a - 1]!;
        const outOff = s[sp - a - 2]!;
        const outLen = s[sp - a - 3]!;
        if (op === 0xf1 && f.isStatic && value !== 0n) return halt(f);
        let cost = f.expand(inOff, inLen);
        cost += f.expand(outOff, outLen);
        cost += sub.warmAddr(to) ? g.coldAccount : g.warmRead;
        if (hasValue && value !== 0n) {
          cost += g.callValue;
          if (op === 0xf1) {
            const acc = state.account(to);
            if (
              acc === undefined ||
              (acc.nonce === 0n && acc.balance === 0n && vm.isEmptyCodeHash(acc.codeHash))
            )
              cost += g.callNewAccount;
          }
        }
        if (vm.rules.delegations) vm.checkNotDelegated(to);
        if (cost > gas) return halt(f);
        const avail = gas - cost;
        const allowed = avail - Math.floor(avail / 64);
        let limit = gasArg < small(allowed) ? Number(gasArg) : allowed;
        gas -= cost;
        sp -= a + 3;
        const o = Number(inOff);
        // A view, not a copy: this frame's memory cannot change until the call returns, and
        // nothing keeps a callee's calldata past it (precompiles get a copy, `execCall`).
        const input = inLen === 0n ? EMPTY : f.ensureMem().subarray(o, o + Number(inLen));
        if (hasValue && value !== 0n) {
          gas += g.callStipend;
          limit += g.callStipend;
        }
        f.sp = sp;
        f.gas = gas;
        const ok = vm.opCall(f, op, limit, to, value, input);
        gas = f.gas;
        const rd = f.returnData;
        if (rd.length > 0 && outLen !== 0n) {
          const mem = f.ensureMem();
          const len = Number(outLen);
          // Most calls return exactly what the caller made room for: no view to make.
          mem.set(rd.length <= len ? rd : rd.subarray(0, len), Number(outOff));
        }
        s[sp++] = ok ? 1n : 0n;
        break;
      }
      case 0xf3:
      case 0xfd: {
        const off = s[sp - 1]!;
        const len = s[sp - 2]!;
        gas -= f.expand(off, len);
        if (gas < 0) return halt(f);
        const o = Number(off);
        f.output = len === 0n ? EMPTY : copyOut(f.ensureMem(), o, Number(len));
        f.gas = gas;
        f.status = op === 0xf3 ? STATUS_OK : STATUS_REVERT;
        return f.status;
      }
      case 0xff: {
        if (f.isStatic) return halt(f);
        const to = vm.keys.addr(s[sp - 1]!);
        const balance = state.account(f.address)?.balance ?? 0n;
        let cost = g.selfdestruct;
        if (balance > 0n) {
          const acc = state.account(to);
          if (
            acc === undefined ||
            (acc.nonce === 0n && acc.balance === 0n && vm.isEmptyCodeHash(acc.codeHash))
          )
            cost += g.callNewAccount;
        }
        if (sub.warmAddr(to)) cost += g.coldAccount;
        gas -= cost;
        if (gas < 0) return halt(f);
        vm.selfdestruct(f, to, balance);
        f.gas = gas;
        f.status = STATUS_OK;
        return f.status;
      }
      default:
        // Opcodes with a static gas entry but no case here would be a rules mismatch: hand over.
        throw new FastPathAbort(`opcode 0x${op.toString(16)}`);
    }
    pc++;
  }
  f.gas = gas;
  f.status = STATUS_OK;
  return STATUS_OK;
}

const KECCAK_EMPTY = toBig(keccak256(EMPTY));
