/**
 * Byte strings back to back in one buffer, for handing to a worker thread as one transfer rather
 * than a clone per array: value i is `bytes[ends[i - 1] ?? 0, ends[i])`.
 */
export interface PackedBytes {
  bytes: Uint8Array<ArrayBuffer>;
  ends: Uint32Array<ArrayBuffer>;
}

export function packBytes(values: readonly Uint8Array[]): PackedBytes {
  const ends = new Uint32Array(values.length);
  let size = 0;
  for (let i = 0; i < values.length; i++) ends[i] = size += values[i]!.length;
  const bytes = new Uint8Array(size);
  for (let i = 0, at = 0; i < values.length; at = ends[i++]!) bytes.set(values[i]!, at);
  return { bytes, ends };
}

/** The values of `packBytes`, as views of its buffer. */
export function unpackBytes(p: PackedBytes): Uint8Array[] {
  const out: Uint8Array[] = new Array(p.ends.length);
  for (let i = 0, start = 0; i < p.ends.length; start = p.ends[i++]!)
    out[i] = p.bytes.subarray(start, p.ends[i]);
  return out;
}

/** The buffers to transfer with a message that carries `p`. */
export function packedTransfer(p: PackedBytes): ArrayBuffer[] {
  return [p.bytes.buffer, p.ends.buffer];
}
