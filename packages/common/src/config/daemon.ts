import { ErrorCode, StaccatoError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { type CliMeta, type CliOptions, type CliSpec, runCli } from "./cli.ts";

/**
 * A daemon cannot start: a bad flag combination, a chain config or key it cannot use, a data dir
 * it cannot read. Thrown from a daemon's `start()`; `runDaemon` prints its message as one line
 * (`<program>: <message>`) and exits 1.
 */
export class StartupError extends StaccatoError {
  constructor(message: string) {
    super(ErrorCode.Startup, message, undefined);
  }
}

/** Undoes one thing a daemon opened (a store, a server, a worker pool). */
export type Closer = () => Promise<void> | void;

/**
 * Runs a daemon's start, which pushes a closer for each thing it opens; if the start fails, what
 * it opened is closed again, newest first, and the error is rethrown.
 */
export async function startOrUndo<T>(wire: (closers: Closer[]) => Promise<T>): Promise<T> {
  const closers: Closer[] = [];
  try {
    return await wire(closers);
  } catch (err) {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
    throw err;
  }
}

/** Closes what a daemon opened, newest first (and empties the list); a failing closer is logged. */
export async function closeAll(closers: Closer[], log: Logger): Promise<void> {
  for (const c of closers.reverse()) {
    try {
      await c();
    } catch (err) {
      log.warn({ err }, "error while shutting down");
    }
  }
  closers.length = 0;
}

/** What a daemon entry point starts and later stops. */
export interface Daemon {
  logger: Logger;
  close(): Promise<void>;
}

/**
 * A daemon's `main`: parse flags (exit 2 with one line on a bad value, `--help` lists them),
 * start, then stop cleanly on SIGINT/SIGTERM (exit 0), or exit 1 if stopping fails.
 */
export async function runDaemon<T extends CliSpec>(
  spec: T,
  meta: CliMeta,
  start: (options: CliOptions<T>) => Promise<Daemon>,
): Promise<void> {
  await runCli(spec, meta, async (o) => {
    const daemon = await start(o);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      daemon.logger.info({ signal }, "shutting down");
      daemon.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
    await new Promise<never>(() => {});
  });
}
