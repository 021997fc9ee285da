import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Replaces `path` with `parts` so that a crash leaves either the old file or the whole new one:
 * written to `<path>.tmp`, fsynced, renamed over `path`, then the directory fsynced so the rename
 * itself survives a power loss. Synchronous: for small files written at a checkpoint or a stop.
 */
export function writeFileDurably(path: string, ...parts: (Uint8Array | string)[]): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    for (const p of parts) writeSync(fd, typeof p === "string" ? Buffer.from(p) : p);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
