import { RLP } from "@ethereumjs/rlp";
import { bytesToHex, equalsBytes, hexToBytes, unpadBytes } from "@ethereumjs/util";
import {
  type AccountRec,
  KECCAK256_NULL,
  KECCAK256_RLP,
  MemTrie,
  MissingStateError,
  type StateReader,
  decodeTrieAccount,
  keccak256,
} from "@staccato/common";

/**
 * The pre-state of one block as a prover sees it: read only from the witness (DESIGN §5). Trie
 * nodes resolve by hash under the parent's state root; anything the witness lacks throws
 * (`MissingTrieNodeError`, or `MissingStateError` for code): it is never read as empty state.
 */
export class WitnessState implements StateReader {
  private readonly accountTrie: MemTrie;
  private readonly accounts = new Map<string, { rec: AccountRec; storageRoot: Uint8Array } | null>();
  private readonly storage = new Map<string, MemTrie>();
  private readonly codes = new Map<string, Uint8Array>();

  constructor(
    preStateRoot: Uint8Array,
    private readonly db: Map<string, Uint8Array>,
    codes: readonly Uint8Array[],
  ) {
    this.accountTrie = MemTrie.fromNodeMap(preStateRoot, db, { secure: true });
    for (const c of codes) this.codes.set(bytesToHex(keccak256(c)), c);
  }

  private entry(addr: string): { rec: AccountRec; storageRoot: Uint8Array } | null {
    let e = this.accounts.get(addr);
    if (e !== undefined) return e;
    const raw = this.accountTrie.get(hexToBytes(addr as `0x${string}`));
    if (raw === undefined) e = null;
    else {
      const a = decodeTrieAccount(raw);
      e = { rec: { nonce: a.nonce, balance: a.balance, codeHash: a.codeHash }, storageRoot: a.storageRoot };
    }
    this.accounts.set(addr, e);
    return e;
  }

  account(addr: string): AccountRec | undefined {
    return this.entry(addr)?.rec;
  }

  code(addr: string): Uint8Array | undefined {
    const e = this.entry(addr);
    if (e === null || equalsBytes(e.rec.codeHash, KECCAK256_NULL)) return undefined;
    const h = bytesToHex(e.rec.codeHash);
    const c = this.codes.get(h);
    if (c === undefined) throw new MissingStateError(`missing code ${h} of ${addr}`, h);
    return c;
  }

  slot(addr: string, key: string): Uint8Array | undefined {
    const e = this.entry(addr);
    if (e === null || equalsBytes(e.storageRoot, KECCAK256_RLP)) return undefined;
    let st = this.storage.get(addr);
    if (st === undefined) {
      st = MemTrie.fromNodeMap(e.storageRoot, this.db, { secure: true });
      this.storage.set(addr, st);
    }
    const raw = st.get(hexToBytes(key as `0x${string}`));
    if (raw === undefined) return undefined;
    const v = unpadBytes(RLP.decode(raw) as Uint8Array);
    return v.length === 0 ? undefined : v;
  }

  slots(): ReadonlyMap<string, Uint8Array> | undefined {
    throw new Error("a witness holds only the slots the block read, not whole storages");
  }

  hasStorage(addr: string): boolean {
    const e = this.entry(addr);
    return e !== null && !equalsBytes(e.storageRoot, KECCAK256_RLP);
  }
}

/**
 * How many witness nodes are not reachable from `root` through the account trie and the storage
 * tries its accounts point to. An honest witness has none: every node is a pre-state node.
 */
export function unreachableNodes(root: Uint8Array, db: Map<string, Uint8Array>): number {
  return db.size - reachableNodes(root, db).size;
}

/** The hashes (hex, no 0x) of the witness nodes reachable from `root`. */
export function reachableNodes(root: Uint8Array, db: Map<string, Uint8Array>): Set<string> {
  const visited = new Set<string>();
  const stack: [hash: string, storage: boolean][] = [[bytesToHex(root).slice(2), false]];
  const walk = (node: unknown, storage: boolean): void => {
    if (!Array.isArray(node)) return;
    if (node.length === 17) {
      for (let i = 0; i < 16; i++) child(node[i], storage);
      return;
    }
    if (node.length !== 2) return;
    const path = node[0] as Uint8Array;
    const isLeaf = path.length > 0 && path[0]! >> 4 >= 2;
    if (!isLeaf) {
      child(node[1], storage);
      return;
    }
    if (storage) return;
    try {
      const acct = RLP.decode(node[1] as Uint8Array) as Uint8Array[];
      const sr = acct[2];
      if (sr instanceof Uint8Array && sr.length === 32 && !equalsBytes(sr, KECCAK256_RLP))
        stack.push([bytesToHex(sr).slice(2), true]);
    } catch {
      // not an account leaf: nothing below it
    }
  };
  const child = (c: unknown, storage: boolean): void => {
    if (c instanceof Uint8Array) {
      if (c.length === 32) stack.push([bytesToHex(c).slice(2), storage]);
    } else if (Array.isArray(c)) walk(c, storage);
  };
  while (stack.length > 0) {
    const [h, storage] = stack.pop()!;
    if (visited.has(h)) continue;
    const enc = db.get(h);
    if (enc === undefined) continue;
    visited.add(h);
    walk(RLP.decode(enc), storage);
  }
  return visited;
}
