import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import { KECCAK256_NULL } from "../../crypto/keccak.ts";
import { type MemoryState, type ReadSet, type StateReader, newReadSet } from "../../state/memoryState.ts";
import { qty } from "../eth/format.ts";
import type { TraceBudget, Tracer, TxEnd, TxStart } from "./traceSession.ts";

export interface PrestateTracerConfig {
  diffMode: boolean;
  disableCode: boolean;
  disableStorage: boolean;
}

interface AccountOut {
  balance?: string;
  code?: string;
  codeHash?: string;
  nonce?: number;
  storage?: Record<string, string>;
}

const ZERO_WORD = `0x${"00".repeat(32)}`;

/**
 * geth's `prestateTracer`: every account the transaction touched (sender, recipient, coinbase,
 * every account and storage slot execution read or wrote) with its `balance`, `nonce`, `code`,
 * `codeHash` and the touched `storage` slots, as they were before the transaction. Accounts that
 * did not exist are left out. With `diffMode`, `{pre, post}` of only what changed: `post` holds
 * the changed fields' new values, `pre` their old ones (and an account the transaction deleted
 * appears only in `pre`).
 *
 * What was touched is what the state layer recorded execution reading: the same keys the block
 * witness is built from.
 */
export class PrestateTracer implements Tracer {
  private pre: StateReader | null = null;
  private reads: ReadSet = newReadSet();

  constructor(
    private readonly config: PrestateTracerConfig,
    private readonly budget: TraceBudget,
  ) {}

  start(tx: TxStart, state: MemoryState): void {
    this.pre = tx.pre;
    this.reads = newReadSet();
    state.reads = this.reads;
    // geth adds these whatever execution reads.
    for (const a of [tx.from, tx.to, tx.coinbase]) if (a !== null) this.reads.accounts.add(a);
  }

  end(_e: TxEnd, state: MemoryState): object {
    state.reads = null;
    const pre = this.pre!;
    const accounts = new Set(this.reads.accounts);
    for (const a of this.reads.slots.keys()) accounts.add(a);
    const out: Record<string, AccountOut> = {};
    const post: Record<string, AccountOut> = {};
    for (const addr of [...accounts].sort()) {
      const before = this.account(pre, addr, this.reads.slots.get(addr));
      if (!this.config.diffMode) {
        if (before.exists) out[addr] = before.json;
        continue;
      }
      const after = state.account(addr);
      if (after === undefined) {
        // Deleted by the transaction (or never there): only its state before.
        if (before.exists) out[addr] = before.json;
        continue;
      }
      const p: AccountOut = {};
      let modified = false;
      const preRec = pre.account(addr);
      if ((preRec?.balance ?? 0n) !== after.balance) {
        p.balance = qty(after.balance);
        modified = true;
      }
      if ((preRec?.nonce ?? 0n) !== after.nonce) {
        p.nonce = Number(after.nonce);
        modified = true;
      }
      if (!equalsBytes(preRec?.codeHash ?? KECCAK256_NULL, after.codeHash)) {
        p.codeHash = bytesToHex(after.codeHash);
        if (!this.config.disableCode) p.code = bytesToHex(state.code(addr) ?? new Uint8Array(0));
        modified = true;
      }
      if (!this.config.disableStorage && before.json.storage !== undefined) {
        const changed: Record<string, string> = {};
        const prevSlots: Record<string, string> = {};
        for (const [k, v] of Object.entries(before.json.storage)) {
          const now = slotWord(state.slot(addr, k));
          if (now === v) continue;
          modified = true;
          if (v !== ZERO_WORD) prevSlots[k] = v;
          if (now !== ZERO_WORD) changed[k] = now;
        }
        if (Object.keys(changed).length > 0) p.storage = changed;
        before.json.storage = prevSlots;
        if (Object.keys(prevSlots).length === 0) delete before.json.storage;
      }
      if (!modified) continue;
      post[addr] = p;
      if (before.exists) out[addr] = before.json;
    }
    return this.config.diffMode ? { post, pre: out } : out;
  }

  private account(
    pre: StateReader,
    addr: string,
    slots: Set<string> | undefined,
  ): { exists: boolean; json: AccountOut } {
    const rec = pre.account(addr);
    const code = pre.code(addr);
    const json: AccountOut = { balance: qty(rec?.balance ?? 0n) };
    const exists =
      rec !== undefined && (rec.nonce > 0n || rec.balance > 0n || (code !== undefined && code.length > 0));
    if (code !== undefined && code.length > 0 && !this.config.disableCode) json.code = bytesToHex(code);
    if (rec !== undefined && !equalsBytes(rec.codeHash, KECCAK256_NULL))
      json.codeHash = bytesToHex(rec.codeHash);
    if (rec !== undefined && rec.nonce > 0n) json.nonce = Number(rec.nonce);
    if (!this.config.disableStorage && slots !== undefined && slots.size > 0) {
      const storage: Record<string, string> = {};
      for (const k of [...slots].sort()) storage[k] = slotWord(pre.slot(addr, k));
      json.storage = storage;
    }
    this.budget.charge(120 + (json.code?.length ?? 0) + Object.keys(json.storage ?? {}).length * 140);
    return { exists, json };
  }
}

function slotWord(v: Uint8Array | undefined): string {
  if (v === undefined || v.length === 0) return ZERO_WORD;
  return `0x${Buffer.from(v).toString("hex").padStart(64, "0")}`;
}
