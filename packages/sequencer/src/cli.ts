import { runCli } from "@staccato/common";
import { SequencerNode, StartupError } from "./node/sequencerNode.ts";
import { sequencerFlags } from "./node/options.ts";

await runCli(
  sequencerFlags,
  {
    program: "staccato-sequencer",
    summary:
      "The Staccato sequencer: orders and executes transactions in memory, seals 10 ms mini-blocks and 1 s blocks, serves the wallet JSON-RPC.",
  },
  async (o) => {
    let node: SequencerNode;
    try {
      node = await SequencerNode.start(o);
    } catch (err) {
      if (err instanceof StartupError) throw err;
      throw err;
    }
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
