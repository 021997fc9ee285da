import { type BlockHeader, createBlockHeaderFromRLP } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  type BlockSeal,
  type ChainBlock,
  type ChainConfig,
  type ChainEvents,
  type ChainStore,
  type StateHistory,
  type Logger,
  type MemoryState,
  type SignedMiniBlock,
  type StateDiff,
  type StateTrieHandle,
  miniBlockEntries,
  encodeConsensusReceipt,
  encodeSignedMiniBlock,
  mergeDiffs,
  orBlooms,
  orderedTrieRoot,
  nextBlockEnv,
  openChainBlock,
  ErrorCode,
  StaccatoError,
} from "@staccato/common";
import type { FullnodeMetrics } from "../node/metrics.ts";
import type { FullnodeStore } from "../store/fullnodeStore.ts";

/** Why a block did not verify. */
export type VerifiedField =
  | "stateRoot"
  | "transactionsRoot"
  | "receiptsRoot"
  | "logsBloom"
  | "gasUsed"
  | "miniBlocks"
  | "parentHash";

export class VerificationError extends StaccatoError<{ block: bigint; field: VerifiedField }> {
  constructor(block: bigint, field: VerifiedField, detail: string) {
    super(ErrorCode.Verification, `block ${block}: ${field} mismatch: ${detail}`, { block, field });
  }
}

export interface FollowerDeps {
  config: ChainConfig;
  common: Common;
  chain: ChainStore;
  state: MemoryState;
  history: StateHistory;
  trie: StateTrieHandle;
  store: FullnodeStore;
  events: ChainEvents;
  logger: Logger;
  metrics: FullnodeMetrics | null;
  /** A block failed verification: stop applying and re-sync from the last verified block. */
  onMismatch(err: VerificationError): void;
}

/**
 * Applies the sequencer's mini-blocks in order, without executing anything: each diff goes into
 * the in-memory state (served as `pending` at once) and the state trie. At each block seal it
 * checks the block's stateRoot against its own trie, and transactionsRoot, receiptsRoot,
 * logsBloom and gasUsed against what it received. Mini-blocks that arrive ahead are buffered.
 */
export class Follower {
  private applied: bigint;
  private lastHash: Uint8Array;
  /** The block whose diffs are accumulating in the trie (not yet committed). */
  private trieBlock: bigint;
  private readonly roots = new Map<bigint, Promise<{ root: Uint8Array; ms: number }>>();
  private readonly ahead = new Map<bigint, { mb: SignedMiniBlock; encoded: Uint8Array | undefined }>();
  private readonly seals = new Map<bigint, { seal: BlockSeal; header: BlockHeader }>();
  /** Per open block: the mini-block diffs applied so far. */
  private readonly blockDiffs = new Map<bigint, StateDiff[]>();
  /**
   * Per closed block: its diffs merged. The trie gets it in one message when the block closes
   * (its root is not needed sooner), and the store writes it once the block verifies.
   */
  private readonly mergedDiffs = new Map<bigint, StateDiff>();
  private verified: bigint;
  /** The next block whose seal is to be verified (verifications run in order). */
  private nextSeal: bigint;
  private verifying: Promise<void> = Promise.resolve();
  private halted = false;
  private readonly log: Logger;
  /** Newest mini-block and block numbers heard of (gossip, peers, DA), for lag and status. */
  highestMiniBlock = 0n;
  highestBlock = 0n;
  /**
   * Newest block known to be sealed: a seal, a DA pointer, or a mini-block of the next block (the
   * sequencer seals blocks in order). The block still open at the tip is not counted: a node that
   * has applied every mini-block of it is not behind, and `eth_syncing` says so.
   */
  highestSealedBlock = 0n;

  constructor(
    private readonly deps: FollowerDeps,
    from: { verifiedBlock: bigint; lastMiniBlockNumber: bigint; lastMiniBlockHash: Uint8Array },
  ) {
    this.applied = from.lastMiniBlockNumber;
    this.lastHash = from.lastMiniBlockHash;
    this.verified = from.verifiedBlock;
    this.trieBlock = from.verifiedBlock + 1n;
    this.nextSeal = from.verifiedBlock + 1n;
    this.log = deps.logger.child({ module: "follower" });
  }

