import { bigIntToUnpaddedBytes, bytesToBigInt, intToUnpaddedBytes } from "@ethereumjs/util";

export type RlpItem = Uint8Array | RlpItem[];

export class DecodeError extends Error {}

export const u = (v: bigint): Uint8Array => bigIntToUnpaddedBytes(v);
export const un = (v: number): Uint8Array => intToUnpaddedBytes(v);

export function bytes(x: RlpItem | undefined, what: string, len?: number): Uint8Array {
  if (!(x instanceof Uint8Array)) throw new DecodeError(`${what}: expected bytes`);
  if (len !== undefined && x.length !== len)
    throw new DecodeError(`${what}: expected ${len} bytes, got ${x.length}`);
  return x;
}

export function list(x: RlpItem | undefined, what: string, len?: number): RlpItem[] {
  if (!Array.isArray(x)) throw new DecodeError(`${what}: expected a list`);
  if (len !== undefined && x.length !== len)
    throw new DecodeError(`${what}: expected ${len} items, got ${x.length}`);
  return x;
}

export function big(x: RlpItem | undefined, what: string): bigint {
  const b = bytes(x, what);
  if (b.length > 32) throw new DecodeError(`${what}: integer too large`);
  if (b.length > 0 && b[0] === 0) throw new DecodeError(`${what}: integer has leading zeros`);
  return bytesToBigInt(b);
}

export function int(x: RlpItem | undefined, what: string): number {
  const v = big(x, what);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError(`${what}: integer too large`);
  return Number(v);
}
