import type { BlockHeader } from "@ethereumjs/block";
import { bytesToHex } from "@ethereumjs/util";
import { bigIntToBytes, hexToBytes } from "@ethereumjs/util";
import { decodeSignedMiniBlock } from "../codec/chainCodec.ts";
import type { ChainConfig } from "../config/chainConfig.ts";
import { keccak256 } from "../crypto/keccak.ts";
import { type BlockEnv, nextBaseFee } from "./blockHeader.ts";
import type { Log, Receipt, SignedMiniBlock } from "../types/chain.ts";

/**
 * One included transaction and everything RPC needs to describe it. History lives in memory, so
 * entries stay lean: no parsed transaction, and a shared all-zero bloom for log-less receipts.
 */
export interface TxEntry {
  readonly hashHex: string;
  readonly raw: Uint8Array;
  readonly sender: Uint8Array;
  readonly type: number;
  readonly blockNumber: bigint;
  readonly index: number;
  readonly miniBlockNumber: bigint;
  readonly receipt: Receipt;
  /** Index in the block of this transaction's first log. */
  readonly firstLogIndex: number;
  readonly bloom: Uint8Array;
}

/** A mini-block kept in history: its encoding (what peers are served) rather than an object graph. */
export interface MiniBlockRef {
  readonly number: bigint;
  readonly hash: Uint8Array;
  readonly encoded: Uint8Array;
}

/** A block in the making or sealed. Transactions, receipts and positions never change once added. */
export interface ChainBlock {
  readonly number: bigint;
  readonly timestamp: bigint;
  readonly baseFee: bigint;
  readonly gasLimit: bigint;
  readonly coinbase: Uint8Array;
  readonly prevRandao: Uint8Array;
  readonly txs: TxEntry[];
  /** Published (in the log, receipts served) mini-blocks and their transactions. */
  readonly miniBlocks: MiniBlockRef[];
  /** Execution cursor: counts include mini-blocks still being written to the log. */
  gasUsed: bigint;
  txCount: number;
  miniBlockCount: number;
  logCount: number;
  /** Set when sealed. */
  header: BlockHeader | null;
  hash: Uint8Array | null;
  signature: Uint8Array | null;
}

export interface LogFilter {
  fromBlock: bigint;
  toBlock: bigint;
  addresses: Set<string> | null;
  /** Per position: null = any, else one of the given topics (lower-case hex). */
  topics: (Set<string> | null)[];
}

/** A log with its position, as eth_getLogs returns it. */
export interface LocatedLog {
  log: Log;
  tx: TxEntry;
  logIndex: number;
  blockHash: Uint8Array | null;
}

/**
 * The sequencer's chain in memory: sealed blocks by number and hash, the open block being filled
 * by mini-blocks, and the index from transaction hash to its entry. The write-ahead log makes it
 * durable; this is what RPC reads.
 */
export class ChainStore {
  private readonly blocks: ChainBlock[] = [];
  private readonly byHash = new Map<string, ChainBlock>();
  private readonly txs = new Map<string, TxEntry>();
  private readonly miniBlocks = new Map<bigint, MiniBlockRef>();
  private latestNumber = -1n;

  /** `base`: the first block held (0, or the block a full node joined at from a snapshot). */
  constructor(readonly base = 0n) {}

  private at(n: bigint): ChainBlock | undefined {
    return n < this.base ? undefined : this.blocks[Number(n - this.base)];
  }
  /** Highest block number any transaction or mini-block refers to (open or sealed). */
  private headNumber = -1n;

  /** Adds a block (genesis, or a newly opened one). */
  addBlock(b: ChainBlock): void {
    if (b.number !== this.base + BigInt(this.blocks.length))
      throw new Error(`block ${b.number} out of order`);
    this.blocks.push(b);
    if (b.number > this.headNumber) this.headNumber = b.number;
    if (b.hash !== null) this.markSealed(b);
  }

  /** Records a mini-block's transactions; their receipts are served from now on. */
  addMiniBlock(b: ChainBlock, mb: MiniBlockRef, entries: TxEntry[]): void {
    b.miniBlocks.push(mb);
    this.miniBlocks.set(mb.number, mb);
    for (const e of entries) {
      b.txs.push(e);
      this.txs.set(e.hashHex, e);
    }
  }

