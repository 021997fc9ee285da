import { RLP } from "@ethereumjs/rlp";
import { DecodeError, type RlpItem, big, list, u } from "./rlpUtil.ts";

/** `mini-blocks-by-range` request: RLP [from, count]. Responses are signed mini-block encodings. */
export function encodeRangeRequest(from: bigint, count: number): Uint8Array {
  return RLP.encode([u(from), u(BigInt(count))]);
}

export function decodeRangeRequest(body: Uint8Array): { from: bigint; count: number } {
  const [from, count] = list(RLP.decode(body) as RlpItem, "range request", 2);
  const c = big(count, "count");
  if (c < 1n || c > 1_000_000n) throw new DecodeError("range request: count out of bounds");
  return { from: big(from, "from"), count: Number(c) };
}

/** `block-by-number` and `witness-by-number` request: RLP [number]. */
export function encodeNumberRequest(n: bigint): Uint8Array {
  return RLP.encode([u(n)]);
}

export function decodeNumberRequest(body: Uint8Array): bigint {
  const [n] = list(RLP.decode(body) as RlpItem, "number request", 1);
  return big(n, "number");
}
