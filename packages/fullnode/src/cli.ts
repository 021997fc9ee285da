import { runCli } from "@staccato/common";
import { FullNode } from "./node/fullNode.ts";
import { fullnodeFlags } from "./node/options.ts";

await runCli(
  fullnodeFlags,
  {
    program: "staccato-fullnode",
    summary:
      "A Staccato full node: follows the sequencer over libp2p, applies its state diffs without re-executing, verifies every block's roots, serves the wallet JSON-RPC.",
  },
  async (o) => {
    const node = await FullNode.start(o);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      node.logger.info({ signal }, "shutting down");
      node.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
    await new Promise<never>(() => {});
  },
);
