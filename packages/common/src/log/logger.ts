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
  if (pretty) {
    return pino({
      name: opts.name,
      level: opts.level,
      transport: { target: "pino-pretty", options: { colorize: true, translateTime: "HH:MM:ss.l" } },
    });
  }
  return pino({ name: opts.name, level: opts.level, base: { name: opts.name } });
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
