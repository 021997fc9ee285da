import { createBlockHeaderFromRLP } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  type BlockReads,
  type CommitResult,
  type MemoryState,
  mergeReads,
  newBlockReads,
  toWitnessReads,
  type StateTrieHandle,
  decodeBlockSeal,
  keccak256,
  receiptBloom,
  openChainBlock,
  ErrorCode,
  StaccatoError,
} from "@staccato/common";
import type { StateHistory } from "@staccato/common";
import { type ChainBlock, type ChainStore, type TxEntry, ZERO_BLOOM } from "@staccato/common";
import { type WalRecord, WalRecordType } from "./wal.ts";
import { decodeBlockOpen, decodeLoggedMiniBlock } from "./walCodec.ts";
import type { ProducerCursor } from "../sealing/blockProducer.ts";

export class RecoveryError extends StaccatoError {
  constructor(message: string) {
    super(ErrorCode.Recovery, message, undefined);
  }
}

/** A block closed before the crash whose seal never reached the log. */
export interface UnfinishedSeal {
  block: ChainBlock;
  root: Promise<CommitResult>;
  /** What its logged mini-blocks read (null if the log predates read sets). */
  reads: BlockReads | null;
}

/** A sealed block whose witness was lost (the crash came between its seal and the witness write). */
export interface RecoveredWitness {
  block: ChainBlock;
  reads: BlockReads;
  nodes: Uint8Array[];
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
    history: StateHistory;
  },
  cursor: ProducerCursor,
  /** State and trie already hold every block up to this one (genesis, or a snapshot's block). */
  appliedThrough: bigint,
  /** Whether a block still needs its witness recorded (none stored yet). */
  needsWitness: (n: bigint) => boolean = () => false,
): Promise<{
  cursor: ProducerCursor;
  txs: number;
  unfinished: UnfinishedSeal[];
  headReads: BlockReads | null;
  witnesses: RecoveredWitness[];
}> {
  const { chain, state, trie, common } = deps;
  const sealed = new Set<bigint>();
  for (const r of records) {
    if (r.type !== WalRecordType.blockSeal) continue;
    const seal = decodeBlockSeal(r.payload);
    sealed.add(createBlockHeaderFromRLP(seal.header, { common, skipConsensusFormatValidation: true }).number);
  }
  const roots = new Map<bigint, Promise<CommitResult>>();
  // Read sets of the blocks whose witness is still to be recorded; null once a record lacks one.
  const reads = new Map<bigint, BlockReads | null>();
  const witnesses: RecoveredWitness[] = [];
  const wantsReads = (n: bigint) => n > appliedThrough && (!sealed.has(n) || needsWitness(n));
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
        if (prev.number > appliedThrough) {
          const r = reads.get(prev.number) ?? null;
          roots.set(prev.number, trie.commit(r === null ? undefined : toWitnessReads(r)));
        }
        chain.addBlock(openChainBlock(env));
        // A block that ends with no mini-block read nothing: its witness is still owed.
        if (wantsReads(env.number)) reads.set(env.number, newBlockReads());
        break;
      }
      case WalRecordType.miniBlock: {
        const { mb, encoded, senders, reads: mbReads } = decodeLoggedMiniBlock(r.payload);
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
        const acc = reads.get(b.number);
        if (acc !== undefined && acc !== null) {
          if (mbReads === null) reads.set(b.number, null);
          else mergeReads(acc, mbReads);
        }
        if (b.number > appliedThrough) {
          const unsealed = !sealed.has(b.number);
          state.applyDiff(mb.diff, unsealed);
          if (unsealed) deps.history.add(b.number, state.takePreImage());
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
        // A block opened in a deleted segment and sealed in this one: it came from the history
        // store, sealed already.
        if (b !== undefined && b.hash !== null && equalsBytes(b.hash, seal.hash)) break;
        const root = roots.get(header.number);
        if (b === undefined || b.hash !== null || (root === undefined && header.number > appliedThrough)) {
          throw new RecoveryError(`write-ahead log: unexpected seal of block ${header.number}`);
        }
        if (root !== undefined) {
          const result = await root;
          const computed = result.root;
          if (!equalsBytes(computed, header.stateRoot)) {
            throw new RecoveryError(
              `write-ahead log replay reached state root ${bytesToHex(computed)} for block ${header.number}, but its header says ${bytesToHex(header.stateRoot)}`,
            );
          }
          roots.delete(header.number);
          const r = reads.get(header.number);
          if (r !== undefined && r !== null && result.witness !== undefined)
            witnesses.push({ block: b, reads: r, nodes: result.witness });
          reads.delete(header.number);
        }
        b.header = header;
        b.hash = seal.hash;
        b.signature = seal.signature;
        chain.markSealed(b);
        deps.history.sealed(b.number);
        break;
      }
    }
  }
  const unfinished = [...roots].map(([n, root]) => ({
    block: chain.block(n)!,
    root,
    reads: reads.get(n) ?? null,
  }));
  const head = chain.head;
  const headReads =
    head.hash === null && head.number > appliedThrough ? (reads.get(head.number) ?? null) : null;
  return { cursor: { miniBlockNumber, lastMiniBlockHash }, txs, unfinished, headReads, witnesses };
}
