import { type NestedUint8Array, RLP } from "@ethereumjs/rlp";
import { KECCAK256_RLP, keccak256 } from "../crypto/keccak.ts";
import { ErrorCode, StaccatoError } from "../errors.ts";
import { hexDigits } from "../util/hex.ts";

/**
 * An in-memory hexary Merkle-Patricia trie (Yellow Paper appendix D) for batched state roots.
 *
 * Nodes are objects that cache their RLP encoding and hash. `put`/`del` mutate the nodes on the
 * key's path in place and clear their caches; `root()` re-encodes and re-hashes only the nodes
 * left dirty, once. That is the point of this file: an `@ethereumjs/mpt` update re-hashes its
 * path through an async DB on every put (FACTS "Throughput").
 *
 * It also records witnesses (`startRecording`/`stopRecording`: every pre-existing hashed node
 * that an operation read) and builds partial tries back from them (`fromNodes`), where a node
 * that is not there throws `MissingTrieNodeError` instead of reading as empty (FACTS "Witness").
 */

export const TrieErrorCode = {
  MissingNode: ErrorCode.TrieMissingNode,
  InvalidNode: ErrorCode.TrieInvalidNode,
} as const;
export type TrieErrorCode = (typeof TrieErrorCode)[keyof typeof TrieErrorCode];

/** A partial trie (`fromNodes`) was asked for a node that is not in its node set. */
export class MissingTrieNodeError extends StaccatoError<{ hash: Uint8Array }> {
  constructor(hash: Uint8Array) {
    super(ErrorCode.TrieMissingNode, `missing trie node 0x${hexDigits(hash)}`, { hash });
  }
}

/** A node given to `fromNodes` is not a valid trie node. */
export class InvalidTrieNodeError extends StaccatoError {
  constructor(message: string) {
    super(ErrorCode.TrieInvalidNode, message, undefined);
  }
}

export interface MemTrieOpts {
  /** Hash keys with keccak256 before use (the state and storage tries). Default true. */
  secure?: boolean;
}

/** keccak256(rlp("")): the root of an empty trie. */
export const EMPTY_TRIE_ROOT: Uint8Array = KECCAK256_RLP;

const LEAF = 0;
const EXT = 1;
const BRANCH = 2;
const REF = 3;
const EMPTY = new Uint8Array(0);
const VALUE_BIT = 1 << 16;
const RECORD_CHUNK = 256 * 1024;

// `enc` is the node's RLP, `hash` its keccak (set when enc >= 32 bytes, and on the root). Both
// are null while the node is dirty; `spare` then keeps the old encoding's buffer, which the next
// encoding reuses when it has the same size (it nearly always has: saves an off-heap allocation
// per re-hashed node). Encodings therefore never leave the trie without a copy. `mark` is the
// recording epoch in which the node was created or last recorded: a node with mark < the
// current epoch existed before the recording span.
class Leaf {
  readonly kind = LEAF;
  enc: Uint8Array | null = null;
  hash: Uint8Array | null = null;
  spare: Uint8Array | null = null;
  constructor(
    public path: Uint8Array,
    public value: Uint8Array,
    public mark: number,
  ) {}
}

class Ext {
  readonly kind = EXT;
  enc: Uint8Array | null = null;
  hash: Uint8Array | null = null;
  spare: Uint8Array | null = null;
  constructor(
    public path: Uint8Array,
    public child: Child,
    public mark: number,
  ) {}
}

class Branch {
  readonly kind = BRANCH;
  enc: Uint8Array | null = null;
  hash: Uint8Array | null = null;
  spare: Uint8Array | null = null;
  // biome-ignore format: one slot per nibble
  children: (Child | null)[] = [null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null];
  value: Uint8Array | null = null;
  /** Items changed since `spare` was encoded: bit i for children[i], bit 16 for the value. */
  changed = 0;
  constructor(public mark: number) {}
}

