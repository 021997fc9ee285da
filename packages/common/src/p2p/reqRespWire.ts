import type { Stream } from "@libp2p/interface";
import type { LengthPrefixedStream } from "@libp2p/utils";
import { ErrorCode, StaccatoError } from "../errors.ts";

/**
 * The req/resp wire format (every frame is varint-length-prefixed, as `lpStream` writes them):
 *   request:  [body] then the client closes its write side;
 *   response: [code (1 byte)] [chunk]* [empty frame]
 * `ok` carries the body as one chunk, or many for a streamed response (state snapshots); any other
 * code carries at most one chunk, a short UTF-8 reason. The empty frame ends the response, so a
 * response cut short by a crash or a reset is told apart from a complete one (chunks are never
 * empty). Sizes are capped on both sides; nothing a peer sends can do more than fail its own
 * request.
 */

export const ReqRespCode = {
  ok: "ok",
  unavailable: "unavailable",
  invalid: "invalid",
  rateLimited: "rate-limited",
} as const;
export type ReqRespCode = (typeof ReqRespCode)[keyof typeof ReqRespCode];

const CODE_TO_BYTE: { readonly [K in ReqRespCode]: number } = {
  ok: 0,
  unavailable: 1,
  invalid: 2,
  "rate-limited": 3,
};
const BYTE_TO_CODE: readonly ReqRespCode[] = ["ok", "unavailable", "invalid", "rate-limited"];
export const CODE_FRAMES = Object.fromEntries(
  Object.entries(CODE_TO_BYTE).map(([k, v]) => [k, Uint8Array.of(v)]),
) as { readonly [K in ReqRespCode]: Uint8Array };
export const END = new Uint8Array(0);
/** Reasons sent with a non-ok code are cut to this many bytes. */
export const MAX_REASON_BYTES = 256;

/** Client-side failures: the exchange did not produce a response at all. */
export const ReqRespErrorCode = {
  Timeout: "timeout",
  DialFailed: "dial-failed",
  TooLarge: "too-large",
  Malformed: "malformed",
  Truncated: "truncated",
  StreamError: "stream-error",
} as const;
export type ReqRespErrorCode = (typeof ReqRespErrorCode)[keyof typeof ReqRespErrorCode];

export class ReqRespError extends StaccatoError<{ reason: ReqRespErrorCode; protocol: string }> {
  constructor(reason: ReqRespErrorCode, protocol: string, message: string) {
    super(ErrorCode.ReqResp, `${protocol}: ${message}`, { reason, protocol });
  }

  get reason(): ReqRespErrorCode {
    return this.details.reason;
  }
}

export async function readCode(lp: LengthPrefixedStream<Stream>, protocol: string, signal: AbortSignal) {
  const frame = (await lp.read({ signal })).subarray();
  const code = frame.length === 1 ? BYTE_TO_CODE[frame[0]] : undefined;
  if (code === undefined) throw new ReqRespError("malformed", protocol, "bad result code frame");
  return code;
}

/** The optional reason after a non-ok code, then the end frame. */
export async function readReason(
  lp: LengthPrefixedStream<Stream>,
  protocol: string,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const first = (await lp.read({ signal })).subarray();
  if (first.length === 0) return first;
  const end = (await lp.read({ signal })).subarray();
  if (end.length !== 0)
    throw new ReqRespError("malformed", protocol, "more than one frame after a failure code");
  return first.subarray(0, MAX_REASON_BYTES);
}

export function toClientError(err: unknown, protocol: string, signal: AbortSignal): ReqRespError {
  if (err instanceof ReqRespError) return err;
  const e = err as Error;
  if (signal.aborted) {
    const reason = signal.reason as Error | undefined;
    return new ReqRespError("timeout", protocol, reason?.message ?? "timed out");
  }
  switch (e?.name) {
    case "InvalidDataLengthError":
    case "InvalidDataLengthLengthError": // a length prefix longer than the cap's needs
      return new ReqRespError("too-large", protocol, e.message);
    case "InvalidMessageLengthError":
      return new ReqRespError("malformed", protocol, e.message);
    case "UnexpectedEOFError":
      return new ReqRespError("truncated", protocol, e.message);
    default:
      return new ReqRespError("stream-error", protocol, e?.message ?? String(err));
  }
}

export function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

const encoder = new TextEncoder();
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}
