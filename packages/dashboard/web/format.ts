/** Small formatting and DOM helpers. Everything shown goes through textContent: no HTML injection. */

export const num = (q: string | number | null | undefined): number =>
  q === null || q === undefined ? 0 : typeof q === "number" ? q : Number(BigInt(q));

export const big = (q: string | null | undefined): bigint => (q === null || q === undefined ? 0n : BigInt(q));

export function short(hex: string | null | undefined, head = 6, tail = 4): string {
  if (hex === null || hex === undefined) return "—";
  return hex.length <= head + tail + 1 ? hex : `${hex.slice(0, head)}…${hex.slice(-tail)}`;
}

/** 1234 → "1,234"; 12345678 → "12.3 M" (compact above a million). */
export function count(n: number): string {
  if (!Number.isFinite(n)) return "—";
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(a >= 1e10 ? 1 : 2)} G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(a >= 1e7 ? 1 : 2)} M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(a >= 1e5 ? 0 : 1)} k`;
  return n >= 100 || Number.isInteger(n) ? Math.round(n).toLocaleString("en-US") : n.toFixed(1);
}

/** Axis labels: short, no trailing zeros ("2.5k", "100M"). */
export function axisCount(n: number): string {
  const a = Math.abs(n);
  const fmt = (v: number, unit: string) => `${Number(v.toFixed(v >= 10 ? 0 : 1))}${unit}`;
  if (a >= 1e9) return fmt(n / 1e9, "G");
  if (a >= 1e6) return fmt(n / 1e6, "M");
  if (a >= 1e3) return fmt(n / 1e3, "k");
  return fmt(n, "");
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(0)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} KiB`;
  return `${n} B`;
}

export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  if (n >= 10_000) return `${(n / 1000).toFixed(0)} s`;
  if (n >= 1000) return `${(n / 1000).toFixed(1)} s`;
  if (n >= 10) return `${n.toFixed(0)} ms`;
  return `${n.toFixed(1)} ms`;
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  const h = Math.floor(seconds / 3600);
  return h < 48 ? `${h}h ${Math.floor((seconds % 3600) / 60)}m` : `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Wall-clock time with milliseconds, and optionally the microseconds after them. */
export function clock(msSinceEpoch: number, micros?: number): string {
  const d = new Date(msSinceEpoch);
  const p = (v: number, w = 2) => String(v).padStart(w, "0");
  const base = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  return micros === undefined ? base : `${base}${p(micros, 3)}`;
}

/** A µs timestamp (hex quantity) as wall-clock time to the microsecond. */
export function clockUs(us: bigint): string {
  return clock(Number(us / 1000n), Number(us % 1000n));
}

export function eth(wei: bigint): string {
  const whole = wei / 10n ** 18n;
  const frac = (wei % 10n ** 18n).toString().padStart(18, "0").slice(0, 4).replace(/0+$/, "");
  return `${whole.toLocaleString("en-US")}${frac === "" ? "" : `.${frac}`} ETH`;
}

type Attrs = Record<string, string | number | boolean | undefined | ((ev: Event) => void)>;

/** `h("td", { class: "x", "data-n": 3 }, "text", child)`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: (Node | string | number | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs !== null) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === false) continue;
      if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
  return el;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} is missing`);
  return el as T;
}

/** Sets text only when it changed (cheap to call every frame). */
export function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
