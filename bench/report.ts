/** Figures go to stdout as JSON lines; everything else goes to stderr. */

export interface Figure {
  name: string;
  value: number | null;
  unit: string;
  /** Present when the figure could not be measured (the value is then null). */
  error?: string;
}

export class Report {
  readonly figures: Figure[] = [];

  emit(name: string, value: number, unit: string): void {
    this.write({ name, value: round(value), unit });
  }

  fail(name: string, unit: string, err: unknown): void {
    this.write({ name, value: null, unit, error: errorMessage(err) });
  }

  get(name: string): number | null {
    return this.figures.find((f) => f.name === name)?.value ?? null;
  }

  get failed(): number {
    return this.figures.filter((f) => f.error !== undefined).length;
  }

  private write(f: Figure): void {
    this.figures.push(f);
    process.stdout.write(`${JSON.stringify(f)}\n`);
  }
}

export function log(msg: string): void {
  const t = new Date().toISOString().slice(11, 23);
  process.stderr.write(`[bench ${t}] ${msg}\n`);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

function round(v: number): number {
  if (!Number.isFinite(v)) return v;
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 1 : abs >= 1 ? 2 : 4;
  return Number(v.toFixed(digits));
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of nothing");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of an unsorted sample. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) throw new Error("percentile of nothing");
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length, Math.max(1, rank)) - 1]!;
}
