/**
 * A mini-block's state diff: for each touched account, only what changed.
 * - `DIFF_FLAG_DELETED`: the account (with its code and storage) is gone; nothing else is set.
 * - `DIFF_FLAG_CREATED`: the account starts from empty (new, or its storage was wiped); every
 *   non-zero field and slot is listed.
 * - otherwise: only changed fields; `storage` lists changed slots, an empty value meaning zero.
 */
export interface AccountDiff {
  address: Uint8Array;
  flags: number;
  nonce?: bigint;
  balance?: bigint;
  /** Present when the code changed (empty = code removed). */
  code?: Uint8Array;
  /** [32-byte slot, unpadded value]. */
  storage: [Uint8Array, Uint8Array][];
}

export type StateDiff = AccountDiff[];

export const DIFF_FLAG_CREATED = 1;
export const DIFF_FLAG_DELETED = 2;

/**
 * Folds `next` into `acc` (both in mini-block order) so that applying the result equals applying
 * both: the block-level diff a trie update needs.
 */
export function mergeDiffs(diffs: readonly StateDiff[]): StateDiff {
  const byAddr = new Map<string, AccountDiff>();
  for (const diff of diffs) {
    for (const d of diff) {
      const key = Buffer.from(d.address).toString("hex");
      const prev = byAddr.get(key);
      if (prev === undefined || (d.flags & (DIFF_FLAG_CREATED | DIFF_FLAG_DELETED)) !== 0) {
        // A delete or a re-creation supersedes everything before it. A creation after a delete
        // stays a creation.
        byAddr.set(key, { ...d, storage: [...d.storage] });
        continue;
      }
      if ((prev.flags & DIFF_FLAG_DELETED) !== 0) {
        // Updating a deleted account re-creates it from empty.
        byAddr.set(key, {
          ...d,
          flags: DIFF_FLAG_CREATED,
          storage: d.storage.filter(([, v]) => v.length > 0),
        });
        continue;
      }
      if (d.nonce !== undefined) prev.nonce = d.nonce;
      if (d.balance !== undefined) prev.balance = d.balance;
      if (d.code !== undefined) prev.code = d.code;
      if (d.storage.length > 0) {
        const slots = new Map(
          prev.storage.map(([k, v]) => [Buffer.from(k).toString("hex"), [k, v] as [Uint8Array, Uint8Array]]),
        );
        for (const [k, v] of d.storage) slots.set(Buffer.from(k).toString("hex"), [k, v]);
        prev.storage = [...slots.values()];
        if ((prev.flags & DIFF_FLAG_CREATED) !== 0)
          prev.storage = prev.storage.filter(([, v]) => v.length > 0);
      }
    }
  }
  return [...byAddr.values()];
}
