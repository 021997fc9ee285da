import type { BlockHead } from "../../chain/chainStore.ts";
import type { AnyStateReader } from "../../state/asyncState.ts";
import { emptyChangedKeys } from "../../state/stateHistory.ts";
import { type AccountProof, type StateRewind, TrieMovedError } from "../../trie/stateTrie.ts";
import { RpcError, RpcErrorCode } from "../errors.ts";
import { type ChainBackend, stateAt } from "./backend.ts";

/** A rewind touching more keys than this is refused (a proof far back on a busy chain). */
export const MAX_PROOF_REWIND_KEYS = 2_000_000;

/**
 * EIP-1186 proof at an older sealed block `b`: the keys every later block changed, read at `b`
 * from the node's state history (or archive), rewind the state trie's newest root to `b`'s, and
 * the proof is taken there. The trie checks the rewound root equals `b`'s state root, so a proof
 * is never against anything else. Cost grows with the changes since `b`, not with the state.
 */
export async function proofAtBlock(
  be: ChainBackend,
  b: BlockHead,
  address: Uint8Array,
  slots: Uint8Array[],
): Promise<AccountProof> {
  const { view } = await stateAt(be, { number: b.number });
  const to = b.header!.stateRoot;
  for (let attempt = 0; ; attempt++) {
    // The trie is at the newest sealed block's root once its seal has finished; a block sealed
    // while the rewind was read moves it on, and the rewind is read again.
    const latest = be.chain.latest;
    const rewind = await readRewind(be, b.number, view, latest.header!.stateRoot, to);
    try {
      return await be.trie.proofAt(address, slots, rewind);
    } catch (err) {
      if (!(err instanceof TrieMovedError) || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

async function readRewind(
  be: ChainBackend,
  n: bigint,
  view: AnyStateReader,
  from: Uint8Array,
  to: Uint8Array,
): Promise<StateRewind> {
  const keys = emptyChangedKeys();
  be.history.changedSince(n, keys);
  if (n < be.history.oldest && be.pastState !== undefined) {
    try {
      await be.pastState.changedSince(n, keys, MAX_PROOF_REWIND_KEYS);
    } catch (err) {
      throw new RpcError(
        RpcErrorCode.LimitExceeded,
        `eth_getProof at block ${n}: ${(err as Error).message}; ask for a newer block`,
      );
    }
  }
  const rewind: StateRewind = { from, to, accounts: [], storage: [] };
  const addresses = new Set([...keys.accounts, ...keys.slots.keys(), ...keys.wiped]);
  for (const a of addresses) {
    const acct = await view.account(a);
    rewind.accounts.push([a, acct === undefined ? null : acct]);
  }
  for (const [a, set] of keys.slots) {
    const values: [string, Uint8Array][] = [];
    for (const k of set) values.push([k, (await view.slot(a, k)) ?? new Uint8Array(0)]);
    rewind.storage.push([a, keys.wiped.has(a), values]);
  }
  for (const a of keys.wiped) if (!keys.slots.has(a)) rewind.storage.push([a, true, []]);
  return rewind;
}
