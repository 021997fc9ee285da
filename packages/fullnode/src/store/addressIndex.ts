import { RLP } from "@ethereumjs/rlp";
import { bigIntToBytes, bytesToHex, concatBytes, hexToBytes, setLengthLeft } from "@ethereumjs/util";
import {
  type AddressIndex,
  type ChainBlock,
  DIFF_FLAG_CREATED,
  type IndexPage,
  type Logger,
  type RlpItem,
  type TxLoc,
  big,
  decodeSignedMiniBlock,
  list,
  parseTx,
  u,
} from "@staccato/common";
import type { Common } from "@ethereumjs/common";
import type { ClassicLevel } from "classic-level";

/**
 * The full node's address index for Otterscan's searches, in the node's LevelDB under its own
 * one-byte prefix `o` (0x6f; fullnodeStore.ts uses h m b a c s):
 *
 *   o 00                              the newest block indexed (u64)
 *   o 01 ‖ address ‖ u64 block ‖ u32 i   transaction i of the block involves the address (empty value)
 *   o 02 ‖ address                    the contract was created in that block: RLP [block, first, last]
 *                                     (the transactions of the mini-block whose diff created it)
 *   o 03 ‖ sender ‖ u64 nonce          RLP [block, i]: the transaction the sender sent with that nonce
 *
 * A transaction "involves" an address when the address is its sender or recipient, the contract
 * it created, a log's emitter, or a log topic holding an address (ERC-20/721 Transfer's from and
 * to…); and, when its mini-block held no other transaction, every account whose state that
 * mini-block changed (internal value transfers, contracts written to, created or destroyed
 * through internal calls), except the coinbase's fee credit. A full node applies state diffs and
 * never executes, so an account only read, or only touched in a mini-block shared with other
 * transactions, without a log naming it, is not found by the search (Erigon indexes every call
 * frame because it executes every block). Blocks are indexed once verified; the index catches up
 * at start from the last block it indexed.
 */
const P = 0x6f;
const K_HEAD = Uint8Array.of(P, 0);
const T_ADDR = 1;
const T_CREATED = 2;
const T_NONCE = 3;

const u64 = (n: bigint): Uint8Array => setLengthLeft(bigIntToBytes(n), 8);
const u32 = (n: number): Uint8Array => Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
const cat = concatBytes;
const addr = (hex: string): Uint8Array => hexToBytes(hex as `0x${string}`);
const readU64 = (b: Uint8Array, off: number): bigint => BigInt(bytesToHex(b.subarray(off, off + 8)));
const readU32 = (b: Uint8Array, off: number): number =>
  ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;

type Batch = { type: "put"; key: Uint8Array; value: Uint8Array };

export class FullnodeAddressIndex implements AddressIndex {
  constructor(
    private readonly db: ClassicLevel<Uint8Array, Uint8Array>,
    private readonly common: Common,
    private readonly log: Logger,
  ) {}

  /** The newest block indexed, or null before the first. */
  async head(): Promise<bigint | null> {
    const v = await this.db.get(K_HEAD);
    return v === undefined ? null : readU64(v, 0);
  }

  /** Indexes a verified block (idempotent: indexing a block again writes the same keys). */
  async addBlock(b: ChainBlock): Promise<void> {
    const ops: Batch[] = [];
    const empty = new Uint8Array(0);
    const coinbase = bytesToHex(b.coinbase);
    const put = (key: Uint8Array, value: Uint8Array = empty) => ops.push({ type: "put", key, value });
    const involve = (a: string, i: number) =>
      put(cat(Uint8Array.of(P, T_ADDR), addr(a), u64(b.number), u32(i)));
    for (const t of b.txs) {
      const seen = new Set<string>();
      const add = (a: string) => {
        if (!seen.has(a)) {
          seen.add(a);
          involve(a, t.index);
        }
      };
      const tx = parseTx(t.raw, this.common);
      const sender = bytesToHex(t.sender);
      add(sender);
      if (tx.to !== undefined) add(tx.to.toString());
      if (t.receipt.contractAddress !== null) {
        const c = bytesToHex(t.receipt.contractAddress);
        add(c);
        put(
          cat(Uint8Array.of(P, T_CREATED), t.receipt.contractAddress),
          RLP.encode([u(b.number), u(BigInt(t.index)), u(BigInt(t.index))]),
        );
      }
      for (const l of t.receipt.logs) {
        add(bytesToHex(l.address));
        for (const topic of l.topics) if (isAddressWord(topic)) add(bytesToHex(topic.subarray(12)));
      }
      put(
        cat(Uint8Array.of(P, T_NONCE), t.sender, u64(tx.nonce)),
        RLP.encode([u(b.number), u(BigInt(t.index))]),
      );
    }
    // State diffs: contracts created through internal calls, and (one-transaction mini-blocks)
    // every account the transaction changed.
    for (const ref of b.miniBlocks) {
      const mb = decodeSignedMiniBlock(ref.encoded);
      const first = mb.firstTxIndex;
      const last = first + mb.txs.length - 1;
      if (mb.txs.length === 0) continue;
      for (const d of mb.diff) {
        const a = bytesToHex(d.address);
        if ((d.flags & DIFF_FLAG_CREATED) !== 0 && d.code !== undefined && d.code.length > 0) {
          const key = cat(Uint8Array.of(P, T_CREATED), d.address);
          const own = b.txs[first]?.receipt.contractAddress;
          if (!(mb.txs.length === 1 && own != null && bytesToHex(own) === a))
            put(key, RLP.encode([u(b.number), u(BigInt(first)), u(BigInt(last))]));
        }
        if (mb.txs.length === 1 && a !== coinbase) involve(a, first);
      }
    }
    put(K_HEAD, u64(b.number));
    await this.db.batch(ops);
  }

