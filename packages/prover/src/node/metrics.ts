import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The prover's Prometheus metrics. */
export class ProverMetrics {
  readonly verified: Counter<"verdict">;
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

  constructor(registry: Registry) {
    const r = [registry];
    this.verified = new Counter({
      name: "staccato_prover_blocks_verified_total",
      help: "Blocks verified, by verdict (valid, invalid; incomplete witness and bad bundles are retried)",
      labelNames: ["verdict"],
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
      help: "Witness fetches that failed, by reason",
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
  }
}