  get appliedMiniBlock(): bigint {
    return this.applied;
  }

  get verifiedBlock(): bigint {
    return this.verified;
  }

  get isHalted(): boolean {
    return this.halted;
  }

  /** A validated mini-block, from gossip or a range request. Applied now, buffered, or ignored. */
  offerMiniBlock(mb: SignedMiniBlock, persist = true, encoded?: Uint8Array): void {
    if (mb.number > this.highestMiniBlock) this.highestMiniBlock = mb.number;
    if (mb.blockNumber > this.highestBlock) this.highestBlock = mb.blockNumber;
    if (mb.blockNumber - 1n > this.highestSealedBlock) this.highestSealedBlock = mb.blockNumber - 1n;
    if (this.halted || mb.number <= this.applied) return;
    if (mb.number > this.applied + 1n) {
      if (this.ahead.size < 100_000) this.ahead.set(mb.number, { mb, encoded });
      return;
    }
    this.apply(mb, persist, encoded);
    for (;;) {
      const next = this.ahead.get(this.applied + 1n);
      if (next === undefined) break;
      this.ahead.delete(next.mb.number);
      this.apply(next.mb, persist, next.encoded);
    }
    for (const n of this.ahead.keys()) if (n <= this.applied) this.ahead.delete(n);
    this.trySeals();
  }

  /** A validated block seal. Verified once all of its mini-blocks are applied. */
  offerBlock(seal: BlockSeal): void {
    const header = createBlockHeaderFromRLP(seal.header, {
      common: this.deps.common,
      skipConsensusFormatValidation: true,
    });
    this.heardOfSealedBlock(header.number);
    if (this.halted || header.number < this.nextSeal || this.seals.has(header.number)) return;
    this.seals.set(header.number, { seal, header });
    this.trySeals();
  }

  /** Block `n` is sealed (its seal, or the sequencer's DA pointer to it, was heard of). */
  heardOfSealedBlock(n: bigint): void {
    if (n > this.highestBlock) this.highestBlock = n;
    if (n > this.highestSealedBlock) this.highestSealedBlock = n;
  }

  /**
   * The first mini-block and block the node still needs, and whether it is behind: a mini-block
   * it has not applied, or a sealed block it has not verified, is known to exist.
   */
  wants(): { miniBlock: bigint; block: bigint; behind: boolean } {
    return {
      miniBlock: this.applied + 1n,
      block: this.nextSeal,
      behind: this.highestMiniBlock > this.applied || this.highestSealedBlock > this.verified,
    };
  }

  /**
   * Whether the seal of block `n` is in hand: verified, being verified, or held until its
   * mini-blocks arrive. Catch-up asks peers only for the others.
   */
  hasSeal(n: bigint): boolean {
    return n < this.nextSeal || this.seals.has(n);
  }

  /** Waits for the verifications in flight. */
  async settle(): Promise<void> {
    await this.verifying;
  }

  halt(): void {
    this.halted = true;
  }

  /**
   * Stops applying and hands the failure on (the node re-syncs from the last verified block);
   * the verifications already queued find the follower halted and do nothing.
   */
  private fail(err: VerificationError): void {
    this.halted = true;
    this.log.error(
      { block: Number(err.details.block), field: err.details.field, err: err.message },
      "BLOCK DOES NOT VERIFY: stopped applying",
    );
    this.deps.onMismatch(err);
  }

