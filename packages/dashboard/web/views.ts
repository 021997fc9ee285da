import { type Drawer, facts, linkButton, mono } from "./drawer.ts";
import { big, clockUs, count, eth, h, num, short } from "./format.ts";
import type { HttpRpc } from "./rpc.ts";
import type { MiniBlockNote } from "./types.ts";

interface Tx {
  hash: string;
  from: string;
  to: string | null;
  value: string;
  nonce: string;
  gas: string;
  type: string;
  input: string;
  blockNumber: string | null;
  transactionIndex: string | null;
  maxFeePerGas?: string;
  gasPrice?: string;
}

interface Receipt {
  transactionHash: string;
  from: string;
  to: string | null;
  status: string;
  gasUsed: string;
  cumulativeGasUsed: string;
  effectiveGasPrice: string;
  blockNumber: string;
  blockHash: string;
  transactionIndex: string;
  contractAddress: string | null;
  logs: unknown[];
}

interface Block {
  number: string;
  hash: string;
  parentHash: string;
  timestamp: string;
  gasUsed: string;
  gasLimit: string;
  baseFeePerGas: string;
  stateRoot: string;
  transactions: (string | Tx)[];
}

/** Most transactions of a mini-block whose receipts are fetched when it is opened. */
const MAX_RECEIPTS = 100;
/** An address's recent transactions: newest blocks scanned, and most transactions read doing it. */
const SCAN_BLOCKS = 10;
const SCAN_TXS = 5_000;
const ZERO_HASH = `0x${"0".repeat(64)}`;

/** What the drawer can show. Each view reads the node's public JSON-RPC only. */
export class Views {
  constructor(
    private readonly rpc: HttpRpc,
    private readonly drawer: Drawer,
  ) {}

  /** The search box: a transaction or block hash, a block number, or an address. */
  search(q: string): void {
    const s = q.trim();
    if (/^0x[0-9a-fA-F]{64}$/.test(s)) void this.hash(s.toLowerCase());
    else if (/^0x[0-9a-fA-F]{40}$/.test(s)) void this.address(s.toLowerCase());
    else if (/^\d+$/.test(s.replaceAll(",", ""))) void this.block(BigInt(s.replaceAll(",", "")));
    else if (/^0x[0-9a-fA-F]{1,16}$/.test(s)) void this.block(BigInt(s));
    else {
      const fill = this.drawer.open("Search");
      fill(
        h(
          "p",
          { class: "muted" },
          "Enter a transaction hash (0x + 64 hex), a block number or hash, or an address (0x + 40 hex).",
        ),
      );
    }
  }

