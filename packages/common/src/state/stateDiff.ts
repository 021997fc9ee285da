import { hexOf } from "../util/hex.ts";

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
  // Each account's slots are kept in a map while merging and listed once at the end: rebuilding
  // the list at every later diff made an account written in every mini-block (a token contract)
  // cost the square of its mini-blocks.
  const byAddr = new Map<
    string,
    { diff: AccountDiff; slots: Map<string, [Uint8Array, Uint8Array]> | null }
  >();
  for (const diff of diffs) {
    for (const d of diff) {
      const key = hexOf(d.address);
      const prev = byAddr.get(key);
      if (prev === undefined || (d.flags & (DIFF_FLAG_CREATED | DIFF_FLAG_DELETED)) !== 0) {
        // A delete or a re-creation supersedes everything before it. A creation after a delete
        // stays a creation.
        byAddr.set(key, { diff: { ...d }, slots: null });
        continue;
      }
      const acc = prev.diff;
      if ((acc.flags & DIFF_FLAG_DELETED) !== 0) {
        // Updating a deleted account re-creates it from empty (its zero slots are dropped below).
        byAddr.set(key, { diff: { ...d, flags: DIFF_FLAG_CREATED }, slots: null });
        continue;
      }
      if (d.nonce !== undefined) acc.nonce = d.nonce;
      if (d.balance !== undefined) acc.balance = d.balance;
      if (d.code !== undefined) acc.code = d.code;
      if (d.storage.length > 0) {
        if (prev.slots === null) {
          prev.slots = new Map();
          for (const s of acc.storage) prev.slots.set(hexOf(s[0]), s);
        }
        for (const s of d.storage) prev.slots.set(hexOf(s[0]), s);
      }
    }
  }
  const merged: StateDiff = [];
  for (const { diff, slots } of byAddr.values()) {
    if (slots !== null) diff.storage = [...slots.values()];
    // A created account lists only its non-zero slots.
    if ((diff.flags & DIFF_FLAG_CREATED) !== 0 && diff.storage.some(([, v]) => v.length === 0))
      diff.storage = diff.storage.filter(([, v]) => v.length > 0);
    merged.push(diff);
  }
  return merged;
}