  /** `received`: the signed encoding as it came off the wire, when there is one (saves re-encoding). */
  private apply(mb: SignedMiniBlock, persist: boolean, received: Uint8Array | undefined): void {
    const { chain, state, history, store } = this.deps;
    if (!equalsBytes(mb.parentHash, this.lastHash)) {
      // Both are signed by the sequencer, so what was applied since the last verified block is
      // not the sequencer's chain (or the resume point the node started from is wrong): halting
      // here without a re-sync left the node stuck for good.
      this.log.error(
        {
          number: Number(mb.number),
          parentHash: bytesToHex(mb.parentHash),
          expected: bytesToHex(this.lastHash),
        },
        "mini-block does not extend the chain",
      );
      this.fail(
        new VerificationError(
          mb.blockNumber,
          "parentHash",
          `mini-block ${mb.number} extends ${bytesToHex(mb.parentHash)}, not mini-block ${this.applied} (${bytesToHex(this.lastHash)})`,
        ),
      );
      return;
    }
    if (mb.blockNumber <= this.verified) {
      // It extends the chain but belongs to a block already verified: the node joined from a
      // snapshot whose resume point is behind its block (a peer that would not serve the next
      // mini-block could not be caught at the join). The verified state already holds its diff,
      // so the node steps over it, still checking each link, and continues after it.
      this.log.warn(
        { number: Number(mb.number), block: Number(mb.blockNumber), verifiedBlock: Number(this.verified) },
        "stepped over a mini-block of a block already verified",
      );
      this.applied = mb.number;
      this.lastHash = mb.hash;
      return;
    }
    if (mb.blockNumber < this.trieBlock) {
      this.fail(
        new VerificationError(
          mb.blockNumber,
          "miniBlocks",
          `mini-block ${mb.number} belongs to block ${mb.blockNumber}, which a later block's mini-block already closed`,
        ),
      );
      return;
    }
    // Blocks before this mini-block's are closed: their roots cover exactly the diffs so far.
    this.closeThrough(mb.blockNumber - 1n);
    // Apply time, like the sequencer's execution time, ends before the durable write.
    const started = performance.now();
    const b = this.openBlock(mb.blockNumber, mb.blockTimestamp);
    state.applyDiff(mb.diff, true);
    history.add(b.number, state.takePreImage());
    let diffs = this.blockDiffs.get(b.number);
    if (diffs === undefined) {
      diffs = [];
      this.blockDiffs.set(b.number, diffs);
    }
    diffs.push(mb.diff);
    const encoded = received ?? encodeSignedMiniBlock(mb);
    const { entries, logIndex } = miniBlockEntries(mb, b.number, this.deps.common);
    b.gasUsed = mb.receipts.at(-1)?.cumulativeGasUsed ?? b.gasUsed;
    b.txCount += entries.length;
    b.miniBlockCount++;
    b.logCount = logIndex;
    chain.addMiniBlock(b, { number: mb.number, hash: mb.hash, encoded }, entries);
    this.applied = mb.number;
    this.lastHash = mb.hash;
    const appliedAt = performance.now();
    if (persist) {
      store
        .putMiniBlock(mb.number, encoded)
        .catch((err: unknown) => this.log.error({ err }, "could not store a mini-block"));
    }
    this.deps.metrics?.miniBlockApplied(
      entries.length,
      encoded.length,
      (appliedAt - started) / 1000,
      mb.timestampUs,
      (performance.now() - appliedAt) / 1000,
    );
    this.deps.events.emit("miniBlock", { block: b, miniBlock: mb, txs: entries });
  }

  /**
   * Opens blocks up to `number` (empty ones included) as the pending head; `timestamp` is block
   * `number`'s, as its mini-blocks carry it. The header (timestamp included) arrives with the
   * seal; until then, for a block whose timestamp no mini-block gave, the parent's stands in.
   */
  private openBlock(number: bigint, timestamp?: bigint): ChainBlock {
    const { chain, config } = this.deps;
    while (chain.head.number < number) {
      const parent = chain.head;
      const ts = chain.head.number + 1n === number && timestamp !== undefined ? timestamp : parent.timestamp;
      chain.addBlock(openChainBlock(nextBlockEnv(parent, config, ts)));
    }
    return chain.block(number)!;
  }

  /**
   * Closes every block up to `number` (its diffs are complete): merges its diffs, hands them to the
   * trie in one message and requests the root. Counted as apply time: it is the rest of applying
   * those mini-blocks' diffs.
   */
  private closeThrough(number: bigint): void {
    if (this.trieBlock > number) return;
    const started = performance.now();
    while (this.trieBlock <= number) {
      const n = this.trieBlock;
      const merged = mergeDiffs(this.blockDiffs.get(n) ?? []);
      this.blockDiffs.delete(n);
      this.mergedDiffs.set(n, merged);
      if (merged.length > 0) this.deps.trie.add(merged);
      this.roots.set(n, this.deps.trie.commit());
      this.trieBlock++;
    }
    this.deps.metrics?.blocksClosed((performance.now() - started) / 1000);
  }

