import { pino } from "pino";

export type Logger = pino.Logger;
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * One root logger per daemon. JSON lines by default; pretty when stdout is a terminal
 * (set STACCATO_LOG_FORMAT=json to force JSON on a terminal).
 */
export function createLogger(opts: { name: string; level: LogLevel }): Logger {
  const pretty = process.stdout.isTTY === true && process.env.STACCATO_LOG_FORMAT !== "json";
  const ring = new LogRing(LOG_TAIL_LINES);
  const hooks = { streamWrite: (line: string) => ring.push(line) };
  const logger = pretty
    ? pino({
        name: opts.name,
        level: opts.level,
        hooks,
        transport: { target: "pino-pretty", options: { colorize: true, translateTime: "HH:MM:ss.l" } },
      })
    : pino({ name: opts.name, level: opts.level, base: { name: opts.name }, hooks });
  (logger as Logger & { [RING]?: LogRing })[RING] = ring;
  return logger;
}

/** Lines a daemon's logger keeps for `staccato_nodeInfo`'s log tail. */
export const LOG_TAIL_LINES = 200;
/** A longer line is cut to this many characters in the tail (the log itself keeps it whole). */
const LOG_TAIL_LINE_CHARS = 2_000;
const RING = Symbol("staccato.logRing");

/** The newest log lines (JSON text, as written), in a fixed-size ring. */
export class LogRing {
  private readonly lines: string[] = [];
  private next = 0;

  constructor(readonly capacity: number) {}

  /** Records a line and hands it back unchanged (pino's `streamWrite` hook). */
  push(line: string): string {
    const kept = line.length > LOG_TAIL_LINE_CHARS ? line.slice(0, LOG_TAIL_LINE_CHARS) : line.trimEnd();
    if (this.lines.length < this.capacity) this.lines.push(kept);
    else this.lines[this.next] = kept;
    this.next = (this.next + 1) % this.capacity;
    return line;
  }

  /** The newest `n` lines, oldest first. */
  tail(n: number): string[] {
    const all =
      this.lines.length < this.capacity
        ? this.lines
        : [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)];
    return n >= all.length ? all.slice() : all.slice(all.length - n);
  }
}

/**
 * The newest `n` lines a logger made by `createLogger` wrote (child loggers share their root's
 * ring: pino builds children on their parent's prototype). Empty for any other logger.
 */
export function logTail(logger: Logger, n: number): string[] {
  return (logger as Logger & { [RING]?: LogRing })[RING]?.tail(n) ?? [];
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
