import { type BlockHeader, createBlockHeaderFromRLP } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { RLP } from "@ethereumjs/rlp";
import type { ClassicLevel } from "classic-level";
import { decodeBlockSeal, decodeSignedMiniBlock, encodeBlockSeal } from "../codec/chainCodec.ts";
import { type RlpItem, big, bytes, list, u } from "../codec/rlpUtil.ts";
import type { BlockSeal } from "../types/chain.ts";
import { type ChainBlock, type TxEntry, headOf } from "./chainStore.ts";
import { miniBlockEntries } from "./txEntries.ts";

/**
 * Sealed chain history on disk (LevelDB), what a node serves for blocks it no longer keeps in
 * memory. One-byte key prefixes (the full node keeps its state in the same database, under
 * other prefixes):
 *
 *   b ‖ u64 number     the block's seal: header, mini-block hashes, signature
 *   m ‖ u64 number     a signed mini-block, as gossiped (transactions, receipts, state diff)
 *   i ‖ u64 number     RLP [first mini-block number, senders: 20 bytes each, or empty,
 *                      1 if its mini-blocks are not held (the block a snapshot join started at)]
 *   H ‖ hash32         the number of the block with this hash
 *   T ‖ hash32         u64 block number ‖ u32 index ‖ u64 mini-block number of the transaction
 *                      with this hash (records written before the mini-block number have 12 bytes)
 *   W ‖ u64 number     the block's witness (the sequencer's: hash ‖ compressed witness)
 *
 * A block's records are written in one batch (`blockOps`), so a block is either wholly there or
 * not at all. Reading one rebuilds it from its seal and mini-blocks.
 */
/** Where an archived transaction is: its block, its index there, and (newer records) its mini-block. */
export interface ArchivedTxLocation {
  block: bigint;
  index: number;
  miniBlock: bigint | undefined;
}

export const ArchivePrefix = {
  seal: 0x62,
  miniBlock: 0x6d,
  blockIndex: 0x69,
  blockHash: 0x48,
  txHash: 0x54,
  /** The sequencer's block witnesses (deleted with their blocks). */
  witness: 0x57,
} as const;

export type ArchiveDb = ClassicLevel<Uint8Array, Uint8Array>;
export type ArchiveOp =
  | { type: "put"; key: Uint8Array; value: Uint8Array }
  | { type: "del"; key: Uint8Array };

export function archiveKey(prefix: number, ...parts: Uint8Array[]): Uint8Array {
  const len = parts.reduce((n, p) => n + p.length, 1);
  const out = new Uint8Array(len);
  out[0] = prefix;
  let off = 1;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function u64(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n);
  return out;
}

const readU64 = (b: Uint8Array, off = 0): bigint =>
  new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off);

const hashBytes = (hex: string): Uint8Array => Buffer.from(hex.slice(2), "hex");

/** What is known of a sealed block when it is written: its seal and where its mini-blocks start. */
export interface ArchivedBlock {
  block: ChainBlock;
  seal: BlockSeal;
  /** Write the mini-block encodings too (the full node stores them as it applies them). */
  withMiniBlocks: boolean;
  /** Store the transactions' senders (known to the sequencer; a follower recovers them on read). */
  withSenders: boolean;
  /** The number its first mini-block has, or (an empty block) the next mini-block will have. */
  firstMiniBlock: bigint;
  /** Its mini-blocks are not held: the block a node joined at from a state snapshot. */
  headerOnly?: boolean;
}

/** The genesis block as the archive holds it: its header and hash, no mini-blocks, no signature. */
export function genesisArchived(genesis: ChainBlock): ArchivedBlock {
  return {
    block: genesis,
    seal: {
      header: genesis.header!.serialize(),
      hash: genesis.hash!,
      miniBlockHashes: [],
      signature: new Uint8Array(65),
    },
    withMiniBlocks: false,
    withSenders: false,
    firstMiniBlock: 1n,
  };
}

