import type { BlockHeader } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { keepBloomBits } from "../../chain/blockHeader.ts";
import { KECCAK256_NULL, keccak256 } from "../../crypto/keccak.ts";
import type { AccountRec, MemoryState } from "../../state/memoryState.ts";
import { FastPathAbort } from "./abort.ts";
import { DEFAULT_COMPILE_AFTER } from "./blockCompiler.ts";
import { analyse, codeInfo } from "./codeAnalysis.ts";
import { Frame, FramePool, STATUS_ERROR, STATUS_OK, STATUS_REVERT, type Status } from "./frame.ts";
import { run } from "./interpreter.ts";
import { KeyCache } from "./keyCache.ts";
import { Precompiles } from "./precompiles.ts";
import type { Rules } from "./rules.ts";
import { Substate } from "./substate.ts";
import { bytesOfHex } from "../../util/hex.ts";
import { EMPTY, toWord } from "./words.ts";

export interface MessageResult {
  status: Status;
  gasLeft: number;
  output: Uint8Array;
}

const ZERO_HASH = new Uint8Array(32);
const EMPTY_ACCOUNT: AccountRec = { nonce: 0n, balance: 0n, codeHash: KECCAK256_NULL };
const MAX_NONCE = 2n ** 64n - 1n;
/** Distinct log topics (and log addresses) kept as shared bytes before the cache starts over. */
const LOG_BYTES_CACHE = 4096;

/** The shared bytes of a log topic or address (`FastVm.word`), made and their bloom bits kept on first use. */
function sharedLogBytes<K>(cache: Map<K, Uint8Array>, key: K, make: (key: K) => Uint8Array): Uint8Array {
  let b = cache.get(key);
  if (b === undefined) {
    if (cache.size >= LOG_BYTES_CACHE) cache.clear();
    b = make(key);
    keepBloomBits(b);
    cache.set(key, b);
  }
  return b;
}
/**
 * Deeper call chains go to `runTx`: each EVM frame costs a few JS frames, and the JS stack would
 * overflow before the EVM's own limit of 1024. Real contracts rarely nest past a dozen frames.
 */
export const FAST_MAX_DEPTH = 256;
const OP_CALLCODE = 0xf2;
const OP_DELEGATECALL = 0xf4;
const OP_STATICCALL = 0xfa;

/**
 * The fast EVM's message layer: calls and creations with their value transfers, checkpoints and
 * gas accounting, and what the interpreter asks of the environment (block fields, block hashes,
 * self-destruct). It mirrors `@ethereumjs/evm`'s `runCall`/`_executeCall`/`_executeCreate` and the
 * interpreter's `call`/`create`/`selfDestruct` step by step, including which accounts each step
 * reads and touches, so the state diff and the witness reads come out identical.
 */
export class FastVm {
  readonly sub = new Substate();
  readonly keys = new KeyCache();
  readonly pool = new FramePool();
  private readonly topics = new Map<bigint, Uint8Array>();
  private readonly logAddresses = new Map<string, Uint8Array>();
  readonly pre: Precompiles;
  state!: MemoryState;
  /** Frames that must have run a contract's code before its blocks are compiled (0: always). */
  compileAfter = DEFAULT_COMPILE_AFTER;
  /** State checkpoints this VM has open (all reverted when a transaction is abandoned). */
  openCheckpoints = 0;

  // Block environment.
  number = 0n;
  timestamp = 0n;
  coinbase = "";
  coinbaseWord = 0n;
  blockGasLimit = 0n;
  baseFee = 0n;
  prevRandao = 0n;
  header: BlockHeader | null = null;
  /** A block hash known without waiting (undefined: no such block, zero), or null (→ the transaction goes to runTx). */
  blockHashFn: (n: bigint) => Uint8Array | undefined | null = () => null;

  // Transaction environment.
  origin = "";
  originWord = 0n;
  gasPrice = 0n;

  constructor(
    readonly rules: Rules,
    common: Common,
  ) {
    this.pre = new Precompiles(common);
  }

  isEmptyCodeHash(h: Uint8Array): boolean {
    if (h === KECCAK256_NULL) return true;
    for (let i = 0; i < 32; i++) if (h[i] !== KECCAK256_NULL[i]) return false;
    return true;
  }

  isEmpty(a: AccountRec): boolean {
    return a.nonce === 0n && a.balance === 0n && this.isEmptyCodeHash(a.codeHash);
  }

