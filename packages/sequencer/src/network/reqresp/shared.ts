import type { ReqHandleOptions } from "@staccato/common";

/** A history protocol's limits: its response cap and its per-peer rate. */
export const historyLimits = (maxResponseBytes: number, perSecond: number): ReqHandleOptions => ({
  maxRequestBytes: 256,
  maxResponseBytes,
  rateLimit: { perPeerPerSecond: perSecond, burst: perSecond * 2 },
  timeoutMs: 30_000,
});

/** The request decoded, or null when it does not decode (the handler answers `invalid`). */
export function decodeOrNull<T>(decode: () => T): T | null {
  try {
    return decode();
  } catch {
    return null;
  }
}
