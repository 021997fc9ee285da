import { existsSync, readFileSync, rmSync } from "node:fs";
import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  DecodeError,
  type Logger,
  bytes,
  int,
  keccak256,
  list,
  rlpDecode,
  rlpEncode,
  writeFileDurably,
  ErrorCode,
  StaccatoError,
} from "@staccato/common";
import { TxRejectedError } from "./txErrors.ts";
import type { TxPool } from "./txPool.ts";

/**
 * The pool journal: the raw transactions still in the pool at a graceful stop (future nonces
 * waiting for a gap, or ready ones the drain time did not reach), re-admitted at the next start,
 * so a transaction whose hash was returned is not lost by a restart (geth keeps a journal of its
 * local transactions for the same reason).
 *
 * File: RLP([version, [raw, ...]]) followed by the keccak-256 of that RLP, written to a temp file,
 * fsynced and renamed; a file that does not match its checksum is refused whole.
 */
const VERSION = 1;

export class PoolJournalError extends StaccatoError {
  constructor(message: string) {
    super(ErrorCode.PoolJournal, message, undefined);
  }
}

/** Writes `raws` (arrival order) to `path`, replacing any journal there. */
export function writePoolJournal(path: string, raws: readonly Uint8Array[]): void {
  const body = rlpEncode([Uint8Array.of(VERSION), [...raws]]);
  writeFileDurably(path, body, keccak256(body));
}

/** The journal's transactions in arrival order, or null when there is none. Throws `PoolJournalError`. */
export function readPoolJournal(path: string): Uint8Array[] | null {
  if (!existsSync(path)) return null;
  const data = new Uint8Array(readFileSync(path));
  if (data.length < 33) throw new PoolJournalError(`${path} is truncated (${data.length} bytes)`);
  const body = data.subarray(0, data.length - 32);
  const sum = data.subarray(data.length - 32);
  if (!equalsBytes(keccak256(body), sum))
    throw new PoolJournalError(`${path} does not match its checksum ${bytesToHex(sum)}: torn or corrupt`);
  try {
    const [version, txs] = list(rlpDecode(body), "pool journal", 2);
    const v = int(version, "version");
    if (v !== VERSION) throw new PoolJournalError(`${path}: unknown version ${v}`);
    return list(txs, "transactions").map((t, i) => bytes(t, `transaction ${i}`));
  } catch (err) {
    if (err instanceof DecodeError) throw new PoolJournalError(`${path}: ${err.message}`);
    throw err;
  }
}

/** Removes the journal once its transactions are back in the pool. */
export function removePoolJournal(path: string): void {
  rmSync(path, { force: true });
}

/**
 * Start: re-admits the journal's transactions through the pool's validation (one that the chain
 * has since included, or that no longer passes, is left out and counted), then removes the
 * journal. A journal that cannot be read is reported and removed; the node starts either way.
 */
export function restorePoolJournal(path: string, pool: TxPool, log: Logger): void {
  let raws: Uint8Array[] | null;
  try {
    raws = readPoolJournal(path);
  } catch (err) {
    log.warn(
      { path, err: (err as Error).message },
      "could not read the pool journal: its transactions are lost",
    );
    removePoolJournal(path);
    return;
  }
  if (raws === null) return;
  const rejected: Record<string, number> = {};
  let restored = 0;
  for (const raw of raws) {
    try {
      pool.add(raw);
      restored++;
    } catch (err) {
      const reason = err instanceof TxRejectedError ? err.reason : "invalid";
      rejected[reason] = (rejected[reason] ?? 0) + 1;
    }
  }
  removePoolJournal(path);
  log.info({ path, restored, rejected }, "restored the pool journal");
}

/**
 * Graceful stop, after the drain: keeps what is still in the pool in the journal (`keep`), or
 * says how many transactions are dropped.
 */
export function savePoolJournal(path: string, pool: TxPool, log: Logger, keep: boolean): void {
  const left = pool.pooled();
  if (left.length === 0) return;
  if (!keep) {
    log.warn(
      { dropped: left.length },
      "stopping: dropped the pool's unsealed transactions (--no-txpool-journal)",
    );
    return;
  }
  try {
    writePoolJournal(
      path,
      left.map((p) => p.raw),
    );
  } catch (err) {
    log.error({ err, dropped: left.length, path }, "stopping: could not write the pool journal");
    return;
  }
  log.info({ txs: left.length, path }, "stopping: kept the pool's unsealed transactions in the pool journal");
}
