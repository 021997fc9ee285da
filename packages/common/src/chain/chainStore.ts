import type { BlockHeader } from "@ethereumjs/block";
import { bytesToHex } from "@ethereumjs/util";
import { bigIntToBytes, hexToBytes } from "@ethereumjs/util";
import { decodeSignedMiniBlock } from "../codec/chainCodec.ts";
import type { ChainConfig } from "../config/chainConfig.ts";
import { keccak256 } from "../crypto/keccak.ts";
import { type BlockEnv, nextBaseFee } from "./blockHeader.ts";
import type { Log, Receipt, SignedMiniBlock } from "../types/chain.ts";
import type { ArchivedTxLocation, ChainArchive } from "./chainArchive.ts";

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

/**
 * What a block is to state reads and execution at it: its environment, header and hash, not its
 * transactions (which may not be in memory).
 */
export type BlockHead = Pick<
  ChainBlock,
  "number" | "timestamp" | "baseFee" | "gasLimit" | "coinbase" | "prevRandao" | "gasUsed" | "header" | "hash"
>;

/** A sealed block's head from its header. */
export function headOf(header: BlockHeader, hash: Uint8Array): BlockHead {
  return {
    number: header.number,
    timestamp: header.timestamp,
    baseFee: header.baseFeePerGas ?? 0n,
    gasLimit: header.gasLimit,
    coinbase: header.coinbase.bytes,
    prevRandao: header.mixHash,
    gasUsed: header.gasUsed,
    header,
    hash,
  };
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
  block: ChainBlock;
}

/** How the chain store keeps history in memory. */
export interface ChainStoreOptions {
  /**
   * Newest sealed blocks whose hash and header stay in memory (at least 257: BLOCKHASH reaches
   * 256 back), and the most whose transactions do; older blocks are read from `archive` once it
   * holds them. Without an archive everything stays in memory.
   */
  retain?: number;
  /**
   * Most transactions (with receipts) the sealed blocks in memory may hold together: at full
   * speed a block window of `retain` blocks would be millions. The newest sealed block stays
   * whatever its size.
   */
  retainTxs?: number;
  archive?: ChainArchive | null;
  /** The first block held in memory (default `base`): older ones are in the archive already. */
  first?: bigint;
  /** With `first` after `base`: the newest mini-block of the blocks before it. */
  before?: { number: bigint; hash: Uint8Array };
}

/** Fewest sealed blocks a chain store with an archive keeps in memory: BLOCKHASH reaches 256 back. */
export const MIN_RETAINED_BLOCKS = 257;
export const DEFAULT_RETAINED_BLOCKS = 512;
/** Transactions the sealed blocks in memory hold at most, by default (~40 MB of receipts). */
export const DEFAULT_RETAINED_TXS = 20_000;

/**
 * Archived blocks kept rebuilt, at most (and within the store's `retainTxs` transactions): the
 * receipts of one block's transactions, or a block and its parent, come in bursts, and rebuilding
 * a 5,000-transaction block from the archive takes ~100 ms of the execution thread.
 */
const REBUILT_BLOCKS = 4;

/** What stays in memory of a recent sealed block after its transactions leave. */
interface SealedRef {
  readonly hash: Uint8Array;
  /** Null only for a block sealed without one (tests that need hashes alone). */
  readonly header: BlockHeader | null;
}

/**
 * The chain as RPC and the network read it: the open block being filled by mini-blocks, the
 * newest sealed blocks in memory (with their transaction-hash, block-hash and mini-block
 * indexes), the hashes and headers of the last `retain` sealed blocks (BLOCKHASH, witnesses,
 * attestations), and, with an archive, everything older on disk. The synchronous lookups answer
 * from memory only (what execution, sealing and gossip need: recent blocks); the `get…` lookups
 * fall through to the archive. A block's transactions leave memory once the archive holds it
 * (`archived`) and it is older than `retain` blocks or the blocks after it hold `retainTxs`
 * transactions, so memory does not grow with the chain's length or its load.
 */
