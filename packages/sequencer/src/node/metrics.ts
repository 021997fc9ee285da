import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The sequencer's Prometheus metrics (`staccato_<subsystem>_<name>_<unit>`). */
export class SequencerMetrics {
  readonly blocks: Counter;
  readonly miniBlocks: Counter;
  readonly txs: Counter;
  readonly txsDropped: Counter;
  readonly txsRejected: Counter<"reason">;
  readonly poolSize: Gauge;
  readonly headBlock: Gauge;
  readonly miniBlockSealSeconds: Histogram;
  readonly blockRootSeconds: Histogram;
  readonly blockSealSeconds: Histogram;
  readonly walBytes: Gauge;
  readonly executionSeconds: Counter;
  readonly witnessBytes: Counter;
  readonly fastFallbacks: Counter<"reason">;

  constructor(registry: Registry) {
    const r = [registry];
    this.blocks = new Counter({
      name: "staccato_sequencer_blocks_total",
      help: "Blocks sealed",
      registers: r,
    });
    this.miniBlocks = new Counter({
      name: "staccato_sequencer_mini_blocks_total",
      help: "Mini-blocks sealed",
      registers: r,
    });
    this.txs = new Counter({
      name: "staccato_sequencer_txs_total",
      help: "Transactions included",
      registers: r,
    });
    this.txsDropped = new Counter({
      name: "staccato_sequencer_txs_dropped_total",
      help: "Pooled transactions that could no longer execute (nonce, balance or fee moved on)",
      registers: r,
    });
    this.txsRejected = new Counter({
      name: "staccato_txpool_rejected_total",
      help: "Transactions refused at submission, by reason",
      labelNames: ["reason"],
      registers: r,
    });
    this.poolSize = new Gauge({
      name: "staccato_txpool_size",
      help: "Transactions in the pool",
      registers: r,
    });
    this.headBlock = new Gauge({
      name: "staccato_sequencer_head_block",
      help: "Newest sealed block",
      registers: r,
    });
    this.miniBlockSealSeconds = new Histogram({
      name: "staccato_sequencer_mini_block_seal_seconds",
      help: "From the start of a mini-block's execution to its receipts being served",
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25],
      registers: r,
    });
    this.blockRootSeconds = new Histogram({
      name: "staccato_sequencer_state_root_seconds",
      help: "State root computation per block",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers: r,
    });
    this.blockSealSeconds = new Histogram({
      name: "staccato_sequencer_block_seal_seconds",
      help: "Header, roots of transactions and receipts, signing and logging, per block",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1],
      registers: r,
    });
    this.walBytes = new Gauge({
      name: "staccato_sequencer_wal_bytes",
      help: "Size of the write-ahead log",
      registers: r,
    });
    this.executionSeconds = new Counter({
      name: "staccato_sequencer_execution_seconds_total",
      help: "Time spent executing transactions for mini-blocks",
      registers: r,
    });
    this.fastFallbacks = new Counter({
      name: "staccato_execution_fast_fallbacks_total",
      help: "Transactions the fast EVM handed to @ethereumjs/vm before any effect, by reason",
      labelNames: ["reason"],
      registers: r,
    });
    this.witnessBytes = new Counter({
      name: "staccato_sequencer_witness_bytes_total",
      help: "Bytes of block witnesses recorded (uncompressed)",
      registers: r,
    });
  }

  miniBlockSealed(txs: number, execMs: number, sealSeconds: number): void {
    this.miniBlocks.inc();
    this.executionSeconds.inc(execMs / 1000);
    this.txs.inc(txs);
    this.miniBlockSealSeconds.observe(sealSeconds);
  }

  /** At each sealed block: the head, the pool's size and the write-ahead log's. */
  observeHead(block: bigint, poolSize: number, walBytes: number): void {
    this.headBlock.set(Number(block));
    this.poolSize.set(poolSize);
    this.walBytes.set(walBytes);
  }

  blockSealed(_txs: number, rootSeconds: number, sealSeconds: number): void {
    this.blocks.inc();
    this.blockRootSeconds.observe(rootSeconds);
    this.blockSealSeconds.observe(sealSeconds);
  }
}

/** The DA publisher's figures (`staccato_da_*`). */
export class DaMetrics {
  readonly publishedBlock: Gauge;
  readonly backlog: Gauge;
  readonly failures: Counter;
  readonly publishSeconds: Histogram;
  readonly bundleBytes: Counter;
  readonly witnessBytes: Counter;
  readonly txs: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.publishedBlock = new Gauge({
      name: "staccato_da_published_block",
      help: "Newest block such that it and every block before it are published to DA",
      registers,
    });
    this.backlog = new Gauge({
      name: "staccato_da_backlog_blocks",
      help: "Sealed blocks not yet published to DA",
      registers,
    });
    this.failures = new Counter({
      name: "staccato_da_publish_failures_total",
      help: "Failed DA puts (each is retried with backoff)",
      registers,
    });
    this.publishSeconds = new Histogram({
      name: "staccato_da_publish_seconds",
      help: "Time to build and put one block's DA bundle",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    this.bundleBytes = new Counter({
      name: "staccato_da_bundle_bytes_total",
      help: "Bytes of DA bundles published",
      registers,
    });
    this.witnessBytes = new Counter({
      name: "staccato_da_witness_bytes_total",
      help: "Bytes of compressed witnesses inside published DA bundles",
      registers,
    });
    this.txs = new Counter({
      name: "staccato_da_txs_total",
      help: "Transactions in the blocks published to DA",
      registers,
    });
  }
}