/** A hash reference not yet resolved from the node set of a partial trie. */
class Ref {
  readonly kind = REF;
  constructor(readonly hash: Uint8Array) {}
}

type Node = Leaf | Ext | Branch;
type Child = Node | Ref;

export class MemTrie {
  private readonly secure: boolean;
  private rootNode: Child | null = null;
  /** RLP nodes by hex hash, for resolving `Ref`s; null for a trie built in memory. */
  private db: Map<string, Uint8Array> | null = null;
  private epoch = 0;
  private recording = false;
  private recorded = new Map<number, Uint8Array>();
  private recCollisions: Uint8Array[] = [];
  /** Recorded encodings are copied into chunks: one allocation per 256 KiB, not per node. */
  private recChunk = new Uint8Array(0);
  private recUsed = 0;
  /** Set when a `del` failed half-way on a missing node: the trie is then unusable. */
  private broken: MissingTrieNodeError | null = null;
  private nibbles = new Uint8Array(64);

  constructor(opts: MemTrieOpts = {}) {
    this.secure = opts.secure ?? true;
  }

  /**
   * A partial trie over `root`, resolving hash references lazily from `nodes` (RLP encodings,
   * keyed by their keccak). Reaching a node that is not in `nodes` throws `MissingTrieNodeError`.
   */
  static fromNodes(root: Uint8Array, nodes: Iterable<Uint8Array>, opts: MemTrieOpts = {}): MemTrie {
    return MemTrie.fromNodeMap(root, MemTrie.nodeMap(nodes), opts);
  }

  /** RLP nodes keyed by their hash (hex, no 0x), as `fromNodeMap` takes them. */
  static nodeMap(nodes: Iterable<Uint8Array>): Map<string, Uint8Array> {
    const db = new Map<string, Uint8Array>();
    for (const n of nodes) db.set(hexDigits(keccak256(n)), n);
    return db;
  }

  /** `fromNodes` over a node map several tries share (an account trie and its storage tries). */
  static fromNodeMap(root: Uint8Array, db: Map<string, Uint8Array>, opts: MemTrieOpts = {}): MemTrie {
    const trie = new MemTrie(opts);
    trie.db = db;
    if (!bytesEqual(root, EMPTY_TRIE_ROOT)) trie.rootNode = new Ref(root.slice());
    return trie;
  }

  /** The value stored under `key` (the trie's own array: do not modify it). */
  get(key: Uint8Array): Uint8Array | undefined {
    this.checkUsable();
    const nib = this.keyNibbles(key);
    let n = this.resolveRoot();
    let pos = 0;
    while (n !== null) {
      this.visit(n);
      if (n.kind === LEAF) return restEquals(n.path, nib, pos) ? n.value : undefined;
      if (n.kind === EXT) {
        if (!hasPrefix(nib, pos, n.path)) return undefined;
        pos += n.path.length;
        n = this.extChild(n);
      } else {
        if (pos === nib.length) return n.value ?? undefined;
        n = this.branchChild(n, nib[pos++]);
      }
    }
    return undefined;
  }

  /**
   * Sets `key` to `value`; an empty value deletes the key. The trie keeps `value` itself (copying
   * a value over 64 bytes is an off-heap allocation, a third of a put's cost): do not modify it
   * afterwards.
   */
  put(key: Uint8Array, value: Uint8Array): void {
    if (value.length === 0) {
      this.del(key);
      return;
    }
    this.checkUsable();
    const nib = this.keyNibbles(key);
    // insert() resolves every node it needs before mutating anything, so a missing node leaves
    // the trie as it was.
    this.rootNode = this.insert(this.resolveRoot(), nib, 0, value);
  }

