import { createBlockHeaderFromRLP } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  type MemoryState,
  type StateTrieHandle,
  decodeBlockSeal,
  keccak256,
  receiptBloom,
  openChainBlock,
} from "@staccato/common";
import type { LatestView } from "@staccato/common";
import { type ChainBlock, type ChainStore, type TxEntry, ZERO_BLOOM } from "@staccato/common";
import { type WalRecord, WalRecordType } from "./wal.ts";
import { decodeBlockOpen, decodeLoggedMiniBlock } from "./walCodec.ts";
import type { ProducerCursor } from "../sealing/blockProducer.ts";

export class RecoveryError extends Error {}

/** A block closed before the crash whose seal never reached the log. */
export interface UnfinishedSeal {
  block: ChainBlock;
  root: Promise<{ root: Uint8Array; ms: number }>;
}

/**
 * Rebuilds the chain from the write-ahead log by applying each mini-block's state diff (no
 * re-execution), feeding the state trie the same diffs and block boundaries as live operation, so
 * every sealed block's state root is checked again. Mini-blocks of blocks that were never sealed
 * come back with the same numbers, positions and receipts; those blocks are sealed normally.
 */
export async function replayWal(
  records: WalRecord[],
  deps: {
    common: Common;
    chain: ChainStore;
    state: MemoryState;
    trie: StateTrieHandle;
    latestView: LatestView;
  },
  cursor: ProducerCursor,
  /** State and trie already hold every block up to this one (genesis, or a snapshot's block). */
  appliedThrough: bigint,
): Promise<{ cursor: ProducerCursor; txs: number; unfinished: UnfinishedSeal[] }> {
  const { chain, state, trie, common } = deps;
  const sealed = new Set<bigint>();
  for (const r of records) {
    if (r.type !== WalRecordType.blockSeal) continue;
    const seal = decodeBlockSeal(r.payload);
    sealed.add(createBlockHeaderFromRLP(seal.header, { common, skipConsensusFormatValidation: true }).number);
  }
  const roots = new Map<bigint, Promise<{ root: Uint8Array; ms: number }>>();
  let txs = 0;
  let { miniBlockNumber, lastMiniBlockHash } = cursor;
  for (const r of records) {
    switch (r.type) {
      case WalRecordType.blockOpen: {
        const env = decodeBlockOpen(r.payload);
        const prev = chain.head;
        if (env.number !== prev.number + 1n) {
          throw new RecoveryError(`write-ahead log: block ${env.number} opened after block ${prev.number}`);
        }
        // The previous block closed here: its root covers exactly the diffs added so far.
        if (prev.number > appliedThrough) roots.set(prev.number, trie.commit());
        chain.addBlock(openChainBlock(env));
        break;
      }
      case WalRecordType.miniBlock: {
        const { mb, encoded, senders } = decodeLoggedMiniBlock(r.payload);
        const b = chain.head;
        if (
          mb.blockNumber !== b.number ||
          mb.number !== miniBlockNumber + 1n ||
          !equalsBytes(mb.parentHash, lastMiniBlockHash)
        ) {
          throw new RecoveryError(
            `write-ahead log: mini-block ${mb.number} does not follow ${miniBlockNumber}`,
          );
        }
        if (b.number > appliedThrough) {
          const unsealed = !sealed.has(b.number);
          state.applyDiff(mb.diff, unsealed);
          if (unsealed) deps.latestView.add(b.number, state.takeDiff().pre);
          trie.add(mb.diff);
        }
        let logIndex = mb.firstLogIndex;
        const entries: TxEntry[] = mb.txs.map((raw, j) => {
          const receipt = mb.receipts[j]!;
          const firstLogIndex = logIndex;
          logIndex += receipt.logs.length;
          return {
            hashHex: bytesToHex(keccak256(raw)),
            raw,
            sender: senders[j]!,
            type: raw[0]! <= 0x7f ? raw[0]! : 0,
            blockNumber: b.number,
            index: mb.firstTxIndex + j,
            miniBlockNumber: mb.number,
            receipt,
            firstLogIndex,
            bloom: receipt.logs.length === 0 ? ZERO_BLOOM : receiptBloom(receipt),
          };
        });
        b.gasUsed = mb.receipts.at(-1)?.cumulativeGasUsed ?? b.gasUsed;
        b.txCount += entries.length;
        b.miniBlockCount++;
        b.logCount = logIndex;
        chain.addMiniBlock(b, { number: mb.number, hash: mb.hash, encoded }, entries);
        miniBlockNumber = mb.number;
        lastMiniBlockHash = mb.hash;
        txs += entries.length;
        break;
      }
      case WalRecordType.blockSeal: {
        const seal = decodeBlockSeal(r.payload);
        const header = createBlockHeaderFromRLP(seal.header, { common, skipConsensusFormatValidation: true });
        const b = chain.block(header.number);
        const root = roots.get(header.number);
        if (b === undefined || b.hash !== null || (root === undefined && header.number > appliedThrough)) {
          throw new RecoveryError(`write-ahead log: unexpected seal of block ${header.number}`);
        }
        if (root !== undefined) {
          const computed = (await root).root;
          if (!equalsBytes(computed, header.stateRoot)) {
            throw new RecoveryError(
              `write-ahead log replay reached state root ${bytesToHex(computed)} for block ${header.number}, but its header says ${bytesToHex(header.stateRoot)}`,
            );
          }
          roots.delete(header.number);
        }
        b.header = header;
        b.hash = seal.hash;
        b.signature = seal.signature;
        chain.markSealed(b);
        deps.latestView.sealed(b.number);
        break;
      }
    }
  }
  const unfinished = [...roots].map(([n, root]) => ({ block: chain.block(n)!, root }));
  return { cursor: { miniBlockNumber, lastMiniBlockHash }, txs, unfinished };
}
