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