/** The first block of a node that joined from a state snapshot: its seal, not its transactions. */
export function snapshotBaseArchived(
  header: BlockHeader,
  seal: BlockSeal,
  lastMiniBlock: bigint,
): ArchivedBlock {
  return {
    block: sealedChainBlock(header, seal.hash, seal.signature),
    seal,
    withMiniBlocks: false,
    withSenders: false,
    firstMiniBlock: lastMiniBlock + 1n - BigInt(seal.miniBlockHashes.length),
    headerOnly: true,
  };
}

export class ChainArchive {
  constructor(
    readonly db: ArchiveDb,
    private readonly common: Common,
  ) {}

  /** The batch that archives one sealed block (its seal, index records and, optionally, mini-blocks). */
  blockOps(a: ArchivedBlock): ArchiveOp[] {
    const b = a.block;
    const n = u64(b.number);
    const ops: ArchiveOp[] = [
      { type: "put", key: archiveKey(ArchivePrefix.seal, n), value: encodeBlockSeal(a.seal) },
      {
        type: "put",
        key: archiveKey(ArchivePrefix.blockIndex, n),
        value: RLP.encode([
          u(a.firstMiniBlock),
          a.withSenders ? Buffer.concat(b.txs.map((t) => t.sender)) : new Uint8Array(0),
          a.headerOnly === true ? Uint8Array.of(1) : new Uint8Array(0),
        ]),
      },
      { type: "put", key: archiveKey(ArchivePrefix.blockHash, a.seal.hash), value: n },
    ];
    for (const t of b.txs) {
      const loc = new Uint8Array(20);
      loc.set(n);
      const view = new DataView(loc.buffer);
      view.setUint32(8, t.index);
      view.setBigUint64(12, t.miniBlockNumber);
      ops.push({ type: "put", key: archiveKey(ArchivePrefix.txHash, hashBytes(t.hashHex)), value: loc });
    }
    if (a.withMiniBlocks) {
      for (const mb of b.miniBlocks)
        ops.push({
          type: "put",
          key: archiveKey(ArchivePrefix.miniBlock, u64(mb.number)),
          value: mb.encoded,
        });
    }
    return ops;
  }

  async seal(number: bigint): Promise<BlockSeal | undefined> {
    const raw = await this.db.get(archiveKey(ArchivePrefix.seal, u64(number)));
    return raw === undefined ? undefined : decodeBlockSeal(raw);
  }

  /** The header of an archived block (for a bloom check before reading the whole block). */
  async header(number: bigint): Promise<BlockHeader | undefined> {
    const s = await this.seal(number);
    return s === undefined ? undefined : this.headerOf(s);
  }

  /** An archived block, rebuilt from its seal and mini-blocks; undefined if it is not archived. */
  async block(number: bigint): Promise<ChainBlock | undefined> {
    const n = u64(number);
    const [sealRaw, indexRaw] = await this.db.getMany([
      archiveKey(ArchivePrefix.seal, n),
      archiveKey(ArchivePrefix.blockIndex, n),
    ]);
    if (sealRaw === undefined || indexRaw === undefined) return undefined;
    const seal = decodeBlockSeal(sealRaw);
    const [first, sendersRaw, headerOnly] = list(RLP.decode(indexRaw) as RlpItem, "block index", 3);
    const firstMb = big(first, "firstMiniBlock");
    const senders = bytes(sendersRaw, "senders");
    const b = sealedChainBlock(this.headerOf(seal), seal.hash, seal.signature);
    const count = seal.miniBlockHashes.length;
    if (count === 0 || bytes(headerOnly, "headerOnly").length > 0) return b;
    const encs = await this.db.getMany(
      Array.from({ length: count }, (_, i) => archiveKey(ArchivePrefix.miniBlock, u64(firstMb + BigInt(i)))),
    );
    for (const enc of encs) {
      if (enc === undefined) throw new Error(`archive: block ${number} is missing a mini-block`);
      const mb = decodeSignedMiniBlock(enc);
      const from = b.txs.length;
      const mbSenders =
        senders.length === 0
          ? undefined
          : Array.from({ length: mb.txs.length }, (_, i) =>
              senders.subarray((from + i) * 20, (from + i + 1) * 20),
            );
      const { entries, logIndex } = miniBlockEntries(mb, b.number, this.common, mbSenders);
      b.miniBlocks.push({ number: mb.number, hash: mb.hash, encoded: enc });
      b.txs.push(...entries);
      b.txCount += entries.length;
      b.miniBlockCount++;
      b.logCount = logIndex;
    }
    return b;
  }