  /**
   * A log topic as bytes. A contract emits the same topics over and over (event signatures,
   * addresses), so they are kept and shared between logs (never written to), with their bloom
   * bits (`keepBloomBits`) for `receiptBloom`. Bounded: cleared when full.
   */
  word(v: bigint): Uint8Array {
    return sharedLogBytes(this.topics, v, toWord);
  }

  /** A log's address as bytes, shared as `word` shares topics. */
  logAddress(addr: string): Uint8Array {
    return sharedLogBytes(this.logAddresses, addr, bytesOfHex);
  }

  blockHash(n: bigint): Uint8Array {
    const h = this.blockHashFn(n);
    if (h === null) throw new FastPathAbort("block hash not available synchronously");
    return h ?? ZERO_HASH;
  }

  blobBaseFee(): bigint {
    if (this.header === null) throw new FastPathAbort("BLOBBASEFEE without a header");
    return this.header.getBlobGasPrice();
  }

  /** EIP-7702 delegation designators (0xef0100 ‖ address) are for `runTx`. */
  checkNotDelegated(addr: string): void {
    const c = this.state.code(addr);
    if (c !== undefined && c.length >= 3 && c[0] === 0xef && c[1] === 0x01 && c[2] === 0x00)
      throw new FastPathAbort("EIP-7702 delegated code");
  }

  // ---------- checkpoints (state and substate together) ----------

  checkpoint(): void {
    this.state.checkpointSync();
    this.sub.checkpoint();
    this.openCheckpoints++;
  }

  commit(): void {
    this.state.commitSync();
    this.sub.commit();
    this.openCheckpoints--;
  }

  revert(): void {
    this.state.revertSync();
    this.sub.revert();
    this.openCheckpoints--;
  }

  private credit(addr: string, amount: bigint): void {
    const a = this.state.account(addr) ?? EMPTY_ACCOUNT;
    this.state.writeAccount(addr, { nonce: a.nonce, balance: a.balance + amount, codeHash: a.codeHash });
    this.sub.touch(addr);
  }

  // ---------- messages (runCall) ----------

  /**
   * A message call in its own checkpoint, reverted unless it succeeds. Its parameters, repeated by
   * `execCall`, are positional on purpose: this is the interpreter's path for every CALL, and an
   * object per message costs measurable time there.
   */
  callMessage(
    caller: string,
    to: string,
    codeAddr: string,
    value: bigint,
    data: Uint8Array,
    gas: number,
    isStatic: boolean,
    depth: number,
    delegate: boolean,
  ): MessageResult {
    this.checkpoint();
    const r = this.execCall(caller, to, codeAddr, value, data, gas, isStatic, depth, delegate);
    if (r.status === STATUS_OK) this.commit();
    else this.revert();
    return r;
  }

  private execCall(
    caller: string,
    to: string,
    codeAddr: string,
    value: bigint,
    data: Uint8Array,
    gas: number,
    isStatic: boolean,
    depth: number,
    delegate: boolean,
  ): MessageResult {
    const state = this.state;
    let failed = false;
    // runTx writes both accounts back even when no value moves; for an account that exists that
    // write changes nothing (no diff entry, nothing to undo), so it is skipped: most calls carry
    // no value, and each write costs a record, a journal entry and a touched-set entry.
    if (!delegate) {
      const from = state.account(caller);
      const f = from ?? EMPTY_ACCOUNT;
      if (f.balance < value) failed = true;
      else {
        if (value !== 0n || from === undefined)
          state.writeAccount(caller, { nonce: f.nonce, balance: f.balance - value, codeHash: f.codeHash });
        this.sub.touch(caller);
      }
    }
    const toAcc = state.account(to);
    if (!delegate && !failed) {
      if (value !== 0n || toAcc === undefined) {
        const t = toAcc ?? EMPTY_ACCOUNT;
        state.writeAccount(to, { nonce: t.nonce, balance: t.balance + value, codeHash: t.codeHash });
      }
      this.sub.touch(to);
    }
    const isPrecompile = this.pre.has(codeAddr);
    let code: Uint8Array = EMPTY;
    if (!isPrecompile) {
      code = state.code(codeAddr) ?? EMPTY;
      if (
        this.rules.delegations &&
        code.length >= 3 &&
        code[0] === 0xef &&
        code[1] === 0x01 &&
        code[2] === 0x00
      )
        throw new FastPathAbort("EIP-7702 delegated code");
    }
    if (failed) return { status: STATUS_ERROR, gasLeft: gas, output: EMPTY };
    if (isPrecompile) {
      // A copy: a CALL's input is a view of the caller's memory, and a precompile (the library's
      // code) must neither change that memory nor answer a view of it as its output (identity
      // copies today; the test "a call's input after the call" checks the output).
      const r = this.pre.run(codeAddr, Uint8Array.prototype.slice.call(data), gas);
      if (r.ok) return { status: STATUS_OK, gasLeft: gas - r.gasUsed, output: r.output };
      return {
        status: r.reverted ? STATUS_REVERT : STATUS_ERROR,
        gasLeft: gas - r.gasUsed,
        output: r.output,
      };
    }
    if (code.length === 0) return { status: STATUS_OK, gasLeft: gas, output: EMPTY };
    const f = new Frame(
      this.pool.mem(depth),
      code,
      codeInfo(code),
      gas,
      to,
      caller,
      value,
      data,
      isStatic,
      depth,
    );
    run(this, f);
    this.pool.release(f);
    if (f.status === STATUS_ERROR) return { status: STATUS_ERROR, gasLeft: 0, output: EMPTY };
    return { status: f.status, gasLeft: f.gas, output: f.output };
  }

