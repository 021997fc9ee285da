import { z } from "zod";

/**
 * Zod schemas for common Ethereum JSON-RPC params. Each carries a `.describe()` name that
 * `formatParamsError` puts in -32602 messages ("param 0 (address): …"). Compose them into a
 * method's params with `z.tuple([address, blockTagOrHash.optional()])`.
 */

const HEX_RE = /^0x[0-9a-fA-F]*$/;
const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
const HASH32_RE = /^0x[0-9a-fA-F]{64}$/;
// Lenient: leading zeros are accepted (the spec forbids them, some clients send them anyway).
const QUANTITY_RE = /^0x[0-9a-fA-F]{1,64}$/;

const HEX_DATA_MSG = "expected 0x-prefixed even-length hex";
const ADDRESS_MSG = "expected 0x-prefixed 20-byte hex";
const HASH32_MSG = "expected 0x-prefixed 32-byte hex";
const QUANTITY_MSG = "expected 0x-prefixed hex quantity of at most 256 bits";
const BLOCK_TAG_MSG = "expected block tag (earliest|latest|pending|safe|finalized) or 0x-prefixed hex number";
const BLOCK_TAG_OR_HASH_MSG =
  "expected block tag, 0x-prefixed hex number, 32-byte block hash, or {blockNumber} / {blockHash, requireCanonical} object";

export const BLOCK_TAG_NAMES = ["earliest", "latest", "pending", "safe", "finalized"] as const;
export type BlockTagName = (typeof BLOCK_TAG_NAMES)[number];
export type BlockTag = { tag: BlockTagName } | { number: bigint };
export type BlockTagOrHash = BlockTag | { hash: string; requireCanonical: boolean };

function isHexData(s: string): boolean {
  return (s.length & 1) === 0 && HEX_RE.test(s);
}

/** 0x-prefixed even-length hex, any case; stays a string. */
export const hexData = z.string(HEX_DATA_MSG).refine(isHexData, HEX_DATA_MSG).describe("data");

/**
 * 0x-prefixed even-length hex decoded to bytes (e.g. a raw transaction). Checked by decoding:
 * Node's decoder stops at the first pair that is not hex, so the bytes fall short. (A regular
 * expression over a raw swap's ~600 digits cost more than decoding them.)
 */
export const hexBytes = z
  .string(HEX_DATA_MSG)
  .transform((s, ctx): Uint8Array => {
    if ((s.length & 1) === 0 && s.charCodeAt(0) === 48 && s.charCodeAt(1) === 120) {
      const b = Buffer.from(s.slice(2), "hex");
      if (b.byteLength === (s.length - 2) / 2) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    }
    ctx.addIssue({ code: "custom", message: HEX_DATA_MSG });
    return z.NEVER;
  })
  .describe("data");

/** 20-byte address, any case (checksum not enforced); output is lowercase. */
export const address = z
  .string(ADDRESS_MSG)
  .regex(ADDRESS_RE, ADDRESS_MSG)
  .transform((s) => s.toLowerCase())
  .describe("address");

/** 32-byte hash, any case; output is lowercase. */
export const hash32 = z
  .string(HASH32_MSG)
  .regex(HASH32_RE, HASH32_MSG)
  .transform((s) => s.toLowerCase())
  .describe("hash");

/** Hex quantity ("0x0", "0x1a"); leading zeros tolerated. */
export const quantity = z
  .string(QUANTITY_MSG)
  .regex(QUANTITY_RE, QUANTITY_MSG)
  .transform((s) => BigInt(s))
  .describe("quantity");

export const bool = z.boolean("expected boolean").describe("bool");

function parseBlockTag(s: string): BlockTag | undefined {
  if ((BLOCK_TAG_NAMES as readonly string[]).includes(s)) return { tag: s as BlockTagName };
  if (QUANTITY_RE.test(s)) return { number: BigInt(s) };
  return undefined;
}

/** "latest" | "earliest" | "pending" | "safe" | "finalized" | hex number. */
export const blockTag = z
  .string(BLOCK_TAG_MSG)
  .transform((s, ctx): BlockTag => {
    const tag = parseBlockTag(s);
    if (tag !== undefined) return tag;
    ctx.addIssue({ code: "custom", message: BLOCK_TAG_MSG });
    return z.NEVER;
  })
  .describe("blockTag");

/**
 * A block tag or number, a bare 32-byte block hash (as geth accepts), or an EIP-1898 object:
 * `{ blockNumber }` or `{ blockHash, requireCanonical? }`.
 */
export const blockTagOrHash = z
  .unknown()
  .transform((v, ctx): BlockTagOrHash => {
    if (typeof v === "string") {
      if (v.length === 66 && HASH32_RE.test(v)) return { hash: v.toLowerCase(), requireCanonical: false };
      const tag = parseBlockTag(v);
      if (tag !== undefined) return tag;
      ctx.addIssue({ code: "custom", message: BLOCK_TAG_OR_HASH_MSG });
      return z.NEVER;
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      ctx.addIssue({ code: "custom", message: BLOCK_TAG_OR_HASH_MSG });
      return z.NEVER;
    }
    const o = v as Record<string, unknown>;
    const num = o.blockNumber;
    const hash = o.blockHash;
    if (num !== undefined && hash !== undefined) {
      ctx.addIssue({ code: "custom", message: "cannot specify both blockHash and blockNumber" });
      return z.NEVER;
    }
    if (num !== undefined) {
      const tag = typeof num === "string" ? parseBlockTag(num) : undefined;
      if (tag !== undefined) return tag;
      ctx.addIssue({ code: "custom", message: BLOCK_TAG_MSG, path: ["blockNumber"] });
      return z.NEVER;
    }
    if (hash !== undefined) {
      if (typeof hash !== "string" || !HASH32_RE.test(hash)) {
        ctx.addIssue({ code: "custom", message: HASH32_MSG, path: ["blockHash"] });
        return z.NEVER;
      }
      const rc = o.requireCanonical;
      if (rc !== undefined && typeof rc !== "boolean") {
        ctx.addIssue({ code: "custom", message: "expected boolean", path: ["requireCanonical"] });
        return z.NEVER;
      }
      return { hash: hash.toLowerCase(), requireCanonical: rc === true };
    }
    ctx.addIssue({ code: "custom", message: "expected blockNumber or blockHash" });
    return z.NEVER;
  })
  .describe("blockTagOrHash");