  /**
   * Deletes `key` (a no-op when absent). On a partial trie, a `MissingTrieNodeError` thrown here
   * may come after some nodes changed: the trie then rethrows it from every later call.
   */
  del(key: Uint8Array): void {
    this.checkUsable();
    const nib = this.keyNibbles(key);
    const root = this.resolveRoot();
    if (root === null) return;
    try {
      this.rootNode = this.remove(root, nib, 0);
    } catch (err) {
      // The sibling a collapsing branch needs is resolved after the deeper nodes have changed.
      if (err instanceof MissingTrieNodeError) this.broken = err;
      throw err;
    }
  }

  /** The root hash; re-encodes and re-hashes the dirty nodes only. */
  root(): Uint8Array {
    this.checkUsable();
    const r = this.rootNode;
    if (r === null) return EMPTY_TRIE_ROOT.slice();
    if (r.kind === REF) return r.hash.slice();
    this.commit(r);
    if (r.hash === null) r.hash = keccak256(r.enc!);
    return r.hash.slice();
  }

  /**
   * EIP-1186 proof of `key`, present or absent: the RLP of every node on the key's path that is
   * referenced by hash, root first (inline nodes are inside their parent's encoding).
   */
  proof(key: Uint8Array): Uint8Array[] {
    this.root();
    const nib = this.keyNibbles(key);
    let n = this.resolveRoot();
    if (n === null) return [];
    const out = [n.enc!.slice()];
    let pos = 0;
    for (;;) {
      if (n.kind === LEAF) return out;
      if (n.kind === EXT) {
        if (!hasPrefix(nib, pos, n.path)) return out;
        pos += n.path.length;
        n = this.extChild(n);
      } else {
        if (pos === nib.length) return out;
        const c = this.branchChild(n, nib[pos++]);
        if (c === null) return out;
        n = c;
      }
      if (n.enc!.length >= 32) out.push(n.enc!.slice());
    }
  }

  /**
   * Adds to `db` (keyed as `fromNodeMap` takes it) every hashed node on `key`'s path and every
   * hashed child of the branches on it: what a partial trie over this root needs to read, write or
   * delete `key` (a deletion may collapse a branch into its last other child).
   */
  collectPath(key: Uint8Array, db: Map<string, Uint8Array>): void {
    this.root();
    const nib = this.keyNibbles(key);
    const add = (c: Child | null): void => {
      if (c === null || c.kind === REF) return;
      if (c.hash !== null) db.set(hexDigits(c.hash), c.enc!);
    };
    let n = this.resolveRoot();
    if (n === null) return;
    if (n.hash === null) n.hash = keccak256(n.enc!);
    add(n);
    let pos = 0;
    for (;;) {
      if (n.kind === LEAF) return;
      if (n.kind === EXT) {
        if (!hasPrefix(nib, pos, n.path)) return;
        pos += n.path.length;
        n = this.extChild(n);
        add(n);
        continue;
      }
      for (let i = 0; i < 16; i++) add(n.children[i]!);
      if (pos === nib.length) return;
      const c = this.branchChild(n, nib[pos++]);
      if (c === null) return;
      n = c;
    }
  }

  /**
   * Starts recording a witness. Computes the root first, so every node that exists now is clean
   * and its encoding is the pre-state one.
   */
  startRecording(): void {
    this.root();
    this.epoch++;
    this.recording = true;
    this.recorded = new Map();
    this.recCollisions = [];
  }

  /**
   * The RLP of every hashed node (and the root node) that existed at `startRecording` and was
   * read since by get/put/del, including the siblings a deletion collapses; deduplicated.
   * (`root()` reads nothing more: collapses are resolved by `del` itself.) Enough for
   * `fromNodes(preRoot, nodes)`, and for `@ethereumjs/mpt`, to replay the same operations.
   * The arrays are views into shared chunks (`byteOffset` is not 0).
   */
  stopRecording(): Uint8Array[] {
    this.recording = false;
    const out = [...this.recorded.values(), ...this.recCollisions];
    this.recorded = new Map();
    this.recCollisions = [];
    this.recChunk = new Uint8Array(0);
    this.recUsed = 0;
    return out;
  }

