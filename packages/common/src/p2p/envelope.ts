import { promisify } from "node:util";
import { brotliCompress, brotliCompressSync, brotliDecompressSync, constants as zlib } from "node:zlib";
import { ErrorCode, StaccatoError } from "../errors.ts";

const brotliCompressAsync = promisify(brotliCompress);

/**
 * The gossip wire envelope (DESIGN §3): one version byte, then Brotli of the payload.
 * `decodeEnvelope` caps the decompressed size while inflating, so nothing from the network is
 * decoded (or even fully inflated) before the cap is checked.
 */

export const ENVELOPE_VERSION = 1;

/** Brotli quality 4–5 compresses our payloads nearly as well as 11 in a fraction of the time. */
export const DEFAULT_ENVELOPE_QUALITY = 5;

export const EnvelopeErrorCode = {
  Empty: "empty",
  BadVersion: "bad-version",
  TooLarge: "too-large",
  Corrupt: "corrupt",
} as const;
export type EnvelopeErrorCode = (typeof EnvelopeErrorCode)[keyof typeof EnvelopeErrorCode];

export class EnvelopeError extends StaccatoError<{ reason: EnvelopeErrorCode }> {
  constructor(reason: EnvelopeErrorCode, message: string) {
    super(ErrorCode.Envelope, message, { reason });
  }

  get reason(): EnvelopeErrorCode {
    return this.details.reason;
  }
}

export interface EnvelopeEncodeOptions {
  /** Brotli quality, 0–11. */
  quality?: number;
}

export function encodeEnvelope(payload: Uint8Array, opts: EnvelopeEncodeOptions = {}): Uint8Array {
  return frame(brotliCompressSync(payload, brotliParams(payload, opts)));
}

/** `encodeEnvelope` with the compression on libuv's thread pool, off the calling thread. */
export async function encodeEnvelopeAsync(
  payload: Uint8Array,
  opts: EnvelopeEncodeOptions = {},
): Promise<Uint8Array> {
  return frame(await brotliCompressAsync(payload, brotliParams(payload, opts)));
}

function brotliParams(payload: Uint8Array, opts: EnvelopeEncodeOptions) {
  return {
    params: {
      [zlib.BROTLI_PARAM_QUALITY]: opts.quality ?? DEFAULT_ENVELOPE_QUALITY,
      [zlib.BROTLI_PARAM_SIZE_HINT]: payload.length,
    },
  };
}

function frame(compressed: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + compressed.length);
  out[0] = ENVELOPE_VERSION;
  out.set(compressed, 1);
  return out;
}

/**
 * Inflates an envelope, refusing to produce more than `maxDecompressed` bytes.
 * Throws `EnvelopeError` on an empty input, an unknown version, an oversized payload or bytes that
 * are not valid Brotli (garbage or truncated).
 */
export function decodeEnvelope(data: Uint8Array, maxDecompressed: number): Uint8Array {
  if (!Number.isSafeInteger(maxDecompressed) || maxDecompressed < 1) {
    throw new RangeError(`maxDecompressed must be a positive integer, got ${maxDecompressed}`);
  }
  if (data.length === 0) throw new EnvelopeError(EnvelopeErrorCode.Empty, "empty envelope");
  if (data[0] !== ENVELOPE_VERSION) {
    throw new EnvelopeError(EnvelopeErrorCode.BadVersion, `unknown envelope version ${data[0]}`);
  }
  let out: Buffer;
  try {
    out = brotliDecompressSync(data.subarray(1), { maxOutputLength: maxDecompressed });
  } catch (err) {
    if ((err as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new EnvelopeError(EnvelopeErrorCode.TooLarge, `envelope inflates past ${maxDecompressed} bytes`);
    }
    throw new EnvelopeError(
      EnvelopeErrorCode.Corrupt,
      `envelope is not valid brotli: ${(err as Error).message}`,
    );
  }
  // A plain Uint8Array view: Buffer's `slice` shares memory where Uint8Array's copies.
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
