import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { axisCount } from "./format.ts";

/** A small live area chart (uPlot) that follows its container's width. */
export class LiveChart {
  private readonly plot: uPlot;

  constructor(
    container: HTMLElement,
    opts: { color: string; label: string; windowS: number; height?: number; ticksS: number[] },
  ) {
    const axisColor = "#7d8aa3";
    const grid = { stroke: "rgba(125,138,163,0.12)", width: 1 };
    const fmtX = (v: number) => {
      if (Math.abs(v) < 1e-9) return "now";
      const s = Math.round(-v);
      return s >= 60 ? `-${Math.round(s / 60)}m` : `-${s}s`;
    };
    this.plot = new uPlot(
      {
        width: Math.max(120, container.clientWidth),
        height: opts.height ?? 96,
        legend: { show: false },
        cursor: { show: true, points: { show: false }, drag: { x: false, y: false } },
        padding: [6, 14, 0, 0],
        scales: {
          x: { time: false, range: [-opts.windowS, 0] },
          y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] },
        },
        axes: [
          {
            stroke: axisColor,
            grid,
            ticks: { show: false },
            size: 22,
            font: "11px system-ui, sans-serif",
            incrs: opts.ticksS,
            space: 26,
            values: (_u, vals) => vals.map(fmtX),
          },
          {
            stroke: axisColor,
            grid,
            ticks: { show: false },
            size: 42,
            font: "11px system-ui, sans-serif",
            values: (_u, vals) => vals.map((v) => axisCount(v)),
          },
        ],
        series: [
          {},
          {
            label: opts.label,
            stroke: opts.color,
            width: 1.5,
            fill: `${opts.color}33`,
            points: { show: false },
            paths: uPlot.paths.stepped?.({ align: 1 }),
          },
        ],
      },
      [[], []],
      container,
    );
    new ResizeObserver(() => {
      const w = container.clientWidth;
      if (w > 0 && w !== this.plot.width) this.plot.setSize({ width: w, height: this.plot.height });
    }).observe(container);
  }

  update(x: number[], y: number[]): void {
    this.plot.setData([x, y]);
  }
}
