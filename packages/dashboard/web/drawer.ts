import { byId, h, setText } from "./format.ts";

/**
 * The side panel (a full-screen sheet on phones) that shows one thing in detail: a mini-block's
 * transactions, a transaction and its receipt, a block, an address. Escape or × closes it.
 */
export class Drawer {
  private readonly el = byId("drawer");
  private readonly title = byId("drawer-title");
  private readonly body = byId("drawer-body");
  /** Bumped on every open: an answer that arrives for an older view is dropped. */
  private generation = 0;

  constructor() {
    byId("drawer-close").addEventListener("click", () => this.close());
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.close();
    });
  }

  /** Opens with a title and a "loading" body; returns a setter that fills it if still current. */
  open(title: string): (content: Node | Node[]) => void {
    const gen = ++this.generation;
    setText(this.title, title);
    this.body.replaceChildren(h("div", { class: "muted" }, "loading…"));
    this.el.hidden = false;
    this.el.scrollTop = 0;
    return (content) => {
      if (gen !== this.generation) return;
      this.body.replaceChildren(...(Array.isArray(content) ? content : [content]));
    };
  }

  close(): void {
    this.generation++;
    this.el.hidden = true;
  }
}

/** A two-column list of labels and values. */
export function facts(rows: [string, Node | string | number | null | undefined][]): HTMLElement {
  const dl = h("dl", { class: "facts" });
  for (const [k, v] of rows) {
    if (v === undefined) continue;
    dl.append(h("dt", null, k), h("dd", null, v === null ? "—" : typeof v === "number" ? String(v) : v));
  }
  return dl;
}

export function mono(text: string, cls = "mono"): HTMLElement {
  return h("span", { class: cls }, text);
}

/** A link-like button that runs `go` (e.g. opens another view in the drawer). */
export function linkButton(text: string, go: () => void, title?: string): HTMLElement {
  return h("button", { type: "button", class: "link mono", title, onclick: () => go() }, text);
}
