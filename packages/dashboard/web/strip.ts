import { big, clockUs, count, h, num } from "./format.ts";
import type { MiniBlockNote } from "./types.ts";

/** Cells kept in the strip: the DOM stays the same size whatever the load. */
export const STRIP_CELLS = 48;
/** At most one landing flash per this many ms. */
const LANDING_EVERY_MS = 400;

/**
 * The newest mini-blocks, newest first. Arrivals are queued as they come and drawn once per
 * animation frame: at 100 mini-blocks a second only the newest STRIP_CELLS of a frame are drawn.
 */
export class Strip {
  private queue: MiniBlockNote[] = [];
  private readonly notes = new WeakMap<Element, MiniBlockNote>();
  private readonly empty: HTMLElement | null;
  /** When a cell last got the landing animation (performance.now()). */
  private lastLanding = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly el: HTMLElement,
    onOpen: (mb: MiniBlockNote) => void,
  ) {
    this.empty = el.querySelector(".empty");
    el.addEventListener("click", (e) => {
      const cell = (e.target as Element).closest(".mb");
      const note = cell === null ? undefined : this.notes.get(cell);
      if (note !== undefined) onOpen(note);
    });
  }

  push(mb: MiniBlockNote): void {
    this.queue.push(mb);
    if (this.queue.length > STRIP_CELLS * 2) this.queue = this.queue.slice(-STRIP_CELLS);
  }

  /** Draws what arrived since the last frame; returns whether anything changed. */
  render(): boolean {
    if (this.queue.length === 0) return false;
    const fresh = this.queue.slice(-STRIP_CELLS);
    this.queue = [];
    this.empty?.remove();
    const frag = document.createDocumentFragment();
    // The landing flash repaints its cell on every frame for 0.6 s: under load, when every cell
    // would be flashing at once, only one cell in a while gets it.
    const now = performance.now();
    const land = now - this.lastLanding >= LANDING_EVERY_MS;
    if (land) this.lastLanding = now;
    for (let i = fresh.length - 1; i >= 0; i--)
      frag.append(this.cell(fresh[i]!, land && i === fresh.length - 1));
    this.el.prepend(frag);
    while (this.el.childElementCount > STRIP_CELLS) this.el.lastElementChild!.remove();
    return true;
  }

  private cell(mb: MiniBlockNote, land: boolean): HTMLElement {
    const block = num(mb.blockNumber);
    const txs = mb.transactions.length;
    const el = h(
      "button",
      {
        type: "button",
        class: `mb ${block % 2 === 0 ? "even" : "odd"}${land ? " fresh" : ""}`,
        "data-number": num(mb.number),
        "data-block": block,
        title: `mini-block ${num(mb.number)}: block ${block}, index ${num(mb.index)}, ${txs} transactions`,
      },
      h("span", { class: "mb-n" }, `#${num(mb.number).toLocaleString("en-US")}`),
      h("span", { class: "mb-b" }, `blk ${block.toLocaleString("en-US")} · ${num(mb.index)}`),
      h("span", { class: "mb-t" }, `${count(txs)} tx`),
      h("span", { class: "mb-ts" }, clockUs(big(mb.timestampUs)).slice(3)),
    );
    this.notes.set(el, mb);
    return el;
  }
}
