/**
 * Mini-blocks, transactions and gas per time bucket, over a fixed window, in a ring: memory is
 * fixed whatever the load. Rates are per second.
 */
export type Metric = "miniBlocks" | "txs" | "gas";
export const METRICS: Metric[] = ["miniBlocks", "txs", "gas"];

export class RateWindow {
  private readonly keys: Float64Array;
  private readonly sums: Record<Metric, Float64Array>;

  constructor(
    readonly bucketMs: number,
    readonly buckets: number,
  ) {
    this.keys = new Float64Array(buckets).fill(-1);
    this.sums = {
      miniBlocks: new Float64Array(buckets),
      txs: new Float64Array(buckets),
      gas: new Float64Array(buckets),
    };
  }

  get windowMs(): number {
    return this.bucketMs * this.buckets;
  }

  add(atMs: number, miniBlocks: number, txs: number, gas: number): void {
    const key = Math.floor(atMs / this.bucketMs);
    const i = key % this.buckets;
    if (this.keys[i] !== key) {
      if (this.keys[i] > key) return; // older than the window
      this.keys[i] = key;
      this.sums.miniBlocks[i] = 0;
      this.sums.txs[i] = 0;
      this.sums.gas[i] = 0;
    }
    this.sums.miniBlocks[i] += miniBlocks;
    this.sums.txs[i] += txs;
    this.sums.gas[i] += gas;
  }

  /**
   * The window ending with the bucket before the one `nowMs` is in (that one is still filling):
   * x in seconds relative to now, and each metric's rate per second.
   */
  series(nowMs: number): { x: number[]; rates: Record<Metric, number[]> } {
    const last = Math.floor(nowMs / this.bucketMs) - 1;
    const perSecond = 1000 / this.bucketMs;
    const x: number[] = [];
    const rates: Record<Metric, number[]> = { miniBlocks: [], txs: [], gas: [] };
    for (let key = last - this.buckets + 1; key <= last; key++) {
      const i = ((key % this.buckets) + this.buckets) % this.buckets;
      const live = this.keys[i] === key;
      x.push(((key + 1) * this.bucketMs - nowMs) / 1000);
      for (const m of METRICS) rates[m].push(live ? this.sums[m][i] * perSecond : 0);
    }
    return { x, rates };
  }

  /** Mean rate per second over the whole window. */
  average(nowMs: number, metric: Metric): number {
    const { rates } = this.series(nowMs);
    const r = rates[metric];
    let sum = 0;
    for (const v of r) sum += v;
    return r.length === 0 ? 0 : sum / r.length;
  }
}