  private trySeals(): void {
    for (;;) {
      const next = this.nextSeal;
      const s = this.seals.get(next);
      if (s === undefined) return;
      const count = s.seal.miniBlockHashes.length;
      const b = this.deps.chain.block(next);
      const have = b?.miniBlocks.length ?? 0;
      if (have < count) return; // its mini-blocks are still on their way
      this.openBlock(next);
      this.closeThrough(next);
      this.seals.delete(next);
      this.nextSeal++;
      const root = this.roots.get(next)!;
      this.roots.delete(next);
      this.verifying = this.verifying.then(() => this.verify(next, s.seal, s.header, root));
    }
  }

  private async verify(
    n: bigint,
    seal: BlockSeal,
    header: BlockHeader,
    rootP: Promise<{ root: Uint8Array; ms: number }>,
  ): Promise<void> {
    if (this.halted) return;
    const { chain, store } = this.deps;
    const b = chain.block(n)!;
    try {
      const { root } = await rootP;
      const started = performance.now();
      const parent = chain.block(n - 1n)!;
      check(n, "parentHash", parent.hash !== null && equalsBytes(header.parentHash, parent.hash), () =>
        bytesToHex(header.parentHash),
      );
      const mbHashes = b.miniBlocks.map((m) => bytesToHex(m.hash));
      check(
        n,
        "miniBlocks",
        sameList(mbHashes, seal.miniBlockHashes.map(bytesToHex)),
        () => `${mbHashes.length} applied`,
      );
      check(
        n,
        "stateRoot",
        equalsBytes(root, header.stateRoot),
        () => `own trie ${bytesToHex(root)}, header ${bytesToHex(header.stateRoot)}`,
      );
      const txRoot = orderedTrieRoot(b.txs.map((t) => t.raw));
      check(n, "transactionsRoot", equalsBytes(txRoot, header.transactionsTrie), () => bytesToHex(txRoot));
      const rcRoot = orderedTrieRoot(b.txs.map((t) => encodeConsensusReceipt(t.receipt, t.type, t.bloom)));
      check(n, "receiptsRoot", equalsBytes(rcRoot, header.receiptTrie), () => bytesToHex(rcRoot));
      const bloom = new Uint8Array(256);
      for (const t of b.txs) orBlooms(bloom, t.bloom);
      check(n, "logsBloom", equalsBytes(bloom, header.logsBloom), () => "differs");
      check(n, "gasUsed", b.gasUsed === header.gasUsed, () => `${b.gasUsed} vs ${header.gasUsed}`);
      this.deps.metrics?.verifySeconds.observe((performance.now() - started) / 1000);
    } catch (err) {
      if (err instanceof VerificationError) {
        this.fail(err);
        return;
      }
      throw err;
    }
    b.header = header;
    b.hash = seal.hash;
    b.signature = seal.signature;
    chain.markSealed(b);
    this.deps.history.sealed(n);
    const merged = this.mergedDiffs.get(n) ?? [];
    this.mergedDiffs.delete(n);
    const last = b.miniBlocks.at(-1);
    const prevMeta = await store.meta();
    const archived = {
      block: b,
      seal,
      withMiniBlocks: false, // stored as they were applied
      withSenders: false,
      firstMiniBlock: chain.lastMiniBlockThrough(n - 1n).number + 1n,
    };
    await store.putVerifiedBlock(
      archived,
      merged,
      {
        verifiedBlock: n,
        lastMiniBlockNumber: last?.number ?? prevMeta?.lastMiniBlockNumber ?? 0n,
        lastMiniBlockHash: last?.hash ?? prevMeta?.lastMiniBlockHash ?? new Uint8Array(32),
        baseBlock: prevMeta?.baseBlock ?? 0n,
      },
      this.deps.history.preImage(n),
    );
    chain.archived(n);
    this.deps.history.archived(n);
    this.verified = n;
    this.deps.metrics?.blockVerified(n);
    this.log.debug({ number: Number(n), txs: b.txs.length }, "verified block");
    this.deps.events.emit("block", b);
  }
}

function check(block: bigint, field: VerifiedField, ok: boolean, detail: () => string): void {
  if (!ok) throw new VerificationError(block, field, detail());
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
