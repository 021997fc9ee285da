import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The full node's Prometheus metrics (`staccato_fullnode_*`). */
export class FullnodeMetrics {
  readonly miniBlocks: Counter;
  readonly txs: Counter;
  readonly blocksVerified: Counter;
  readonly verifiedBlock: Gauge;
  readonly lagBlocks: Gauge;
  readonly lagMs: Histogram;
  readonly diffBytes: Counter;
  readonly applySeconds: Histogram;
  readonly blockCloseSeconds: Counter;
  readonly storeWriteSeconds: Counter;
  readonly verifySeconds: Histogram;
  readonly peers: Gauge;
  readonly mismatches: Counter;
  readonly sealsFetched: Counter;
  readonly gossipRejected: Counter<"topic" | "check">;
  readonly daBlocks: Counter;
  readonly daBytes: Counter;
  readonly daFailures: Counter<"kind">;
  readonly daReads: Counter<"kind">;
  readonly daHead: Gauge;

  constructor(registry: Registry) {
    const r = [registry];
    this.miniBlocks = new Counter({
      name: "staccato_fullnode_mini_blocks_applied_total",
      help: "Mini-blocks applied",
      registers: r,
    });
    this.txs = new Counter({
      name: "staccato_fullnode_txs_applied_total",
      help: "Transactions applied (diffs, not executed)",
      registers: r,
    });
    this.blocksVerified = new Counter({
      name: "staccato_fullnode_blocks_verified_total",
      help: "Blocks whose roots matched",
      registers: r,
    });
    this.verifiedBlock = new Gauge({
      name: "staccato_fullnode_verified_block",
      help: "Newest verified block",
      registers: r,
    });
    this.lagBlocks = new Gauge({
      name: "staccato_fullnode_lag_blocks",
      help: "Blocks behind the newest block heard of",
      registers: r,
    });
    this.lagMs = new Histogram({
      name: "staccato_fullnode_lag_seconds",
      help: "From the sequencer's seal of a mini-block (its timestamp) to its application here",
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5],
      registers: r,
    });
    this.diffBytes = new Counter({
      name: "staccato_fullnode_mini_block_bytes_total",
      help: "Encoded mini-block bytes applied",
      registers: r,
    });
    this.applySeconds = new Histogram({
      name: "staccato_fullnode_apply_seconds",
      help: "Time to apply one mini-block (state, latest view, chain entries), before its store write",
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05],
      registers: r,
    });
    this.blockCloseSeconds = new Counter({
      name: "staccato_fullnode_block_close_seconds_total",
      help: "Time closing blocks' diffs (merging them, handing them to the state trie): the rest of applying them",
      registers: r,
    });
    this.storeWriteSeconds = new Counter({
      name: "staccato_fullnode_store_write_seconds_total",
      help: "Time issuing each applied mini-block's write to the store (the write itself runs off the main thread)",
      registers: r,
    });
    this.verifySeconds = new Histogram({
      name: "staccato_fullnode_verify_seconds",
      help: "Main-thread time checking one block (transactions and receipts roots, logs bloom, gas, mini-blocks), not waiting for its state root or the store",
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
      registers: r,
    });
    this.peers = new Gauge({ name: "staccato_fullnode_peers", help: "Connected libp2p peers", registers: r });
    this.mismatches = new Counter({
      name: "staccato_fullnode_root_mismatches_total",
      help: "Blocks that did not verify",
      registers: r,
    });
    this.sealsFetched = new Counter({
      name: "staccato_fullnode_seals_fetched_total",
      help: "Block seals fetched by block-by-number request: blocks gossip did not bring (catching up)",
      registers: r,
    });
    this.gossipRejected = new Counter({
      name: "staccato_fullnode_gossip_rejected_total",
      help: "Gossip messages rejected, by topic and failed check",
      labelNames: ["topic", "check"],
      registers: r,
    });
    this.daBlocks = new Counter({
      name: "staccato_fullnode_da_blocks_total",
      help: "Blocks read from DA and handed to the follower (no peer served them)",
      registers: r,
    });
    this.daBytes = new Counter({
      name: "staccato_fullnode_da_bytes_total",
      help: "Bundle bytes read from DA",
      registers: r,
    });
    this.daReads = new Counter({
      name: "staccato_fullnode_da_reads_total",
      help: "Blobs read from the DA store, by kind: bundle (one block's), index (where a span of bundles is)",
      labelNames: ["kind"],
      registers: r,
    });
    this.daFailures = new Counter({
      name: "staccato_fullnode_da_failures_total",
      help: "DA reads that failed, by kind: unavailable, not-found, corrupt (refused), other",
      labelNames: ["kind"],
      registers: r,
    });
    this.daHead = new Gauge({
      name: "staccato_fullnode_da_head_block",
      help: "Newest block the sequencer's DA pointers heard of name",
      registers: r,
    });
  }

  miniBlockApplied(
    txs: number,
    bytes: number,
    seconds: number,
    sealedAtUs: bigint,
    storeSeconds: number,
  ): void {
    this.miniBlocks.inc();
    this.txs.inc(txs);
    this.diffBytes.inc(bytes);
    this.applySeconds.observe(seconds);
    this.storeWriteSeconds.inc(storeSeconds);
    const lag = (performance.timeOrigin + performance.now()) / 1000 - Number(sealedAtUs) / 1e6;
    if (lag >= 0 && lag < 3600) this.lagMs.observe(lag);
  }

  blocksClosed(seconds: number): void {
    this.blockCloseSeconds.inc(seconds);
  }

  blockVerified(n: bigint): void {
    this.blocksVerified.inc();
    this.verifiedBlock.set(Number(n));
  }
}
