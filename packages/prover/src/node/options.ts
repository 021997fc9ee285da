import { availableParallelism } from "node:os";
import {
  type CliOptions,
  EXECUTION_ENGINES,
  daFlags,
  defineFlags,
  operationsFlags,
  p2pFlags,
} from "@staccato/common";
import { z } from "zod";

/** Every flag of `staccato-prover` (also `STACCATO_*` env vars and `--config <file.json>` keys). */
export const proverFlags = defineFlags({
  chain: {
    schema: z.string(),
    description: "Chain config (genesis) JSON file; its `provers` list must hold this prover's address",
    placeholder: "<file>",
  },
  dataDir: {
    schema: z.string().default("./data/prover"),
    description: "Data directory: libp2p key, attestation progress",
    placeholder: "<dir>",
  },
  keyFile: {
    schema: z.string().optional(),
    description: "The prover's secp256k1 private key (hex). Default <data-dir>/prover.key",
    placeholder: "<file>",
  },
  workers: {
    schema: z.number().int().min(1).max(64).default(availableParallelism()),
    description: "Worker threads verifying blocks in parallel (default: the number of cores)",
    placeholder: "<n>",
  },
  engine: {
    schema: z.enum(EXECUTION_ENGINES).default("reference"),
    description:
      "EVM that re-executes blocks: reference (@ethereumjs/vm, an implementation independent of the sequencer's fast engine, so a divergence is an invalid attestation) or fast (Staccato's synchronous interpreter)",
  },
  ...p2pFlags(9002),
  ...daFlags("none", "read"),
  ...operationsFlags(9547),
});

export type ProverOptions = CliOptions<typeof proverFlags>;