export class ChainStore {
  private blocks: ChainBlock[] = [];
  /** Number of `blocks[0]`. */
  private first: bigint;
  private readonly byHash = new Map<string, ChainBlock>();
  private readonly txs = new Map<string, TxEntry>();
  private readonly miniBlocks = new Map<bigint, MiniBlockRef>();
  private latestNumber = -1n;
  /** Highest block number any transaction or mini-block refers to (open or sealed). */
  private headNumber = -1n;
  /** Every block up to this one is in the archive. */
  private archivedThrough = -1n;
  /** The newest mini-block of the blocks no longer in memory. */
  private evictedLastMiniBlock: { number: bigint; hash: Uint8Array } = {
    number: 0n,
    hash: new Uint8Array(32),
  };
  private readonly retain: number;
  private readonly retainTxs: number;
  /** Transactions in `blocks`. */
  private heldTxs = 0;
  /** Hash and header of every sealed block of the last `retain`, oldest first. */
  private sealedRefs = new Map<bigint, SealedRef>();
  readonly archive: ChainArchive | null;
  /** The oldest block the node holds (memory or archive): its base, or where retention pruned to. */
  private oldestNumber: bigint;
  /** Archived blocks rebuilt lately (`REBUILT_BLOCKS`), least recently read first. */
  private readonly rebuilt = new Map<bigint, { block: Promise<ChainBlock | undefined>; txs: number }>();

  /** `base`: the first block held (0, or the block a full node joined at from a snapshot). */
  constructor(
    readonly base = 0n,
    opts: ChainStoreOptions = {},
  ) {
    this.first = opts.first ?? base;
    this.oldestNumber = base;
    this.archive = opts.archive ?? null;
    this.archivedThrough = this.first - 1n;
    if (opts.before !== undefined) this.evictedLastMiniBlock = opts.before;
    this.retain = Math.max(MIN_RETAINED_BLOCKS, opts.retain ?? DEFAULT_RETAINED_BLOCKS);
    this.retainTxs = opts.retainTxs ?? DEFAULT_RETAINED_TXS;
  }

  private at(n: bigint): ChainBlock | undefined {
    return n < this.first ? undefined : this.blocks[Number(n - this.first)];
  }

  /** The oldest block this node holds (`earliest`). */
  get oldest(): bigint {
    return this.oldestNumber;
  }

  /** Retention dropped the archived blocks below `n`. */
  prunedBelow(n: bigint): void {
    if (n > this.oldestNumber) this.oldestNumber = n;
  }

  /** Adds a block (genesis, or a newly opened one). */
  addBlock(b: ChainBlock): void {
    if (b.number !== this.first + BigInt(this.blocks.length))
      throw new Error(`block ${b.number} out of order`);
    this.blocks.push(b);
    // A block read back from the archive comes with its mini-blocks and transactions.
    for (const mb of b.miniBlocks) this.miniBlocks.set(mb.number, mb);
    for (const t of b.txs) this.txs.set(t.hashHex, t);
    this.heldTxs += b.txs.length;
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
    this.heldTxs += entries.length;
  }

  markSealed(b: ChainBlock): void {
    this.byHash.set(bytesToHex(b.hash!), b);
    if (b.number > this.latestNumber) this.latestNumber = b.number;
    this.sealedRefs.set(b.number, { hash: b.hash!, header: b.header });
    const keepFrom = this.latestNumber - BigInt(this.retain) + 1n;
    for (const n of this.sealedRefs.keys()) {
      if (n >= keepFrom) break;
      this.sealedRefs.delete(n);
    }
    this.evict();
  }

  /**
   * Reads the hashes and headers of the recent sealed blocks before the first one in memory from
   * the archive (a restart: BLOCKHASH, witnesses and attestations reach back `retain` blocks).
   */
  async loadSealedRefs(): Promise<void> {
    if (this.archive === null) return;
    const from = [this.latestNumber - BigInt(this.retain) + 1n, this.oldestNumber, 0n].reduce((a, b) =>
      a > b ? a : b,
    );
    const loaded = new Map<bigint, SealedRef>();
    for (let n = from; n < this.first; n++) {
      const seal = await this.archive.seal(n);
      if (seal !== undefined) loaded.set(n, { hash: seal.hash, header: this.archive.headerOf(seal) });
    }
    for (const [n, ref] of this.sealedRefs) loaded.set(n, ref);
    this.sealedRefs = loaded;
  }

  /** Every block through this one is in the archive. */
  get archivedBlock(): bigint {
    return this.archivedThrough;
  }

  /** The archive holds every block through `number`: older ones may leave memory. */
  archived(number: bigint): void {
    if (number > this.archivedThrough) this.archivedThrough = number;
    this.evict();
  }