  /**
   * Every `[key, value]` in key order; keys are the hashed keys for a secure trie. Resolves
   * hash references as it goes; do not modify the trie while iterating.
   */
  *entries(): Generator<[Uint8Array, Uint8Array]> {
    this.checkUsable();
    const root = this.resolveRoot();
    if (root !== null) yield* this.walk(root, []);
  }

  private *walk(n: Node, prefix: number[]): Generator<[Uint8Array, Uint8Array]> {
    if (n.kind === LEAF) {
      yield [nibblesToBytes(prefix, n.path), n.value];
    } else if (n.kind === EXT) {
      const len = prefix.length;
      for (const x of n.path) prefix.push(x);
      yield* this.walk(this.extChild(n), prefix);
      prefix.length = len;
    } else {
      if (n.value !== null) yield [nibblesToBytes(prefix, EMPTY), n.value];
      for (let i = 0; i < 16; i++) {
        const c = this.branchChild(n, i);
        if (c === null) continue;
        prefix.push(i);
        yield* this.walk(c, prefix);
        prefix.pop();
      }
    }
  }

  private insert(n: Node | null, nib: Uint8Array, pos: number, value: Uint8Array): Node {
    if (n === null) return new Leaf(nib.slice(pos), value, this.epoch);
    this.visit(n);
    if (n.kind === BRANCH) {
      if (pos === nib.length) {
        if (n.value === null || !bytesEqual(n.value, value)) {
          n.value = value;
          n.changed |= VALUE_BIT;
          touch(n);
        }
        return n;
      }
      const i = nib[pos];
      const child = this.branchChild(n, i);
      const next = this.insert(child, nib, pos + 1, value);
      if (next !== child || next.enc === null) {
        n.children[i] = next;
        n.changed |= 1 << i;
        touch(n);
      }
      return n;
    }
    const path = n.path;
    const common = commonPrefix(path, nib, pos);
    if (n.kind === EXT && common === path.length) {
      const child = this.extChild(n);
      const next = this.insert(child, nib, pos + common, value);
      if (next !== child || next.enc === null) {
        n.child = next;
        touch(n);
      }
      return n;
    }
    if (n.kind === LEAF && common === path.length && pos + common === nib.length) {
      if (!bytesEqual(n.value, value)) {
        n.value = value;
        touch(n);
      }
      return n;
    }
    // The paths diverge after `common` nibbles: a branch there, behind an extension if common > 0.
    const branch = new Branch(this.epoch);
    if (common === path.length) {
      branch.value = (n as Leaf).value; // only a leaf can end here: an extension would have matched
    } else if (n.kind === EXT && common + 1 === path.length) {
      branch.children[path[common]] = n.child;
    } else {
      branch.children[path[common]] = n;
      n.path = path.subarray(common + 1);
      touch(n);
    }
    if (pos + common === nib.length) branch.value = value;
    else branch.children[nib[pos + common]] = new Leaf(nib.slice(pos + common + 1), value, this.epoch);
    return common > 0 ? new Ext(nib.slice(pos, pos + common), branch, this.epoch) : branch;
  }

  private remove(n: Node, nib: Uint8Array, pos: number): Node | null {
    this.visit(n);
    if (n.kind === LEAF) return restEquals(n.path, nib, pos) ? null : n;
    if (n.kind === EXT) {
      if (!hasPrefix(nib, pos, n.path)) return n;
      const child = this.extChild(n);
      const next = this.remove(child, nib, pos + n.path.length);
      if (next === child && next.enc !== null) return n;
      if (next === null) return null; // an extension always points at a branch; not reached
      if (next.kind === BRANCH) {
        n.child = next;
        touch(n);
        return n;
      }
      next.path = concatPath(n.path, next.path);
      touch(next);
      return next;
    }
    if (pos === nib.length) {
      if (n.value === null) return n;
      n.value = null;
      n.changed |= VALUE_BIT;
    } else {
      const i = nib[pos];
      const child = this.branchChild(n, i);
      if (child === null) return n;
      const next = this.remove(child, nib, pos + 1);
      if (next === child && next.enc !== null) return n;
      n.children[i] = next;
      n.changed |= 1 << i;
    }
    touch(n);
    return this.collapse(n);
  }

