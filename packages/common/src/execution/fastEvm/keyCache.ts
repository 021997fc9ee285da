import { keccak256 } from "../../crypto/keccak.ts";
import { addrKey, slotKey, toBig } from "./words.ts";

/** A storage slot's `MemoryState` key and its warm-set key (address + slot key). */
export interface SlotKeys {
  readonly key: string;
  readonly joined: string;
}

/**
 * Kept keys, all slot keys together, before the cache starts over. At ~300 bytes an entry (the
 * word and two strings) this bounds it to ~15 MB however many slots a node meets in its life.
 */
const MAX_SLOT_KEYS = 50_000;
const MAX_ADDR_KEYS = 10_000;
/** Kept 64-byte hashes (~250 bytes each: the input as a string and the word). */
const MAX_HASHES = 50_000;
/**
 * Hashes of fresh inputs (a loop hashing its own output) never come back, and keeping them costs
 * more than it saves: ~1.3 µs a hash in all (the input as a string, the entry, the GC of entries
 * that outlive a scavenge), which made a compute-heavy call 50 % slower. So the cache watches its
 * hit rate over `HASH_SAMPLE` lookups, and below `HASH_MIN_HITS` it only hashes for the next
 * `HASH_PAUSE` (~3 % of such hashes still pay the lookup).
 */
const HASH_SAMPLE = 256;
const HASH_MIN_HITS = 64;
const HASH_PAUSE = 8192;

/**
 * The hex keys of storage slots and addresses, made once and kept by their word, and the hashes
 * that locate mapping entries. Building a key from a stack word (bigint to hex, padded, joined to
 * the address) and hashing the new string costs ~650 ns a lookup; a kept key is the same string,
 * already hashed, for ~50 ns. Hot contracts touch the same slots (balances, reserves) transaction
 * after transaction. One per `FastVm`; everything kept is a pure function of its inputs, so no
 * state change can make an entry stale.
 */
export class KeyCache {
  private readonly byAddress = new Map<string, Map<bigint, SlotKeys>>();
  private slotCount = 0;
  private readonly addrs = new Map<bigint, string>();
  private readonly hashes = new Map<string, bigint>();
  private hashLookups = 0;
  private hashHits = 0;
  /** Hashes still to compute without the cache (its hit rate was low). */
  private hashPaused = 0;

  /** The slot keys of one account, for a frame to keep while it runs. */
  slotsOf(address: string): Map<bigint, SlotKeys> {
    let m = this.byAddress.get(address);
    if (m === undefined) {
      m = new Map();
      this.byAddress.set(address, m);
    }
    return m;
  }

  /** The keys of slot `v` of the account whose slot keys `m` are (from `slotsOf(address)`). */
  slot(m: Map<bigint, SlotKeys>, address: string, v: bigint): SlotKeys {
    let k = m.get(v);
    if (k === undefined) {
      if (this.slotCount >= MAX_SLOT_KEYS) this.clearSlots();
      const key = slotKey(v);
      k = { key, joined: address + key };
      m.set(v, k);
      this.slotCount++;
    }
    return k;
  }

  /** The address key of a stack word (its low 160 bits). */
  addr(v: bigint): string {
    let a = this.addrs.get(v);
    if (a === undefined) {
      if (this.addrs.size >= MAX_ADDR_KEYS) this.addrs.clear();
      a = addrKey(v);
      this.addrs.set(v, a);
    }
    return a;
  }

  /**
   * KECCAK256 of the 64 bytes of memory at `off`, as a word: how Solidity finds a mapping's slot
   * (`keccak256(key . slot)`), and the same balances and allowances are looked up transaction
   * after transaction. Hashing costs ~0.9 µs with the conversion; a kept result ~0.15 µs.
   */
  hash64(mem: Buffer, off: number): bigint {
    if (this.hashPaused > 0) {
      this.hashPaused--;
      return toBig(keccak256(mem.subarray(off, off + 64)));
    }
    const input = mem.toString("latin1", off, off + 64);
    let h = this.hashes.get(input);
    if (h === undefined) {
      if (this.hashes.size >= MAX_HASHES) this.hashes.clear();
      h = toBig(keccak256(mem.subarray(off, off + 64)));
      this.hashes.set(input, h);
    } else this.hashHits++;
    if (++this.hashLookups === HASH_SAMPLE) {
      if (this.hashHits < HASH_MIN_HITS) this.hashPaused = HASH_PAUSE;
      this.hashLookups = 0;
      this.hashHits = 0;
    }
    return h;
  }

  /** How many hash results are kept now. */
  get keptHashes(): number {
    return this.hashes.size;
  }

  /** Starts over. A map a running frame still holds stays correct: a key depends only on its address and word. */
  private clearSlots(): void {
    this.byAddress.clear();
    this.slotCount = 0;
  }
}