  /**
   * A contract creation in its own checkpoint. The new address is warmed before the checkpoint
   * (EIP-2929: it stays warm even if the creation fails). `address` null: the init code is over
   * the size limit (only a creating transaction gets this far with one).
   */
  createMessage(
    caller: string,
    address: string,
    value: bigint,
    init: Uint8Array,
    gas: number,
    depth: number,
  ): MessageResult & { created: boolean } {
    this.sub.warmAddr(address);
    this.checkpoint();
    const r = this.execCreate(caller, address, value, init, gas, depth);
    if (r.status === STATUS_OK) this.commit();
    else this.revert();
    return r;
  }

  private execCreate(
    caller: string,
    address: string,
    value: bigint,
    init: Uint8Array,
    gas: number,
    depth: number,
  ): MessageResult & { created: boolean } {
    const state = this.state;
    const g = this.rules.g;
    const from = state.account(caller) ?? EMPTY_ACCOUNT;
    if (from.balance < value) throw new FastPathAbort("create value above the creator's balance");
    state.writeAccount(caller, { nonce: from.nonce, balance: from.balance - value, codeHash: from.codeHash });
    this.sub.touch(caller);
    if (init.length > g.maxInitCodeSize)
      return { status: STATUS_ERROR, gasLeft: 0, output: EMPTY, created: false };
    this.sub.markCreated(address);
    const existing = state.account(address);
    if (
      existing !== undefined &&
      (existing.nonce > 0n || !this.isEmptyCodeHash(existing.codeHash) || state.hasStorage(address))
    )
      return { status: STATUS_ERROR, gasLeft: 0, output: EMPTY, created: true };
    state.writeAccount(address, existing ?? EMPTY_ACCOUNT);
    this.sub.touch(address);
    state.wipeStorageOf(address);
    const fresh = state.account(address) ?? EMPTY_ACCOUNT;
    state.writeAccount(address, {
      nonce: fresh.nonce + 1n,
      balance: fresh.balance + value,
      codeHash: fresh.codeHash,
    });
    if (init.length === 0) return { status: STATUS_OK, gasLeft: gas, output: EMPTY, created: true };
    const f = new Frame(
      this.pool.mem(depth),
      init,
      analyse(init),
      gas,
      address,
      caller,
      value,
      EMPTY,
      false,
      depth,
    );
    run(this, f);
    this.pool.release(f);
    if (f.status === STATUS_ERROR) return { status: STATUS_ERROR, gasLeft: 0, output: EMPTY, created: true };
    const out = f.output;
    if (f.status === STATUS_REVERT) {
      // @ethereumjs/evm applies EIP-3541's 0xEF check to reverted output too.
      if (out.length > 0 && out[0] === 0xef)
        return { status: STATUS_ERROR, gasLeft: 0, output: EMPTY, created: true };
      return { status: STATUS_REVERT, gasLeft: f.gas, output: out, created: true };
    }
    const total = gas - f.gas + out.length * g.createData;
    if (total > gas || out.length > g.maxCodeSize || (out.length > 0 && out[0] === 0xef))
      return { status: STATUS_ERROR, gasLeft: 0, output: EMPTY, created: true };
    if (out.length > 0) state.writeCode(address, out);
    return { status: STATUS_OK, gasLeft: gas - total, output: out, created: true };
  }

  // ---------- what the interpreter's CALL*, CREATE* and SELFDESTRUCT need ----------

