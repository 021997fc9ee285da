import { bytesToHex } from "@ethereumjs/util";
import {
  type BlockReads,
  type ChainBlock,
  type ChainStore,
  type MemoryState,
  encodeWitness,
  witnessHash,
} from "@staccato/common";

/**
 * A sealed block's witness (DESIGN §3) from its read set and the trie nodes its root computation
 * recorded: the nodes, the code of every contract that ran, and the headers from the oldest block
 * BLOCKHASH asked for (within its 256-block window) to the parent.
 */
export function buildBlockWitness(
  chain: ChainStore,
  state: MemoryState,
  b: ChainBlock,
  reads: BlockReads,
  nodes: Uint8Array[],
): { encoded: Uint8Array; hash: Uint8Array } {
  let from = b.number - 1n;
  for (const n of reads.blockHashes) if (n < from && n >= b.number - 256n && n >= 0n) from = n;
  const headers: Uint8Array[] = [];
  for (let n = from; n < b.number; n++) {
    const h = chain.sealedHeader(n);
    if (h !== undefined) headers.push(h.serialize());
  }
  // Codes captured at read time; addresses read before a restart (logged without their code)
  // take the code the state holds now, which is the same for any contract that existed before.
  const codes = new Map(reads.codes);
  for (const a of reads.codeAddrs) {
    const acct = state.account(a);
    if (acct === undefined) continue;
    const h = bytesToHex(acct.codeHash);
    if (codes.has(h)) continue;
    const c = state.code(a);
    if (c !== undefined) codes.set(h, c);
  }
  const encoded = encodeWitness({ nodes, codes: [...codes.values()], headers });
  return { encoded, hash: witnessHash(encoded) };
}