  /** A branch left with a single entry becomes a leaf, or merges into its only child. */
  private collapse(n: Branch): Node | null {
    let count = n.value === null ? 0 : 1;
    let only = -1;
    for (let i = 0; i < 16 && count < 2; i++) {
      if (n.children[i] !== null) {
        count++;
        only = i;
      }
    }
    if (count >= 2) return n;
    if (only === -1) return n.value === null ? null : new Leaf(EMPTY, n.value, this.epoch);
    const child = this.branchChild(n, only)!;
    this.visit(child);
    if (child.kind === BRANCH) return new Ext(Uint8Array.of(only), child, this.epoch);
    child.path = concatPath(Uint8Array.of(only), child.path);
    touch(child);
    return child;
  }

  /** Encodes (and hashes, when referenced by hash) every dirty node under `n`. */
  private commit(n: Node): void {
    if (n.enc !== null) return;
    if (n.kind === EXT) {
      const c = n.child;
      if (c.kind !== REF && c.enc === null) this.commit(c);
    } else if (n.kind === BRANCH) {
      // A dirty child always has its bit set in `changed`, unless the branch is new (no spare):
      // the clean children are not even looked at (each look is a likely cache miss).
      const bits = n.spare === null ? 0xffff : n.changed;
      for (let i = 0; i < 16; i++) {
        if ((bits & (1 << i)) === 0) continue;
        const c = n.children[i];
        if (c !== null && c.kind !== REF && c.enc === null) this.commit(c);
      }
    }
    const enc = encodeNode(n);
    n.enc = enc;
    if (enc.length >= 32) n.hash = keccak256(enc);
  }

  private visit(n: Node): void {
    if (!this.recording || n.mark >= this.epoch) return;
    n.mark = this.epoch;
    const enc = n.enc!;
    if (enc.length < 32 && n !== this.rootNode) return; // inline: part of its parent's encoding
    // Distinct nodes can have equal encodings: deduplicate by hash. The key is the hash's first
    // 48 bits (a hex string per node cost more than the rest of recording); equal keys with
    // different encodings go to `recCollisions`.
    const h = n.hash ?? keccak256(enc);
    const key = h[0] * 2 ** 40 + h[1] * 2 ** 32 + (((h[2] << 24) | (h[3] << 16) | (h[4] << 8) | h[5]) >>> 0);
    const prev = this.recorded.get(key);
    if (prev !== undefined) {
      if (bytesEqual(prev, enc) || this.recCollisions.some((c) => bytesEqual(c, enc))) return;
      this.recCollisions.push(enc.slice());
      return;
    }
    if (this.recUsed + enc.length > this.recChunk.length) {
      this.recChunk = new Uint8Array(Math.max(RECORD_CHUNK, enc.length));
      this.recUsed = 0;
    }
    const copy = this.recChunk.subarray(this.recUsed, this.recUsed + enc.length);
    copy.set(enc);
    this.recUsed += enc.length;
    this.recorded.set(key, copy);
  }

  private resolveRoot(): Node | null {
    const r = this.rootNode;
    if (r === null || r.kind !== REF) return r;
    const n = this.resolve(r);
    this.rootNode = n;
    return n;
  }

  private branchChild(n: Branch, i: number): Node | null {
    const c = n.children[i];
    if (c === null || c.kind !== REF) return c;
    const resolved = this.resolve(c);
    n.children[i] = resolved; // same hash: the parent stays clean
    return resolved;
  }

