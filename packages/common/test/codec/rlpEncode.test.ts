import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RLP } from "@ethereumjs/rlp";
import { Bloom, encodeReceipt } from "@ethereumjs/vm";
import { intToBytes } from "@ethereumjs/util";
import {
  DecodeError,
  KECCAK256_RLP,
  MemTrie,
  type Receipt,
  type RlpItem,
  encodeConsensusReceipt,
  orderedTrieRoot,
  receiptBloom,
  rlpAppend,
  rlpDecode,
  rlpEncode,
} from "../../src/index.ts";
import { bytesOf, floatRng } from "../helpers/random.ts";

/** Strings of every length class (empty, one byte below and above 0x80, short, long) and nested lists. */
function randomItem(r: () => number, depth: number): RlpItem {
  if (depth > 3 || r() < 0.55) {
    const k = r();
    const len = k < 0.15 ? 0 : k < 0.4 ? 1 : k < 0.8 ? Math.floor(r() * 56) : 56 + Math.floor(r() * 400);
    return bytesOf(r, len);
  }
  return Array.from({ length: Math.floor(r() * (r() < 0.1 ? 80 : 6)) }, () => randomItem(r, depth + 1));
}

describe("rlp / one-pass encoder", () => {
  it("encodes exactly as @ethereumjs/rlp, over 5,000 random nested items", () => {
    const r = floatRng(1);
    for (let i = 0; i < 5000; i++) {
      const item = randomItem(r, 0);
      assert.deepEqual(rlpEncode(item), RLP.encode(item), `item ${i}`);
    }
    assert.deepEqual(rlpEncode(new Uint8Array(70_000)), RLP.encode(new Uint8Array(70_000)));
  });

  it("appends an encoded item to an encoded list as if the longer list were encoded, across header sizes", () => {
    const r = floatRng(2);
    for (let i = 0; i < 3000; i++) {
      const items = Array.from({ length: Math.floor(r() * 8) }, () => randomItem(r, 1));
      const extra = randomItem(r, 1);
      assert.deepEqual(
        rlpAppend(rlpEncode(items), rlpEncode(extra)),
        RLP.encode([...items, extra]),
        `case ${i}`,
      );
    }
    // Payloads that cross 55 bytes and 256 bytes when the item is appended.
    for (const [have, add] of [
      [50, 10],
      [250, 20],
      [65_530, 10],
    ] as const) {
      const items = [new Uint8Array(have - 3)];
      const extra = new Uint8Array(add);
      assert.deepEqual(rlpAppend(rlpEncode(items), rlpEncode(extra)), RLP.encode([...items, extra]));
    }
    assert.throws(() => rlpAppend(rlpEncode(new Uint8Array(3)), rlpEncode(new Uint8Array(1))), DecodeError);
  });

  it("consensus receipts and blooms are the bytes ethereumjs produces", () => {
    const r = floatRng(2);
    for (let i = 0; i < 500; i++) {
      const receipt: Receipt = {
        status: r() < 0.2 ? 0 : 1,
        cumulativeGasUsed: BigInt(Math.floor(r() * 1e12)),
        gasUsed: 21_000n,
        effectiveGasPrice: 1n,
        contractAddress: null,
        logs: Array.from({ length: Math.floor(r() * 4) }, () => ({
          address: bytesOf(r, 20),
          topics: Array.from({ length: Math.floor(r() * 5) }, () => bytesOf(r, 32)),
          data: bytesOf(r, Math.floor(r() * 100)),
        })),
      };
      const bloom = receiptBloom(receipt);
      const reference = new Bloom();
      for (const l of receipt.logs) {
        reference.add(l.address);
        for (const t of l.topics) reference.add(t);
      }
      assert.deepEqual(bloom, reference.bitvector);
      for (const type of [0, 1, 2, 4]) {
        const theirs = encodeReceipt(
          {
            status: receipt.status,
            cumulativeBlockGasUsed: receipt.cumulativeGasUsed,
            bitvector: bloom,
            logs: receipt.logs.map((l) => [l.address, l.topics, l.data]),
          },
          type as 0,
        );
        assert.deepEqual(encodeConsensusReceipt(receipt, type, bloom), theirs);
      }
    }
  });
});

describe("ordered trie root (transactionsRoot, receiptsRoot)", () => {
  it("equals the root of a MemTrie keyed by RLP(index), for 0 to 300 values and a few large sets", () => {
    const r = floatRng(3);
    const reference = (values: Uint8Array[]) => {
      if (values.length === 0) return KECCAK256_RLP;
      const t = new MemTrie({ secure: false });
      for (let i = 0; i < values.length; i++)
        t.put(RLP.encode(i === 0 ? new Uint8Array(0) : intToBytes(i)), values[i]!);
      return t.root();
    };
    const sizes = [...Array.from({ length: 301 }, (_, i) => i), 1000, 4097, 70_000];
    for (const n of sizes) {
      // Short values too: nodes under 32 bytes are embedded in their parent, not hashed.
      const values = Array.from({ length: n }, () => bytesOf(r, r() < 0.3 ? 1 + Math.floor(r() * 4) : 100));
      assert.deepEqual(orderedTrieRoot(values), reference(values), `${n} values`);
    }
  });
});

describe("rlp / copy-free decoder", () => {
  it("decodes what @ethereumjs/rlp decodes, to the same items, and refuses what it refuses", () => {
    const r = floatRng(4);
    for (let i = 0; i < 3000; i++) {
      const encoded = RLP.encode(randomItem(r, 0));
      assert.deepEqual(rlpDecode(encoded), RLP.decode(encoded), `item ${i}`);
      // Corrupt or truncate it: both decoders agree on success, and then on the result.
      const bad = encoded.slice(0, Math.max(1, encoded.length - Math.floor(r() * 3)));
      bad[Math.floor(r() * bad.length)] = Math.floor(r() * 256);
      let theirs: unknown;
      let mine: unknown;
      try {
        theirs = RLP.decode(bad);
      } catch {
        theirs = "error";
      }
      try {
        mine = rlpDecode(bad);
      } catch (err) {
        assert.ok(err instanceof DecodeError, String(err));
        mine = "error";
      }
      assert.deepEqual(mine, theirs, Buffer.from(bad).toString("hex"));
    }
  });

  it("refuses deep nesting with a DecodeError instead of overflowing the stack", () => {
    // 10,000 lists, each holding the next.
    let deep = Uint8Array.of(0xc0);
    for (let i = 0; i < 10_000; i++) {
      const len = deep.length;
      const header =
        len < 56 ? [0xc0 + len] : len < 256 ? [0xf8, len] : len < 65536 ? [0xf9, len >> 8, len & 255] : [];
      deep = Uint8Array.of(...header, ...deep);
    }
    assert.throws(() => rlpDecode(deep), DecodeError);
    let nested: RlpItem = [];
    for (let i = 0; i < 40; i++) nested = [nested];
    assert.throws(() => rlpDecode(RLP.encode(nested)), DecodeError);
  });
});