  /**
   * Archived sealed blocks leave memory, oldest first, while they are older than the retained
   * window or the blocks in memory hold more than `retainTxs` transactions; the newest sealed
   * block (every open block's parent) stays.
   */
  private evict(): void {
    if (this.archive === null) return;
    const keepFrom = this.latestNumber - BigInt(this.retain) + 1n;
    let drop = 0;
    for (const b of this.blocks) {
      if (b.number >= this.latestNumber || b.number > this.archivedThrough || b.hash === null) break;
      if (b.number >= keepFrom && this.heldTxs <= this.retainTxs) break;
      this.byHash.delete(bytesToHex(b.hash));
      for (const t of b.txs) this.txs.delete(t.hashHex);
      for (const mb of b.miniBlocks) this.miniBlocks.delete(mb.number);
      this.heldTxs -= b.txs.length;
      const last = b.miniBlocks.at(-1);
      if (last !== undefined) this.evictedLastMiniBlock = { number: last.number, hash: last.hash };
      drop++;
    }
    if (drop === 0) return;
    this.blocks = this.blocks.slice(drop);
    this.first += BigInt(drop);
  }

  get latest(): ChainBlock {
    return this.at(this.latestNumber)!;
  }

  /** The newest block that has transactions or is open: the `pending` block. */
  get head(): ChainBlock {
    return this.blocks[this.blocks.length - 1]!;
  }

  /** The hash of sealed block `number` if it is one of the last `retain` (BLOCKHASH's reach). */
  sealedHash(number: bigint): Uint8Array | undefined {
    return this.sealedRefs.get(number)?.hash;
  }

  /** The header of sealed block `number` if it is one of the last `retain`. */
  sealedHeader(number: bigint): BlockHeader | undefined {
    return this.sealedRefs.get(number)?.header ?? undefined;
  }

  /** Transactions the blocks in memory hold (open ones included). */
  get txsInMemory(): number {
    return this.heldTxs;
  }

  /** A block in memory (the recent ones); see `getBlock` for any block. */
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

  // ---------- any block: memory, then the archive ----------

  /** Any block this node holds, open or sealed. */
  async getBlock(number: bigint): Promise<ChainBlock | undefined> {
    if (number < this.oldestNumber) return undefined;
    const b = this.at(number);
    if (b !== undefined || number >= this.first) return b;
    if (this.archive === null) return undefined;
    let entry = this.rebuilt.get(number);
    if (entry !== undefined) this.rebuilt.delete(number);
    else {
      const e = { block: this.archive.block(number), txs: 0 };
      entry = e;
      e.block.then(
        (blk) => {
          e.txs = blk?.txCount ?? 0;
          this.trimRebuilt();
        },
        () => this.rebuilt.get(number) === e && this.rebuilt.delete(number),
      );
    }
    this.rebuilt.set(number, entry);
    this.trimRebuilt();
    return (await entry.block) ?? undefined;
  }

  private trimRebuilt(): void {
    let txs = 0;
    for (const e of this.rebuilt.values()) txs += e.txs;
    for (const [n, e] of this.rebuilt) {
      if (this.rebuilt.size <= 1 || (this.rebuilt.size <= REBUILT_BLOCKS && txs <= this.retainTxs)) break;
      this.rebuilt.delete(n);
      txs -= e.txs;
    }
  }

  /** The hash of any sealed block this node holds, without reading its transactions. */
  async getSealedHash(number: bigint): Promise<Uint8Array | undefined> {
    if (number < this.oldestNumber || number > this.latestNumber) return undefined;
    const hash = this.sealedRefs.get(number)?.hash ?? this.at(number)?.hash;
    if (hash !== undefined && hash !== null) return hash;
    return (await this.archive?.seal(number))?.hash;
  }

  /**
   * Any block's head (open or sealed) without reading its transactions: from memory, the recent
   * headers, or the archive's seal.
   */
  async getBlockHead(number: bigint): Promise<BlockHead | undefined> {
    if (number < this.oldestNumber) return undefined;
    const b = this.at(number);
    if (b !== undefined) return b;
    const ref = this.sealedRefs.get(number);
    if (ref?.header != null) return headOf(ref.header, ref.hash);
    if (number >= this.first || this.archive === null) return undefined;
    const seal = await this.archive.seal(number);
    return seal === undefined ? undefined : headOf(this.archive.headerOf(seal), seal.hash);
  }

  async getBlockHeadByHash(hashHex: string): Promise<BlockHead | undefined> {
    const b = this.byHash.get(hashHex);
    if (b !== undefined) return b.number < this.oldestNumber ? undefined : b;
    if (this.archive === null) return undefined;
    const n = await this.archive.blockNumber(hashHex);
    return n === undefined ? undefined : this.getBlockHead(n);
  }

  async getSealedBlock(number: bigint): Promise<ChainBlock | undefined> {
    return number <= this.latestNumber ? this.getBlock(number) : undefined;
  }