  private extChild(n: Ext): Node {
    const c = n.child;
    if (c.kind !== REF) return c;
    const resolved = this.resolve(c);
    n.child = resolved;
    return resolved;
  }

  private resolve(ref: Ref): Node {
    const enc = this.db?.get(hexDigits(ref.hash));
    if (enc === undefined) throw new MissingTrieNodeError(ref.hash);
    const n = decodeNode(RLP.decode(enc));
    n.enc = enc.slice(); // ours to overwrite later
    n.hash = ref.hash;
    return n;
  }

  private keyNibbles(key: Uint8Array): Uint8Array {
    const k = this.secure ? keccak256(key) : key;
    if (this.nibbles.length !== k.length * 2) this.nibbles = new Uint8Array(k.length * 2);
    const nib = this.nibbles;
    for (let i = 0; i < k.length; i++) {
      nib[2 * i] = k[i] >> 4;
      nib[2 * i + 1] = k[i] & 15;
    }
    return nib;
  }

  private checkUsable(): void {
    if (this.broken !== null) throw this.broken;
  }
}

function touch(n: Node): void {
  if (n.enc !== null) n.spare = n.enc;
  n.enc = null;
  n.hash = null;
}

// --- paths -------------------------------------------------------------------------------------

function commonPrefix(path: Uint8Array, nib: Uint8Array, pos: number): number {
  const max = Math.min(path.length, nib.length - pos);
  let i = 0;
  while (i < max && path[i] === nib[pos + i]) i++;
  return i;
}

function hasPrefix(nib: Uint8Array, pos: number, path: Uint8Array): boolean {
  if (nib.length - pos < path.length) return false;
  for (let i = 0; i < path.length; i++) if (nib[pos + i] !== path[i]) return false;
  return true;
}

function restEquals(path: Uint8Array, nib: Uint8Array, pos: number): boolean {
  return nib.length - pos === path.length && hasPrefix(nib, pos, path);
}

