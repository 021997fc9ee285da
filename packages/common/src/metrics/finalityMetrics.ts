import { Counter, Gauge, type Registry } from "prom-client";

/** Finality metrics, the same on the sequencer and full nodes. */
export class FinalityMetrics {
  readonly attestations: Counter<"verdict">;
  readonly invalidVerdicts: Counter;
  readonly finalizedBlock: Gauge;

  constructor(registry: Registry) {
    const r = [registry];
    this.attestations = new Counter({
      name: "staccato_attestations_total",
      help: "Attestations recorded from listed provers, by verdict",
      labelNames: ["verdict"],
      registers: r,
    });
    this.invalidVerdicts = new Counter({
      name: "staccato_invalid_verdicts_total",
      help: "Invalid verdicts received (each one is an alarm: finality halts before that block)",
      registers: r,
    });
    this.finalizedBlock = new Gauge({
      name: "staccato_finalized_block",
      help: "Newest block final by the prover quorum",
      registers: r,
    });
  }
}