  async miniBlock(mb: MiniBlockNote): Promise<void> {
    const fill = this.drawer.open(`Mini-block ${num(mb.number).toLocaleString("en-US")}`);
    const hashes = mb.transactions.slice(0, MAX_RECEIPTS);
    try {
      const receipts = await this.rpc.batch<Receipt | null>(
        hashes.map((x) => ["eth_getTransactionReceipt", [x]] as [string, unknown[]]),
      );
      const rows = hashes.map((hash, i) => {
        const r = receipts[i];
        const ok = r !== null && !(r instanceof Error);
        return h(
          "tr",
          null,
          h(
            "td",
            null,
            linkButton(short(hash, 10, 6), () => void this.hash(hash), hash),
          ),
          h("td", { class: "mono hide-s" }, ok ? short(r.from) : "—"),
          h("td", { class: "mono hide-s" }, ok ? short(r.to ?? r.contractAddress) : "—"),
          h("td", { class: "r" }, ok ? count(num(r.gasUsed)) : "—"),
          h("td", null, ok ? statusBadge(r.status) : h("span", { class: "muted" }, "no receipt")),
        );
      });
      fill(
        [
          facts([
            ["Hash", mono(mb.hash)],
            ["Block", linkButton(String(num(mb.blockNumber)), () => void this.block(big(mb.blockNumber)))],
            ["Index in block", num(mb.index)],
            ["Sealed at", `${clockUs(big(mb.timestampUs))} (µs)`],
            ["Transactions", mb.transactions.length],
            ["Gas used", mb.gasUsed === undefined ? undefined : count(num(mb.gasUsed))],
          ]),
          h("h3", null, "Transactions and receipts"),
          mb.transactions.length > MAX_RECEIPTS
            ? h("p", { class: "muted" }, `The first ${MAX_RECEIPTS} of ${mb.transactions.length}.`)
            : null,
          h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "list" },
              h(
                "thead",
                null,
                h(
                  "tr",
                  null,
                  h("th", null, "Transaction"),
                  h("th", { class: "hide-s" }, "From"),
                  h("th", { class: "hide-s" }, "To"),
                  h("th", { class: "r" }, "Gas"),
                  h("th", null, "Status"),
                ),
              ),
              h("tbody", null, ...rows),
            ),
          ),
        ].filter((n): n is HTMLElement => n !== null),
      );
    } catch (err) {
      fill(errorBox(err));
    }
  }

  /** A 32-byte hash: a transaction, else a block. */
  async hash(hash: string): Promise<void> {
    const fill = this.drawer.open(`Transaction ${short(hash, 10, 6)}`);
    try {
      const [tx, receipt] = await this.rpc.batch<Tx | Receipt | null>([
        ["eth_getTransactionByHash", [hash]],
        ["eth_getTransactionReceipt", [hash]],
      ]);
      if (tx instanceof Error) throw tx;
      if (tx === null) {
        const block = await this.rpc.call<Block | null>("eth_getBlockByHash", [hash, false]);
        if (block !== null) return void this.showBlock(block);
        return fill(h("p", { class: "muted" }, `No transaction or block ${hash} on this node.`));
      }
      const t = tx as Tx;
      const r = receipt instanceof Error ? null : (receipt as Receipt | null);
      fill([
        facts([
          ["Hash", mono(t.hash)],
          ["Status", r === null ? h("span", { class: "badge pending" }, "pending") : statusBadge(r.status)],
          [
            "Block",
            t.blockNumber === null
              ? null
              : linkButton(String(num(t.blockNumber)), () => void this.block(big(t.blockNumber!))),
          ],
          ["Index", t.transactionIndex === null ? null : num(t.transactionIndex)],
          [
            "Block hash",
            r === null
              ? undefined
              : r.blockHash === ZERO_HASH
                ? "preconfirmed (block not sealed yet)"
                : mono(r.blockHash),
          ],
          ["From", linkButton(t.from, () => void this.address(t.from))],
          ["To", t.to === null ? "contract creation" : linkButton(t.to, () => void this.address(t.to!))],
          ["Contract created", r?.contractAddress ? mono(r.contractAddress) : undefined],
          ["Value", eth(big(t.value))],
          ["Nonce", num(t.nonce)],
          ["Type", num(t.type)],
          ["Gas limit", count(num(t.gas))],
          ["Gas used", r === null ? undefined : count(num(r.gasUsed))],
          [
            "Effective gas price",
            r === null ? undefined : `${(num(r.effectiveGasPrice) / 1e9).toFixed(4)} gwei`,
          ],
          ["Logs", r === null ? undefined : r.logs.length],
          ["Input", t.input === "0x" ? "none" : `${(t.input.length - 2) / 2} bytes`],
        ]),
      ]);
    } catch (err) {
      fill(errorBox(err));
    }
  }

  async block(n: bigint): Promise<void> {
    const fill = this.drawer.open(`Block ${n.toLocaleString("en-US")}`);
    try {
      const block = await this.rpc.call<Block | null>("eth_getBlockByNumber", [`0x${n.toString(16)}`, false]);
      if (block === null)
        return fill(h("p", { class: "muted" }, `Block ${n} is not sealed yet on this node.`));
      this.showBlock(block);
    } catch (err) {
      fill(errorBox(err));
    }
  }

  private showBlock(b: Block): void {
    const fill = this.drawer.open(`Block ${num(b.number).toLocaleString("en-US")}`);
    const hashes = b.transactions.map((t) => (typeof t === "string" ? t : t.hash));
    fill([
      facts([
        ["Hash", mono(b.hash)],
        ["Parent", mono(b.parentHash)],
        ["Time", new Date(num(b.timestamp) * 1000).toLocaleString()],
        ["Transactions", hashes.length],
        ["Gas used", `${count(num(b.gasUsed))} of ${count(num(b.gasLimit))}`],
        ["Base fee", `${(num(b.baseFeePerGas) / 1e9).toFixed(4)} gwei`],
        ["State root", mono(b.stateRoot)],
      ]),
      h("h3", null, "Transactions"),
      hashes.length === 0
        ? h("p", { class: "muted" }, "none")
        : h(
            "ul",
            { class: "hashes" },
            ...hashes.slice(0, MAX_RECEIPTS).map((x) =>
              h(
                "li",
                null,
                linkButton(x, () => void this.hash(x)),
              ),
            ),
            hashes.length > MAX_RECEIPTS
              ? h("li", { class: "muted" }, `and ${hashes.length - MAX_RECEIPTS} more`)
              : null,
          ),
    ]);
  }

  async address(address: string): Promise<void> {
    const fill = this.drawer.open(`Address ${short(address, 8, 6)}`);
    try {
      const [balance, nonce, code, latest] = await this.rpc.batch<string>([
        ["eth_getBalance", [address, "pending"]],
        ["eth_getTransactionCount", [address, "pending"]],
        ["eth_getCode", [address, "pending"]],
        ["eth_blockNumber", []],
      ]);
      for (const v of [balance, nonce, code, latest]) if (v instanceof Error) throw v;
      // No address index in the public RPC: read the newest blocks with their transactions.
      const recent: Tx[] = [];
      let scanned = 0;
      let from = big(latest as string);
      const to = from;
      for (let i = 0; i < SCAN_BLOCKS && from >= 0n && scanned < SCAN_TXS; i++, from--) {
        const b = await this.rpc.call<Block | null>("eth_getBlockByNumber", [`0x${from.toString(16)}`, true]);
        if (b === null) break;
        for (const t of b.transactions as Tx[]) {
          scanned++;
          if (t.from.toLowerCase() === address || t.to?.toLowerCase() === address) recent.push(t);
        }
      }
      const codeBytes = ((code as string).length - 2) / 2;
      fill([
        facts([
          ["Address", mono(address)],
          ["Balance", eth(big(balance as string))],
          ["Nonce", num(nonce as string)],
          ["Code", codeBytes === 0 ? "none (an account)" : `${codeBytes.toLocaleString("en-US")} bytes`],
        ]),
        h("h3", null, "Recent transactions"),
        h(
          "p",
          { class: "muted" },
          `In blocks ${(from + 1n).toString()}–${to.toString()} (${scanned.toLocaleString("en-US")} transactions read): ${recent.length} found.`,
        ),
        h(
          "ul",
          { class: "hashes" },
          ...recent.slice(0, MAX_RECEIPTS).map((t) =>
            h(
              "li",
              null,
              linkButton(short(t.hash, 10, 6), () => void this.hash(t.hash), t.hash),
              h(
                "span",
                { class: "muted" },
                ` block ${num(t.blockNumber)} · ${t.from.toLowerCase() === address ? "out" : "in"} · ${eth(big(t.value))}`,
              ),
            ),
          ),
        ),
      ]);
    } catch (err) {
      fill(errorBox(err));
    }
  }
}

function statusBadge(status: string): HTMLElement {
  return num(status) === 1
    ? h("span", { class: "badge ok" }, "success")
    : h("span", { class: "badge bad" }, "reverted");
}

function errorBox(err: unknown): HTMLElement {
  return h("p", { class: "error" }, err instanceof Error ? err.message : String(err));
}