  async blockNumber(hashHex: string): Promise<bigint | undefined> {
    const v = await this.db.get(archiveKey(ArchivePrefix.blockHash, hashBytes(hashHex)));
    return v === undefined ? undefined : readU64(v);
  }

  async txLocation(hashHex: string): Promise<ArchivedTxLocation | undefined> {
    const v = await this.db.get(archiveKey(ArchivePrefix.txHash, hashBytes(hashHex)));
    if (v === undefined) return undefined;
    const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
    return {
      block: readU64(v),
      index: view.getUint32(8),
      miniBlock: v.length >= 20 ? view.getBigUint64(12) : undefined,
    };
  }

  /**
   * An archived transaction and its block without the block's transactions (its header, hash and
   * signature: what a receipt or a transaction by hash shows of it), reading only the mini-block
   * that holds it: rebuilding a whole block costs ~100 ms for 5,000 transactions. Needs a location
   * with its mini-block number; undefined when the records are not there.
   */
  async txInMiniBlock(
    loc: ArchivedTxLocation & { miniBlock: bigint },
  ): Promise<{ tx: TxEntry; block: ChainBlock } | undefined> {
    const n = u64(loc.block);
    const [sealRaw, indexRaw, enc] = await this.db.getMany([
      archiveKey(ArchivePrefix.seal, n),
      archiveKey(ArchivePrefix.blockIndex, n),
      archiveKey(ArchivePrefix.miniBlock, u64(loc.miniBlock)),
    ]);
    if (sealRaw === undefined || indexRaw === undefined || enc === undefined) return undefined;
    const seal = decodeBlockSeal(sealRaw);
    const [, sendersRaw] = list(RLP.decode(indexRaw) as RlpItem, "block index", 3);
    const senders = bytes(sendersRaw, "senders");
    const mb = decodeSignedMiniBlock(enc);
    const at = loc.index - mb.firstTxIndex;
    if (mb.blockNumber !== loc.block || at < 0 || at >= mb.txs.length)
      throw new Error(`archive: transaction ${loc.block}/${loc.index} is not in mini-block ${loc.miniBlock}`);
    const mbSenders =
      senders.length === 0
        ? undefined
        : mb.txs.map((_, i) => senders.subarray((mb.firstTxIndex + i) * 20, (mb.firstTxIndex + i + 1) * 20));
    const { entries } = miniBlockEntries(mb, loc.block, this.common, mbSenders);
    return { tx: entries[at]!, block: sealedChainBlock(this.headerOf(seal), seal.hash, seal.signature) };
  }

  async miniBlock(number: bigint): Promise<Uint8Array | undefined> {
    return this.db.get(archiveKey(ArchivePrefix.miniBlock, u64(number)));
  }

  /**
   * The newest mini-block of the blocks before `number` (undefined: none), for a chain store
   * whose memory starts at `number`.
   */
  async lastMiniBlockBefore(number: bigint): Promise<{ number: bigint; hash: Uint8Array } | undefined> {
    const raw = await this.db.get(archiveKey(ArchivePrefix.blockIndex, u64(number)));
    if (raw === undefined) return undefined;
    const [first] = list(RLP.decode(raw) as RlpItem, "block index", 3);
    const before = big(first, "firstMiniBlock") - 1n;
    if (before < 1n) return undefined;
    const enc = await this.miniBlock(before);
    return enc === undefined ? undefined : { number: before, hash: decodeSignedMiniBlock(enc).hash };
  }

