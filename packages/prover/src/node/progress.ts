import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Which blocks this prover attested, kept in `<data-dir>/progress.json` so a restart picks up
 * exactly the blocks it has not attested: every block up to `through`, and the ones above it in
 * `above` (verification runs out of order). Saved at most every `flushMs`, and on close.
 */
export class Progress {
  private through = 0n;
  private readonly above = new Set<bigint>();
  private timer: NodeJS.Timeout | null = null;
  private readonly path: string;

  constructor(
    dataDir: string,
    private readonly flushMs = 250,
  ) {
    this.path = join(dataDir, "progress.json");
    if (existsSync(this.path)) {
      const j = JSON.parse(readFileSync(this.path, "utf8")) as { through: string; above: string[] };
      this.through = BigInt(j.through);
      for (const n of j.above) this.above.add(BigInt(n));
    }
  }

  /** Every block up to this one is attested. */
  get attestedThrough(): bigint {
    return this.through;
  }

  /** Blocks attested above `attestedThrough` (out of order, or past a block not attested yet). */
  get pending(): number {
    return this.above.size;
  }

  has(n: bigint): boolean {
    return n <= this.through || this.above.has(n);
  }

  add(n: bigint): void {
    if (this.has(n)) return;
    this.above.add(n);
    while (this.above.delete(this.through + 1n)) this.through++;
    if (this.timer === null) this.timer = setTimeout(() => this.flush(), this.flushMs);
  }

  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const tmp = `${this.path}.tmp`;
    writeFileSync(
      tmp,
      JSON.stringify({ through: this.through.toString(), above: [...this.above].map(String) }),
    );
    renameSync(tmp, this.path);
  }
}