  /** Indexes the verified blocks after the last one indexed (at start). */
  async catchUp(
    blocks: (n: bigint) => Promise<ChainBlock | undefined>,
    verified: bigint,
    base: bigint,
  ): Promise<void> {
    const head = await this.head();
    let n = head === null ? base : head + 1n;
    const from = n;
    for (; n <= verified; n++) {
      const b = await blocks(n);
      if (b === undefined || b.hash === null) break;
      await this.addBlock(b);
    }
    if (n > from) this.log.info({ from: Number(from), to: Number(n - 1n) }, "indexed address history");
  }

  async before(address: string, block: bigint | null, pageSize: number): Promise<IndexPage> {
    const prefix = cat(Uint8Array.of(P, T_ADDR), addr(address));
    const upper = block === null ? cat(prefix, new Uint8Array(12).fill(0xff)) : cat(prefix, u64(block));
    return this.page(this.db.keys({ gte: prefix, lt: upper, reverse: true }), pageSize, prefix.length);
  }

  async after(address: string, block: bigint, pageSize: number): Promise<IndexPage> {
    const prefix = cat(Uint8Array.of(P, T_ADDR), addr(address));
    return this.page(
      this.db.keys({ gte: cat(prefix, u64(block + 1n)), lt: cat(prefix, new Uint8Array(12).fill(0xff)) }),
      pageSize,
      prefix.length,
    );
  }

  /** At least `pageSize` locations, completing the last block, and whether more follow. */
  private async page(keys: AsyncIterable<Uint8Array>, pageSize: number, off: number): Promise<IndexPage> {
    const locs: TxLoc[] = [];
    for await (const k of keys) {
      const loc = { block: readU64(k, off), index: readU32(k, off + 8) };
      if (locs.length >= pageSize && loc.block !== locs[locs.length - 1]!.block) return { locs, more: true };
      locs.push(loc);
    }
    return { locs, more: false };
  }

  async bySenderAndNonce(sender: string, nonce: bigint): Promise<TxLoc | undefined> {
    const v = await this.db.get(cat(Uint8Array.of(P, T_NONCE), addr(sender), u64(nonce)));
    if (v === undefined) return undefined;
    const [b, i] = list(RLP.decode(v) as RlpItem, "nonce index", 2);
    return { block: big(b, "block"), index: Number(big(i, "index")) };
  }

  async creation(address: string): Promise<{ block: bigint; first: number; last: number } | undefined> {
    const v = await this.db.get(cat(Uint8Array.of(P, T_CREATED), addr(address)));
    if (v === undefined) return undefined;
    const [b, f, l] = list(RLP.decode(v) as RlpItem, "creation index", 3);
    return { block: big(b, "block"), first: Number(big(f, "first")), last: Number(big(l, "last")) };
  }
}

/**
 * A 32-byte topic that holds an address: 12 zero bytes, then an address whose first 4 bytes are
 * not all zero (so small numbers, which topics also hold, are not taken for addresses).
 */
function isAddressWord(t: Uint8Array): boolean {
  if (t.length !== 32) return false;
  for (let i = 0; i < 12; i++) if (t[i] !== 0) return false;
  return t[12] !== 0 || t[13] !== 0 || t[14] !== 0 || t[15] !== 0;
}
