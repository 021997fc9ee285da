/** Where a transaction is: its block and its index in the block. */
export interface TxLoc {
  block: bigint;
  index: number;
}

/** A page of an address's transactions: whole blocks, newest first, and whether older/newer ones remain. */
export interface IndexPage {
  locs: TxLoc[];
  /** More matching transactions exist past this page (in the direction searched). */
  more: boolean;
}

/**
 * The address history Otterscan's search methods need, kept by full nodes in their store
 * (fullnode/src/store/addressIndex.ts). Which transactions an address "appears in": see there.
 */
export interface AddressIndex {
  /** Transactions of blocks before `block` (all blocks when null), newest first, at least `pageSize` unless fewer exist, whole blocks. */
  before(address: string, block: bigint | null, pageSize: number): Promise<IndexPage>;
  /** Transactions of blocks after `block`, oldest first, at least `pageSize` unless fewer exist, whole blocks. */
  after(address: string, block: bigint, pageSize: number): Promise<IndexPage>;
  /** The transaction `sender` sent with `nonce`. */
  bySenderAndNonce(sender: string, nonce: bigint): Promise<TxLoc | undefined>;
  /**
   * Where contract `address` was created: the transactions of the mini-block whose state diff
   * created it (one transaction unless several shared that mini-block; the caller traces them).
   */
  creation(address: string): Promise<{ block: bigint; first: number; last: number } | undefined>;
}
