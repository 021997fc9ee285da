import { runDaemon } from "@staccato/common";
import { sequencerFlags } from "./node/options.ts";
import { SequencerNode } from "./node/sequencerNode.ts";

await runDaemon(
  sequencerFlags,
  {
    program: "staccato-sequencer",
    summary:
      "The Staccato sequencer: orders and executes transactions in memory, seals 10 ms mini-blocks and 1 s blocks, serves the wallet JSON-RPC.",
  },
  (o) => SequencerNode.start(o),
);
