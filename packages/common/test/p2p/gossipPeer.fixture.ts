// A gossip peer in its own process, for twoProcess.test.ts: joins through the bootnode given as
// argv[3] and echoes every "block" message back on "attestation". After `count` messages it
// prints, as one JSON line on stdout, the one-way latencies it saw by the shared clock.
import { silentLogger } from "../../src/log/logger.ts";
import { createP2PNode, P2P_DEFAULTS } from "../../src/p2p/node.ts";

const [keyFile, bootnode, countArg, chainIdArg] = process.argv.slice(2);
const count = Number(countArg);
const node = await createP2PNode(
  {
    ...P2P_DEFAULTS,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootnodes: [bootnode],
    keyFile,
    chainId: Number(chainIdArg),
  },
  { logger: silentLogger() },
);
const latencies: number[] = [];
node.subscribe("attestation", { validate: () => "ignore", onMessage: () => {} });
node.subscribe("block", {
  validate: (data) => (data.length >= 8 ? "accept" : "reject"),
  onMessage: (data) => {
    const now = performance.timeOrigin + performance.now();
    const sent = new DataView(data.buffer, data.byteOffset, 8).getFloat64(0);
    latencies.push(now - sent);
    void node.publish("attestation", data);
    if (latencies.length === count) {
      const sorted = latencies.slice(Math.floor(count / 5)).sort((a, b) => a - b);
      const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
      process.stdout.write(`${JSON.stringify({ n: sorted.length, p50: at(50), p99: at(99) })}\n`);
    }
  },
});
await node.start();
process.stdout.write(`${JSON.stringify({ peerId: node.peerId.toString() })}\n`);
process.on("SIGTERM", () => {
  void node.stop().then(() => process.exit(0));
});
