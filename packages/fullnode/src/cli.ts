import { runDaemon } from "@staccato/common";
import { FullNode } from "./node/fullNode.ts";
import { fullnodeFlags } from "./node/options.ts";

await runDaemon(
  fullnodeFlags,
  {
    program: "staccato-fullnode",
    summary:
      "A Staccato full node: follows the sequencer over libp2p, applies its state diffs without re-executing, verifies every block's roots, serves the wallet JSON-RPC.",
  },
  (o) => FullNode.start(o),
);