  markSealed(b: ChainBlock): void {
    this.byHash.set(bytesToHex(b.hash!), b);
    if (b.number > this.latestNumber) this.latestNumber = b.number;
  }

  get latest(): ChainBlock {
    return this.at(this.latestNumber)!;
  }

  /** The newest block that has transactions or is open: the `pending` block. */
  get head(): ChainBlock {
    return this.blocks[this.blocks.length - 1]!;
  }

  block(number: bigint): ChainBlock | undefined {
    return this.at(number);
  }

  sealedBlock(number: bigint): ChainBlock | undefined {
    return number <= this.latestNumber ? this.at(number) : undefined;
  }

  blockByHash(hashHex: string): ChainBlock | undefined {
    return this.byHash.get(hashHex);
  }

  tx(hashHex: string): TxEntry | undefined {
    return this.txs.get(hashHex);
  }

  hasTx(hashHex: string): boolean {
    return this.txs.has(hashHex);
  }

  miniBlockRef(number: bigint): MiniBlockRef | undefined {
    return this.miniBlocks.get(number);
  }

  miniBlock(number: bigint): SignedMiniBlock | undefined {
    const ref = this.miniBlocks.get(number);
    return ref === undefined ? undefined : decodeSignedMiniBlock(ref.encoded);
  }

  /** The newest mini-block in blocks up to `number` (zero if none): where a joiner continues. */
  lastMiniBlockThrough(number: bigint): { number: bigint; hash: Uint8Array } {
    for (let n = number; n >= this.base; n--) {
      const last = this.at(n)?.miniBlocks.at(-1);
      if (last !== undefined) return { number: last.number, hash: last.hash };
    }
    return { number: 0n, hash: new Uint8Array(32) };
  }

  get blockCount(): number {
    return this.blocks.length;
  }

  /** Logs in a range of blocks, in order, skipping blocks and txs whose bloom cannot match. */
  *logs(f: LogFilter): IterableIterator<LocatedLog> {
    const top = this.base + BigInt(this.blocks.length - 1);
    const last = f.toBlock < top ? f.toBlock : top;
    const first = f.fromBlock > this.base ? f.fromBlock : this.base;
    for (let n = first; n <= last; n++) {
      const b = this.at(n)!;
      for (const tx of b.txs) {
        let logIndex = tx.firstLogIndex;
        for (const log of tx.receipt.logs) {
          if (matches(log, f)) yield { log, tx, logIndex, blockHash: b.hash };
          logIndex++;
        }
      }
    }
  }
}

export function matches(log: Log, f: Pick<LogFilter, "addresses" | "topics">): boolean {
  if (f.addresses !== null && !f.addresses.has(bytesToHex(log.address))) return false;
  for (let i = 0; i < f.topics.length; i++) {
    const want = f.topics[i];
    if (want === null || want === undefined) continue;
    const t = log.topics[i];
    if (t === undefined || !want.has(bytesToHex(t))) return false;
  }
  return true;
}

/** The bloom of a receipt without logs, shared by all of them. */
export const ZERO_BLOOM = new Uint8Array(256);

/** A block with nothing in it yet (the sequencer opening it, or a full node seeing it begin). */
export function openChainBlock(env: BlockEnv): ChainBlock {
  return {
    ...env,
    txs: [],
    miniBlocks: [],
    gasUsed: 0n,
    txCount: 0,
    miniBlockCount: 0,
    logCount: 0,
    header: null,
    hash: null,
    signature: null,
  };
}

/**
 * The environment of the block after `parent`: EIP-1559 base fee from the parent's gas, the
 * sequencer as coinbase, and a PREVRANDAO derived from the number (deterministic; this chain has
 * no beacon randomness, so contracts must not use it as a source of randomness).
 */
export function nextBlockEnv(parent: ChainBlock, config: ChainConfig, timestamp: bigint): BlockEnv {
  const number = parent.number + 1n;
  return {
    number,
    timestamp,
    baseFee: nextBaseFee(
      { baseFee: parent.baseFee, gasUsed: parent.gasUsed, gasLimit: parent.gasLimit },
      config.baseFee,
    ),
    gasLimit: config.blockGasLimit,
    coinbase: hexToBytes(config.sequencer as `0x${string}`),
    prevRandao: keccak256(bigIntToBytes(number)),
  };
}