  /** CALL/CALLCODE/DELEGATECALL/STATICCALL with the gas already charged; adjusts `f.gas`, sets `f.returnData`. */
  opCall(f: Frame, op: number, limit: number, target: string, value: bigint, input: Uint8Array): boolean {
    f.returnData = EMPTY;
    const delegate = op === OP_DELEGATECALL;
    if (f.depth >= this.rules.g.stackLimit) return false;
    if (f.depth >= FAST_MAX_DEPTH) throw new FastPathAbort("call depth above 256");
    if (!delegate && (this.state.account(f.address)?.balance ?? 0n) < value) return false;
    let r: MessageResult;
    if (op === OP_DELEGATECALL)
      r = this.callMessage(f.caller, f.address, target, value, input, limit, f.isStatic, f.depth + 1, true);
    else if (op === OP_CALLCODE)
      r = this.callMessage(f.address, f.address, target, value, input, limit, f.isStatic, f.depth + 1, false);
    else
      r = this.callMessage(
        f.address,
        target,
        target,
        value,
        input,
        limit,
        f.isStatic || op === OP_STATICCALL,
        f.depth + 1,
        false,
      );
    f.gas -= limit - r.gasLeft;
    if (r.status !== STATUS_ERROR) f.returnData = r.output;
    return r.status === STATUS_OK;
  }

  /** CREATE/CREATE2 with the gas already charged: the new address as a word, or 0. */
  opCreate(f: Frame, limit: number, value: bigint, init: Uint8Array, salt: bigint | null): bigint {
    f.returnData = EMPTY;
    if (f.depth >= this.rules.g.stackLimit) return 0n;
    if (f.depth >= FAST_MAX_DEPTH) throw new FastPathAbort("call depth above 256");
    const self = this.state.account(f.address) ?? EMPTY_ACCOUNT;
    if (self.balance < value) return 0n;
    if (self.nonce >= MAX_NONCE) return 0n;
    const address =
      salt === null ? createAddress(f.address, self.nonce) : create2Address(f.address, salt, init);
    this.state.writeAccount(f.address, {
      nonce: self.nonce + 1n,
      balance: self.balance,
      codeHash: self.codeHash,
    });
    this.sub.touch(f.address);
    const r = this.createMessage(f.address, address, value, init, limit, f.depth + 1);
    f.gas -= limit - r.gasLeft;
    if (r.status === STATUS_REVERT) f.returnData = r.output;
    return r.status === STATUS_OK ? BigInt(address) : 0n;
  }

  /** SELFDESTRUCT (EIP-6780), gas already charged. */
  selfdestruct(f: Frame, to: string, balance: bigint): void {
    const self = f.address;
    this.sub.selfdestruct(self);
    const toSelf = to === self;
    if (!toSelf) this.credit(to, balance);
    if (toSelf && !this.sub.created.has(self)) return;
    const a = this.state.account(self) ?? EMPTY_ACCOUNT;
    this.state.writeAccount(self, { nonce: a.nonce, balance: 0n, codeHash: a.codeHash });
  }

  /** Adds to an account's balance the way runTx pays the sender's refund and the coinbase's fee. */
  pay(addr: string, amount: bigint): void {
    this.credit(addr, amount);
  }
}

/** keccak256(rlp([sender, nonce]))[12:] */
export function createAddress(sender: string, nonce: bigint): string {
  const from = bytesOfHex(sender);
  let nonceBytes: Uint8Array;
  if (nonce === 0n) nonceBytes = Uint8Array.of(0x80);
  else if (nonce < 0x80n) nonceBytes = Uint8Array.of(Number(nonce));
  else {
    let h = nonce.toString(16);
    if (h.length & 1) h = `0${h}`;
    const raw = Buffer.from(h, "hex");
    nonceBytes = new Uint8Array(1 + raw.length);
    nonceBytes[0] = 0x80 + raw.length;
    nonceBytes.set(raw, 1);
  }
  const body = new Uint8Array(1 + 20 + nonceBytes.length);
  body[0] = 0x94;
  body.set(from, 1);
  body.set(nonceBytes, 21);
  const list = new Uint8Array(1 + body.length);
  list[0] = 0xc0 + body.length;
  list.set(body, 1);
  return `0x${Buffer.from(keccak256(list).subarray(12)).toString("hex")}`;
}

/** keccak256(0xff ‖ sender ‖ salt ‖ keccak256(init))[12:] */
export function create2Address(sender: string, salt: bigint, init: Uint8Array): string {
  const buf = new Uint8Array(85);
  buf[0] = 0xff;
  buf.set(bytesOfHex(sender), 1);
  buf.set(toWord(salt), 21);
  buf.set(keccak256(init), 53);
  return `0x${Buffer.from(keccak256(buf).subarray(12)).toString("hex")}`;
}
