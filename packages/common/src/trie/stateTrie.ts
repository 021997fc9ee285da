import { RLP } from "@ethereumjs/rlp";
import { bigIntToUnpaddedBytes, bytesToHex } from "@ethereumjs/util";
import { KECCAK256_NULL, KECCAK256_RLP, keccak256 } from "../crypto/keccak.ts";
import { MemTrie } from "./memTrie.ts";
import { DIFF_FLAG_CREATED, DIFF_FLAG_DELETED, type StateDiff, mergeDiffs } from "../state/stateDiff.ts";

interface TrieAccount {
  nonce: bigint;
  balance: bigint;
  codeHash: Uint8Array;
  storageRoot: Uint8Array;
}

export interface AccountProof {
  /** The state root the proof is against. */
  root: Uint8Array;
  address: Uint8Array;
  nonce: bigint;
  balance: bigint;
  codeHash: Uint8Array;
  storageHash: Uint8Array;
  accountProof: Uint8Array[];
  storageProof: { key: Uint8Array; value: Uint8Array; proof: Uint8Array[] }[];
}

const newTrie = () => new MemTrie({ secure: true });

export function encodeTrieAccount(a: TrieAccount): Uint8Array {
  return RLP.encode([
    bigIntToUnpaddedBytes(a.nonce),
    bigIntToUnpaddedBytes(a.balance),
    a.storageRoot,
    a.codeHash,
  ]);
}

/**
 * The Merkle-Patricia state trie, fed by state diffs. Diffs accumulate between commits; `commit()`
 * writes every account and slot the block dirtied in one pass and returns the new state root,
 * so the root is paid for once per block, not per mini-block (DESIGN §1).
 */
export class StateTrie {
  private readonly accounts = new Map<string, TrieAccount>();
  private readonly accountTrie = newTrie();
  private readonly storageTries = new Map<string, MemTrie>();
  private pendingParts: StateDiff[] = [];

  /** Queues a diff for the next commit. */
  add(diff: StateDiff): void {
    this.pendingParts.push(diff);
  }

  /** Applies every queued diff to the tries and returns the state root. */
  async commit(): Promise<Uint8Array> {
    const merged = mergeDiffs(this.pendingParts);
    this.pendingParts = [];
    for (const d of merged) {
      const addr = bytesToHex(d.address);
      if ((d.flags & DIFF_FLAG_DELETED) !== 0) {
        this.accounts.delete(addr);
        this.storageTries.delete(addr);
        this.accountTrie.del(d.address);
        continue;
      }
      const created = (d.flags & DIFF_FLAG_CREATED) !== 0;
      let acct = created ? undefined : this.accounts.get(addr);
      if (created) this.storageTries.delete(addr);
      acct = {
        nonce: d.nonce ?? acct?.nonce ?? 0n,
        balance: d.balance ?? acct?.balance ?? 0n,
        codeHash:
          d.code !== undefined
            ? d.code.length === 0
              ? KECCAK256_NULL
              : keccak256(d.code)
            : (acct?.codeHash ?? KECCAK256_NULL),
        storageRoot: acct?.storageRoot ?? KECCAK256_RLP,
      };
      if (d.storage.length > 0) {
        let st = this.storageTries.get(addr);
        if (st === undefined) {
          st = newTrie();
          this.storageTries.set(addr, st);
        }
        for (const [key, value] of d.storage) {
          if (value.length === 0) st.del(key);
          else st.put(key, RLP.encode(value));
        }
        acct.storageRoot = st.root();
      }
      this.accounts.set(addr, acct);
      this.accountTrie.put(d.address, encodeTrieAccount(acct));
    }
    return this.accountTrie.root();
  }

  root(): Uint8Array {
    return this.accountTrie.root();
  }

  /** EIP-1186 proof against the last committed root. */
  async proof(address: Uint8Array, slots: Uint8Array[]): Promise<AccountProof> {
    const addr = bytesToHex(address);
    const acct = this.accounts.get(addr);
    const accountProof = this.accountTrie.proof(address);
    const st = this.storageTries.get(addr);
    const storageProof = [];
    for (const key of slots) {
      if (st === undefined) {
        storageProof.push({ key, value: new Uint8Array(0), proof: [] });
        continue;
      }
      const raw = st.get(key);
      const value = raw === undefined ? new Uint8Array(0) : (RLP.decode(raw) as Uint8Array);
      storageProof.push({ key, value, proof: st.proof(key) });
    }
    return {
      root: this.accountTrie.root(),
      address,
      nonce: acct?.nonce ?? 0n,
      balance: acct?.balance ?? 0n,
      codeHash: acct?.codeHash ?? KECCAK256_NULL,
      storageHash: acct?.storageRoot ?? KECCAK256_RLP,
      accountProof,
      storageProof,
    };
  }
}