  /** The number block `number`'s first mini-block has (or the next one would have, if empty). */
  async firstMiniBlockOf(number: bigint): Promise<bigint | undefined> {
    const raw = await this.db.get(archiveKey(ArchivePrefix.blockIndex, u64(number)));
    if (raw === undefined) return undefined;
    const [first] = list(RLP.decode(raw) as RlpItem, "block index", 3);
    return big(first, "firstMiniBlock");
  }

  /**
   * Compacts the ranges `pruneOps` deleted below block `below` (whose first mini-block is
   * `firstMiniBlock`), so their space goes back to the file system now rather than whenever
   * LevelDB next compacts there. The mini-blocks are most of it; the hash indexes are scattered
   * and left to LevelDB.
   */
  async compactBelow(below: bigint, firstMiniBlock: bigint): Promise<void> {
    const n = u64(below);
    for (const [prefix, end] of [
      [ArchivePrefix.miniBlock, u64(firstMiniBlock)],
      [ArchivePrefix.seal, n],
      [ArchivePrefix.blockIndex, n],
      [ArchivePrefix.witness, n],
    ] as const)
      await this.db.compactRange(Uint8Array.of(prefix), archiveKey(prefix, end));
  }

  /** The newest archived block, or undefined when none is. */
  async lastBlock(): Promise<bigint | undefined> {
    for await (const k of this.db.keys({
      gte: Uint8Array.of(ArchivePrefix.seal),
      lt: Uint8Array.of(ArchivePrefix.seal + 1),
      reverse: true,
      limit: 1,
    }))
      return readU64(k, 1);
    return undefined;
  }

  /** The first archived block number at or after `from`, or undefined (no block archived there). */
  async firstBlock(from = 0n): Promise<bigint | undefined> {
    for await (const k of this.db.keys({
      gte: archiveKey(ArchivePrefix.seal, u64(from)),
      lt: Uint8Array.of(ArchivePrefix.seal + 1),
      limit: 1,
    }))
      return readU64(k, 1);
    return undefined;
  }

  /** The ops deleting every archived block below `below` (history retention). */
  async pruneOps(below: bigint, limit = 1_000): Promise<{ ops: ArchiveOp[]; next: bigint | undefined }> {
    const ops: ArchiveOp[] = [];
    let next: bigint | undefined;
    for await (const [k, v] of this.db.iterator({
      gte: Uint8Array.of(ArchivePrefix.seal),
      lt: archiveKey(ArchivePrefix.seal, u64(below)),
      limit,
    })) {
      const number = readU64(k, 1);
      next = number + 1n;
      const seal = decodeBlockSeal(v);
      const n = u64(number);
      ops.push({ type: "del", key: k });
      ops.push({ type: "del", key: archiveKey(ArchivePrefix.blockHash, seal.hash) });
      const b = await this.block(number);
      for (const t of b?.txs ?? [])
        ops.push({ type: "del", key: archiveKey(ArchivePrefix.txHash, hashBytes(t.hashHex)) });
      for (const mb of b?.miniBlocks ?? [])
        ops.push({ type: "del", key: archiveKey(ArchivePrefix.miniBlock, u64(mb.number)) });
      ops.push({ type: "del", key: archiveKey(ArchivePrefix.blockIndex, n) });
      ops.push({ type: "del", key: archiveKey(ArchivePrefix.witness, n) });
    }
    return { ops, next };
  }

  headerOf(seal: BlockSeal): BlockHeader {
    return createBlockHeaderFromRLP(seal.header, {
      common: this.common,
      skipConsensusFormatValidation: true,
    });
  }
}

/** A sealed block as the chain store holds it, from its header (transactions added by the caller). */
export function sealedChainBlock(header: BlockHeader, hash: Uint8Array, signature: Uint8Array): ChainBlock {
  return {
    ...headOf(header, hash),
    txs: [],
    miniBlocks: [],
    txCount: 0,
    miniBlockCount: 0,
    logCount: 0,
    signature,
  };
}
