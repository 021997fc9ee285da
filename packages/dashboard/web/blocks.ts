import { count, h, ms, num, short } from "./format.ts";
import type { HttpRpc, RpcError } from "./rpc.ts";
import type { Attestations, BlockStats, Finality, HeadNote } from "./types.ts";

/** Rows in the blocks table. */
export const BLOCK_ROWS = 12;

interface Row {
  number: number;
  hash: string;
  txs: number | null;
  gasUsed: number;
  stats: BlockStats | null;
  /** When the block was sealed (the sequencer's figure) or first seen here, ms since the epoch. */
  seenAt: number;
  att: Attestations | null;
  el: HTMLTableRowElement;
  dirty: boolean;
}

/**
 * The newest sealed blocks (from `newHeads`) with their seal figures (`staccato_getBlockStats`)
 * and, per block, which provers attested it, their verdicts and when (`staccato_getAttestations`),
 * refreshed until every listed prover has answered.
 */
export class Blocks {
  private readonly rows = new Map<number, Row>();
  private finality: Finality | null = null;
  private readonly tbody: HTMLTableSectionElement;

  constructor(
    table: HTMLTableElement,
    private readonly rpc: HttpRpc,
    onOpen: (n: number) => void,
  ) {
    this.tbody = table.tBodies[0];
    this.tbody.addEventListener("click", (e) => {
      if ((e.target as Element).closest(".att") !== null) return;
      const tr = (e.target as Element).closest("tr");
      if (tr?.dataset.number !== undefined) onOpen(Number(tr.dataset.number));
    });
  }

  /** The newest block number shown. */
  get newest(): number {
    let n = -1;
    for (const k of this.rows.keys()) if (k > n) n = k;
    return n;
  }

  add(head: HeadNote, seenAt = Date.now()): void {
    const n = num(head.number);
    if (this.rows.has(n)) return;
    if (this.rows.size >= BLOCK_ROWS && n < Math.min(...this.rows.keys())) return;
    const el = h("tr", { "data-number": n });
    this.rows.set(n, {
      number: n,
      hash: head.hash,
      txs: Array.isArray(head.transactions) ? head.transactions.length : null,
      gasUsed: num(head.gasUsed),
      stats: null,
      seenAt,
      att: null,
      el,
      dirty: true,
    });
    while (this.rows.size > BLOCK_ROWS) {
      const oldest = Math.min(...this.rows.keys());
      this.rows.get(oldest)!.el.remove();
      this.rows.delete(oldest);
    }
  }

  setFinality(f: Finality): void {
    const changed = this.finality === null || this.finality.finalized !== f.finalized;
    this.finality = f;
    if (changed) for (const r of this.rows.values()) r.dirty = true;
  }

  /** Fetches what rows still miss: seal figures (until published to DA), attestations (until every prover answered). */
  async refresh(): Promise<void> {
    const provers = this.finality?.provers.length ?? 0;
    const want: Row[] = [];
    for (const r of this.rows.values()) {
      const attDone = r.att !== null && (provers === 0 || r.att.attestations.length >= provers);
      // DA publishing trails the seal: a pending block is asked again until it is published.
      if (r.stats === null || r.stats.da === "pending" || !attDone) want.push(r);
    }
    if (want.length === 0) return;
    const calls: [string, unknown[]][] = [];
    for (const r of want) {
      const q = `0x${r.number.toString(16)}`;
      calls.push(["staccato_getBlockStats", [q]], ["staccato_getAttestations", [q]]);
    }
    const answers = await this.rpc.batch<BlockStats | Attestations | null>(calls);
    want.forEach((r, i) => {
      const stats = answers[2 * i] as BlockStats | null | RpcError;
      const att = answers[2 * i + 1] as Attestations | RpcError;
      if (stats !== null && !(stats instanceof Error)) {
        r.stats = stats;
        r.txs = stats.transactions;
        if (stats.sealedAt !== null) r.seenAt = stats.sealedAt;
      }
      if (!(att instanceof Error)) r.att = att;
      r.dirty = true;
    });
  }

  render(): void {
    const order = [...this.rows.keys()].sort((a, b) => b - a);
    let prev: HTMLTableRowElement | null = null;
    for (const n of order) {
      const r = this.rows.get(n)!;
      if (r.dirty) this.fill(r);
      const want: ChildNode | null = prev === null ? this.tbody.firstChild : prev.nextSibling;
      if (want !== r.el) this.tbody.insertBefore(r.el, want);
      prev = r.el;
    }
  }

  private fill(r: Row): void {
    r.dirty = false;
    const f = this.finality;
    const finalized = f !== null && r.number <= num(f.finalized);
    const isHead = f !== null && r.number === num(f.finalized);
    const provers = f?.provers ?? [];
    const atts = r.att?.attestations ?? [];
    const invalid = atts.some((a) => a.verdict === "invalid");
    r.el.className = [finalized ? "final" : "", invalid ? "invalid" : ""].join(" ").trim();
    r.el.dataset.finalized = String(finalized);
    const chips = h("div", { class: "atts" });
    provers.forEach((p, i) => {
      const a = atts.find((x) => x.prover.toLowerCase() === p.toLowerCase());
      const label = `P${i + 1}`;
      if (a === undefined) {
        chips.append(h("span", { class: "att waiting", title: `${p}: no attestation yet` }, `${label} …`));
        return;
      }
      const after =
        a.receivedAt === null
          ? null
          : h("span", { class: "att-t" }, ` +${ms(Math.max(0, a.receivedAt - r.seenAt))}`);
      chips.append(
        h(
          "span",
          {
            class: `att ${a.verdict}`,
            "data-prover": a.prover,
            "data-verdict": a.verdict,
            title: `${a.prover}: ${a.verdict}${a.reason ? ` (${a.reason})` : ""}${
              a.receivedAt === null ? "" : `, received ${new Date(a.receivedAt).toLocaleTimeString()}`
            }${a.canonical === false ? "; about another block at this height" : ""}`,
          },
          `${label} ${a.verdict === "valid" ? "✓" : "✗"}`,
          after,
        ),
      );
    });
    if (provers.length === 0) chips.append(h("span", { class: "muted" }, "no provers: final at seal"));
    const s = r.stats;
    const marker = isHead
      ? h("span", { class: "badge final", title: "newest block attested by the prover quorum" }, "finalized")
      : null;
    r.el.replaceChildren(
      h("td", { class: "num" }, r.number.toLocaleString("en-US"), marker),
      h("td", { class: "mono hide-s", title: r.hash }, short(r.hash, 8, 4)),
      h("td", { class: "r" }, r.txs === null ? "…" : count(r.txs)),
      h("td", { class: "r hide-s" }, count(r.gasUsed)),
      h("td", { class: "r hide-s" }, s === null ? "…" : String(s.miniBlocks)),
      h("td", { class: "r hide-s" }, s === null ? "…" : ms(s.stateRootMs)),
      h(
        "td",
        { class: "hide-s" },
        s === null || s.da === null
          ? "—"
          : h("span", { class: `badge ${s.da === "published" ? "ok" : "pending"}` }, s.da),
      ),
      h("td", null, chips),
    );
  }
}
