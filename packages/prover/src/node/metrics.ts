import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The prover's Prometheus metrics. */
export class ProverMetrics {
  readonly verified: Counter<"verdict" | "source">;
  readonly bundlesFetched: Counter<"source">;
  readonly daReadSeconds: Histogram;
  readonly daHead: Gauge;
  readonly verifySeconds: Histogram;
  readonly queueDepth: Gauge;
  readonly inFlight: Gauge;
  readonly maxConcurrent: Gauge;
  readonly outOfOrder: Counter;
  readonly fetchFailures: Counter<"reason">;
  readonly attestedBlock: Gauge;
  readonly txs: Counter;
  readonly witnessBytes: Counter;
  readonly peers: Gauge;
  readonly workerHeap: Gauge<"worker">;

  constructor(registry: Registry) {
    const r = [registry];
    this.verified = new Counter({
      name: "staccato_prover_blocks_verified_total",
      help: "Blocks verified, by verdict (valid, invalid; incomplete witness and bad bundles are retried) and by where the bundle came from (peer, da)",
      labelNames: ["verdict", "source"],
      registers: r,
    });
    this.bundlesFetched = new Counter({
      name: "staccato_prover_bundles_fetched_total",
      help: "Block bundles fetched, by source: peer (witness-by-number) or da (read from the DA store when no peer served it)",
      labelNames: ["source"],
      registers: r,
    });
    this.daReadSeconds = new Histogram({
      name: "staccato_prover_da_read_seconds",
      help: "Time to read and check one block's bundle from DA (a first read walks back through later bundles)",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: r,
    });
    this.daHead = new Gauge({
      name: "staccato_prover_da_head_block",
      help: "Newest block the sequencer's signed DA pointers name (gossip or a peer's da-head)",
      registers: r,
    });
    this.verifySeconds = new Histogram({
      name: "staccato_prover_verify_seconds",
      help: "Time to verify one block on a worker",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    });
    this.queueDepth = new Gauge({
      name: "staccato_prover_queue_depth",
      help: "Blocks waiting to be fetched or verified",
      registers: r,
    });
    this.inFlight = new Gauge({
      name: "staccato_prover_in_flight",
      help: "Blocks being verified on workers now",
      registers: r,
    });
    this.maxConcurrent = new Gauge({
      name: "staccato_prover_max_concurrent_verifications",
      help: "Most blocks ever verified at the same time",
      registers: r,
    });
    this.outOfOrder = new Counter({
      name: "staccato_prover_out_of_order_total",
      help: "Blocks whose verification finished while an earlier block was still unverified",
      registers: r,
    });
    this.fetchFailures = new Counter({
      name: "staccato_prover_fetch_failures_total",
      help: "Witness fetches that failed, by reason (a peer's answer code, error, bad-bundle, or da-<why> when DA did not serve it either)",
      labelNames: ["reason"],
      registers: r,
    });
    this.attestedBlock = new Gauge({
      name: "staccato_prover_attested_block",
      help: "Highest block number attested",
      registers: r,
    });
    this.txs = new Counter({
      name: "staccato_prover_txs_verified_total",
      help: "Transactions re-executed in verified blocks",
      registers: r,
    });
    this.witnessBytes = new Counter({
      name: "staccato_prover_witness_bytes_total",
      help: "Uncompressed witness bytes of verified blocks",
      registers: r,
    });
    this.peers = new Gauge({ name: "staccato_prover_peers", help: "Connected libp2p peers", registers: r });
    this.workerHeap = new Gauge({
      name: "staccato_prover_worker_heap_used_bytes",
      help: "V8 heap in use on each verifier worker thread after its last block (the process's nodejs_heap metrics cover the main thread only)",
      labelNames: ["worker"],
      registers: r,
    });
  }
}
