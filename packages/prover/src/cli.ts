import { runDaemon } from "@staccato/common";
import { ProverNode } from "./node/proverNode.ts";
import { proverFlags } from "./node/options.ts";

await runDaemon(
  proverFlags,
  {
    program: "staccato-prover",
    summary:
      "A Staccato stateless prover: re-executes every sealed block from its witness alone, out of order on a pool of workers, and publishes signed attestations that drive finality.",
  },
  (o) => ProverNode.start(o),
);
