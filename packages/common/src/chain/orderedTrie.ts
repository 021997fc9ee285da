import { KECCAK256_RLP, keccak256 } from "../crypto/keccak.ts";
import { type RlpItem, rlpEncode } from "../codec/rlpUtil.ts";

/**
 * The root of a Merkle-Patricia trie keyed by RLP(index), i.e. transactionsRoot and receiptsRoot,
 * built in one pass from the keys in sorted order (geth's `DeriveSha` over a stack trie) instead
 * of inserting into a general trie: every node is encoded and hashed exactly once, and nothing is
 * kept once the root is known. Same root as inserting into `MemTrie`.
 */
export function orderedTrieRoot(values: readonly Uint8Array[]): Uint8Array {
  if (values.length === 0) return KECCAK256_RLP;
  // RLP(i) sorts as 1..127, 0 (0x80), then 128.. (0x81.., 0x82.., ...): already ascending past 127.
  const keys: Uint8Array[] = [];
  const vals: Uint8Array[] = [];
  const push = (i: number) => {
    keys.push(nibbles(indexKey(i)));
    vals.push(values[i]!);
  };
  for (let i = 1; i < Math.min(values.length, 128); i++) push(i);
  push(0);
  for (let i = 128; i < values.length; i++) push(i);
  const root = build(keys, vals, 0, keys.length, 0);
  return keccak256(root.encoded);
}

/** RLP(i) as the trie key: 0x80 for 0, the byte itself below 0x80, else 0x80+len ‖ big-endian. */
function indexKey(i: number): Uint8Array {
  if (i === 0) return Uint8Array.of(0x80);
  if (i < 0x80) return Uint8Array.of(i);
  const be: number[] = [];
  for (let v = i; v > 0; v = Math.floor(v / 256)) be.unshift(v % 256);
  return Uint8Array.of(0x80 + be.length, ...be);
}

function nibbles(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length * 2);
  for (let i = 0; i < key.length; i++) {
    out[2 * i] = key[i]! >> 4;
    out[2 * i + 1] = key[i]! & 15;
  }
  return out;
}

/** Hex-prefix encoding of a nibble path (yellow paper appendix C). */
function hexPrefix(path: Uint8Array, from: number, to: number, leaf: boolean): Uint8Array {
  const len = to - from;
  const odd = len % 2 === 1;
  const out = new Uint8Array(Math.floor(len / 2) + 1);
  let n = from;
  out[0] = ((leaf ? 2 : 0) + (odd ? 1 : 0)) << 4;
  if (odd) out[0] |= path[n++]!;
  for (let i = 1; n < to; i++, n += 2) out[i] = (path[n]! << 4) | path[n + 1]!;
  return out;
}

interface Node {
  item: RlpItem;
  encoded: Uint8Array;
}

/** How a parent refers to a node: its structure when its encoding is short, else its hash. */
const ref = (n: Node): RlpItem => (n.encoded.length < 32 ? n.item : keccak256(n.encoded));

const node = (item: RlpItem): Node => ({ item, encoded: rlpEncode(item) });

const EMPTY = new Uint8Array(0);

/** The subtrie of the sorted keys [lo, hi), all equal on their first `depth` nibbles. */
function build(keys: Uint8Array[], vals: Uint8Array[], lo: number, hi: number, depth: number): Node {
  const first = keys[lo]!;
  if (hi - lo === 1) return node([hexPrefix(first, depth, first.length, true), vals[lo]!]);
  // Sorted keys: the prefix common to all is the one the first and the last share.
  const last = keys[hi - 1]!;
  let common = depth;
  while (common < first.length && common < last.length && first[common] === last[common]) common++;
  if (common > depth) {
    const child = build(keys, vals, lo, hi, common);
    return node([hexPrefix(first, depth, common, false), ref(child)]);
  }
  const branch: RlpItem[] = new Array(17).fill(EMPTY);
  let i = lo;
  if (first.length === depth) {
    // A key that ends here holds the branch's value (never for RLP(index) keys, which are
    // prefix-free, but it keeps the builder general).
    branch[16] = vals[lo]!;
    i++;
  }
  while (i < hi) {
    const nib = keys[i]![depth]!;
    let j = i + 1;
    while (j < hi && keys[j]![depth] === nib) j++;
    branch[nib] = ref(build(keys, vals, i, j, depth + 1));
    i = j;
  }
  return node(branch);
}