function concatPath(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function nibblesToBytes(prefix: number[], rest: Uint8Array): Uint8Array {
  const out = new Uint8Array((prefix.length + rest.length) >> 1);
  for (let i = 0; i < out.length * 2; i++) {
    const x = i < prefix.length ? prefix[i] : rest[i - prefix.length];
    out[i >> 1] |= i & 1 ? x : x << 4;
  }
  return out;
}

// --- encoding ------------------------------------------------------------------------------------
// Written straight into one buffer of the exact size: the children's cached encodings or hashes
// are copied in, nothing is re-encoded below a dirty node.

function encodeNode(n: Node): Uint8Array {
  if (n.kind === BRANCH) {
    const enc = n.spare === null ? encodeBranch(n) : reencodeBranch(n, n.spare);
    n.spare = null;
    n.changed = 0;
    return enc;
  }
  const leaf = n.kind === LEAF;
  const hpBytes = (n.path.length >> 1) + 1;
  const hpLen = hpBytes === 1 ? 1 : 1 + hpBytes;
  const payload = hpLen + (leaf ? strLen(n.value) : refLen(n.child));
  const buf = alloc(n, listLen(payload));
  let off = writeLen(buf, 0, payload, 0xc0);
  off = writeHexPrefix(buf, off, n.path, leaf);
  if (leaf) writeStr(buf, off, n.value);
  else writeRef(buf, off, n.child);
  return buf;
}

function encodeBranch(n: Branch): Uint8Array {
  let payload = n.value === null ? 1 : strLen(n.value);
  for (let i = 0; i < 16; i++) {
    const c = n.children[i];
    payload += c === null ? 1 : refLen(c);
  }
  const buf = new Uint8Array(listLen(payload));
  let off = writeLen(buf, 0, payload, 0xc0);
  for (let i = 0; i < 16; i++) {
    const c = n.children[i];
    if (c === null) buf[off++] = 0x80;
    else off = writeRef(buf, off, c);
  }
  if (n.value === null) buf[off] = 0x80;
  else writeStr(buf, off, n.value);
  return buf;
}

const itemStart = new Int32Array(18);

/**
 * Re-encodes a branch from its previous encoding `old`: only the items flagged in `changed` are
 * rewritten, the others are copied from `old` (or left where they are, when no item changed
 * size: the usual case of one child hash replacing another).
 */
function reencodeBranch(n: Branch, old: Uint8Array): Uint8Array {
  const changed = n.changed;
  let off = old[0] <= 0xf7 ? 1 : 1 + old[0] - 0xf7;
  for (let i = 0; i < 17; i++) {
    itemStart[i] = off;
    off += itemLen(old, off);
  }
  itemStart[17] = off;
  let payload = off - itemStart[0];
  let sameLayout = true;
  for (let i = 0; i < 17; i++) {
    if ((changed & (1 << i)) === 0) continue;
    const was = itemStart[i + 1] - itemStart[i];
    const c = i < 16 ? n.children[i] : null;
    const len = i < 16 ? (c === null ? 1 : refLen(c)) : n.value === null ? 1 : strLen(n.value);
    if (len !== was) {
      sameLayout = false;
      payload += len - was;
    }
  }
  if (sameLayout) {
    for (let i = 0; i < 17; i++) if ((changed & (1 << i)) !== 0) writeItem(n, i, old, itemStart[i]);
    return old;
  }
  const buf = new Uint8Array(listLen(payload));
  off = writeLen(buf, 0, payload, 0xc0);
  for (let i = 0; i < 17; i++) {
    if ((changed & (1 << i)) !== 0) {
      off = writeItem(n, i, buf, off);
    } else {
      buf.set(old.subarray(itemStart[i], itemStart[i + 1]), off);
      off += itemStart[i + 1] - itemStart[i];
    }
  }
  return buf;
}

/** Item i of a branch: child i, or the value for i = 16. */
function writeItem(n: Branch, i: number, buf: Uint8Array, off: number): number {
  const x = i < 16 ? n.children[i] : n.value;
  if (x === null) {
    buf[off] = 0x80;
    return off + 1;
  }
  return x instanceof Uint8Array ? writeStr(buf, off, x) : writeRef(buf, off, x);
}

/** The length of the RLP item at `off`. */
function itemLen(b: Uint8Array, off: number): number {
  const h = b[off];
  if (h < 0x80) return 1;
  if (h <= 0xb7) return 1 + h - 0x80;
  if (h < 0xc0) return 1 + h - 0xb7 + readLen(b, off + 1, h - 0xb7);
  if (h <= 0xf7) return 1 + h - 0xc0;
  return 1 + h - 0xf7 + readLen(b, off + 1, h - 0xf7);
}

function readLen(b: Uint8Array, off: number, n: number): number {
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[off + i];
  return len;
}

function alloc(n: Node, len: number): Uint8Array {
  const spare = n.spare;
  n.spare = null;
  return spare !== null && spare.length === len ? spare : new Uint8Array(len);
}

/** The compact (hex-prefix) encoding of a nibble path, as an RLP string. */
function writeHexPrefix(buf: Uint8Array, off: number, path: Uint8Array, leaf: boolean): number {
  const n = path.length;
  const bytes = (n >> 1) + 1;
  if (bytes > 1) buf[off++] = 0x80 + bytes; // a single byte is < 0x80: its own encoding
  const flag = leaf ? 2 : 0;
  let i = 0;
  if (n & 1) {
    buf[off++] = ((flag + 1) << 4) | path[0];
    i = 1;
  } else {
    buf[off++] = flag << 4;
  }
  for (; i < n; i += 2) buf[off++] = (path[i] << 4) | path[i + 1];
  return off;
}

/** How a child appears in its parent: inline if its RLP is < 32 bytes, else as its hash. */
function refLen(c: Child): number {
  if (c.kind === REF) return 33;
  const len = c.enc!.length;
  return len < 32 ? len : 33;
}

function writeRef(buf: Uint8Array, off: number, c: Child): number {
  if (c.kind !== REF && c.enc!.length < 32) {
    buf.set(c.enc!, off);
    return off + c.enc!.length;
  }
  buf[off] = 0xa0;
  buf.set(c.hash!, off + 1);
  return off + 33;
}

function lenOfLen(n: number): number {
  return n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
}

function strLen(b: Uint8Array): number {
  const n = b.length;
  if (n === 1 && b[0] < 0x80) return 1;
  return n <= 55 ? 1 + n : 1 + lenOfLen(n) + n;
}

function listLen(payload: number): number {
  return payload <= 55 ? 1 + payload : 1 + lenOfLen(payload) + payload;
}

function writeLen(buf: Uint8Array, off: number, len: number, base: number): number {
  if (len <= 55) {
    buf[off] = base + len;
    return off + 1;
  }
  const ll = lenOfLen(len);
  buf[off++] = base + 55 + ll;
  for (let i = ll - 1; i >= 0; i--) buf[off++] = (len >>> (8 * i)) & 0xff;
  return off;
}

function writeStr(buf: Uint8Array, off: number, b: Uint8Array): number {
  if (b.length === 1 && b[0] < 0x80) {
    buf[off] = b[0];
    return off + 1;
  }
  off = writeLen(buf, off, b.length, 0x80);
  buf.set(b, off);
  return off + b.length;
}

// --- decoding (partial tries) --------------------------------------------------------------------

/** Decodes one node; hashed children stay `Ref`s, inline children are decoded (and encoded). */
function decodeNode(raw: Uint8Array | NestedUint8Array): Node {
  if (!Array.isArray(raw)) throw new InvalidTrieNodeError("trie node is not a list");
  let n: Node;
  if (raw.length === 17) {
    const b = new Branch(-1);
    for (let i = 0; i < 16; i++) b.children[i] = decodeChild(raw[i], true);
    const v = raw[16];
    if (!(v instanceof Uint8Array)) throw new InvalidTrieNodeError("branch value is not a string");
    b.value = v.length === 0 ? null : v;
    n = b;
  } else if (raw.length === 2) {
    const hp = raw[0];
    if (!(hp instanceof Uint8Array) || hp.length === 0) throw new InvalidTrieNodeError("bad node path");
    const flag = hp[0] >> 4;
    if (flag > 3) throw new InvalidTrieNodeError("bad hex-prefix flag");
    const odd = flag & 1;
    const path = new Uint8Array(hp.length * 2 - 2 + odd);
    let j = 0;
    if (odd) path[j++] = hp[0] & 15;
    for (let i = 1; i < hp.length; i++) {
      path[j++] = hp[i] >> 4;
      path[j++] = hp[i] & 15;
    }
    if (flag >= 2) {
      const v = raw[1];
      if (!(v instanceof Uint8Array) || v.length === 0) throw new InvalidTrieNodeError("bad leaf value");
      n = new Leaf(path, v, -1);
    } else {
      n = new Ext(path, decodeChild(raw[1], false)!, -1);
    }
  } else {
    throw new InvalidTrieNodeError(`trie node has ${raw.length} items`);
  }
  return n;
}

function decodeChild(raw: Uint8Array | NestedUint8Array, allowEmpty: boolean): Child | null {
  if (raw instanceof Uint8Array) {
    if (raw.length === 32) return new Ref(raw);
    if (raw.length === 0 && allowEmpty) return null;
    throw new InvalidTrieNodeError(`bad child reference of ${raw.length} bytes`);
  }
  const n = decodeNode(raw);
  n.enc = encodeNode(n);
  if (n.enc.length >= 32) throw new InvalidTrieNodeError("inline node of 32 bytes or more");
  return n;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