  async getBlockByHash(hashHex: string): Promise<ChainBlock | undefined> {
    const b = this.byHash.get(hashHex);
    if (b !== undefined) return b.number < this.oldestNumber ? undefined : b;
    if (this.archive === null) return undefined;
    const n = await this.archive.blockNumber(hashHex);
    return n === undefined ? undefined : this.getBlock(n);
  }

  /**
   * A transaction and its block, for showing the transaction alone (a receipt, a transaction by
   * hash): an archived one comes with its block's header, hash and signature but not the block's
   * transactions, since only its own mini-block is read. Traces, which replay the block, use
   * `getTx`.
   */
  async findTx(hashHex: string): Promise<{ tx: TxEntry; block: ChainBlock } | undefined> {
    if (this.txs.has(hashHex) || this.archive === null) return this.getTx(hashHex);
    const loc = await this.archive.txLocation(hashHex);
    if (loc === undefined || loc.block < this.oldestNumber) return undefined;
    if (loc.miniBlock === undefined || this.rebuilt.has(loc.block) || loc.block >= this.first)
      return this.txInBlock(loc);
    return this.archive.txInMiniBlock({ ...loc, miniBlock: loc.miniBlock });
  }

  /** An included transaction and the block it is in. */
  async getTx(hashHex: string): Promise<{ tx: TxEntry; block: ChainBlock } | undefined> {
    const t = this.txs.get(hashHex);
    if (t !== undefined)
      return t.blockNumber < this.oldestNumber ? undefined : { tx: t, block: this.at(t.blockNumber)! };
    if (this.archive === null) return undefined;
    const loc = await this.archive.txLocation(hashHex);
    return loc === undefined ? undefined : this.txInBlock(loc);
  }

  /** An archived transaction, from its whole block. */
  private async txInBlock(loc: ArchivedTxLocation): Promise<{ tx: TxEntry; block: ChainBlock } | undefined> {
    const block = await this.getBlock(loc.block);
    const tx = block?.txs[loc.index];
    return tx === undefined || block === undefined ? undefined : { tx, block };
  }

  /** A signed mini-block's encoding, as gossiped. */
  async getMiniBlock(number: bigint): Promise<Uint8Array | undefined> {
    return this.miniBlocks.get(number)?.encoded ?? (await this.archive?.miniBlock(number));
  }

  /** The newest mini-block in blocks up to `number` (zero if none): where a joiner continues. */
  lastMiniBlockThrough(number: bigint): { number: bigint; hash: Uint8Array } {
    for (let n = number; n >= this.first; n--) {
      const last = this.at(n)?.miniBlocks.at(-1);
      if (last !== undefined) return { number: last.number, hash: last.hash };
    }
    return this.evictedLastMiniBlock;
  }

  /** Logs in a range of blocks, in order, skipping blocks and txs whose bloom cannot match. */
  async *logs(f: LogFilter): AsyncIterableIterator<LocatedLog> {
    const top = this.headNumber;
    const last = f.toBlock < top ? f.toBlock : top;
    const first = f.fromBlock > this.oldestNumber ? f.fromBlock : this.oldestNumber;
    for (let n = first; n <= last; n++) {
      let b = this.at(n);
      if (b === undefined) {
        // Archived: its header's bloom says whether reading the whole block can find anything.
        const h = await this.archive?.header(n);
        if (h === undefined || !bloomMayMatch(h.logsBloom, f)) continue;
        b = await this.archive!.block(n);
        if (b === undefined) continue;
      }
      for (const tx of b.txs) {
        let logIndex = tx.firstLogIndex;
        for (const log of tx.receipt.logs) {
          if (matches(log, f)) yield { log, tx, logIndex, block: b };
          logIndex++;
        }
      }
    }
  }
}

/** Whether a block's logs bloom admits a log matching `f` (no false negatives). */
function bloomMayMatch(bloom: Uint8Array, f: Pick<LogFilter, "addresses" | "topics">): boolean {
  if (f.addresses !== null && ![...f.addresses].some((a) => inBloom(bloom, hexToBytes(a as `0x${string}`))))
    return false;
  for (const want of f.topics) {
    if (want === null || want === undefined) continue;
    if (![...want].some((t) => inBloom(bloom, hexToBytes(t as `0x${string}`)))) return false;
  }
  return true;
}

function inBloom(bloom: Uint8Array, value: Uint8Array): boolean {
  const h = keccak256(value);
  for (let i = 0; i < 6; i += 2) {
    const bit = ((h[i]! << 8) | h[i + 1]!) & 2047;
    if ((bloom[256 - 1 - (bit >> 3)]! & (1 << (bit & 7))) === 0) return false;
  }
  return true;
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
