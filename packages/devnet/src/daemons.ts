import { join } from "node:path";
import type { DaemonPlan, DevnetLayout, Role } from "./layout.ts";

/** The repository's `packages/` directory: the devnet starts each daemon's own binary. */
const PACKAGES = join(import.meta.dirname, "..", "..");

export const DAEMON_BINARIES: Record<Role, string> = {
  sequencer: join(PACKAGES, "sequencer", "bin", "staccato-sequencer.js"),
  prover: join(PACKAGES, "prover", "bin", "staccato-prover.js"),
  fullnode: join(PACKAGES, "fullnode", "bin", "staccato-fullnode.js"),
};

export interface DaemonContext {
  layout: DevnetLayout;
  /** Listen address of the JSON-RPC servers. */
  host: string;
  /** The sequencer's full libp2p address, `/ip4/127.0.0.1/tcp/<port>/p2p/<id>`. */
  sequencerMultiaddr: string;
  /** The sequencer's JSON-RPC URL, where full nodes forward transactions. */
  sequencerRpc: string;
  logLevel: string;
  proverWorkers: number;
}

/**
 * The command line of one daemon: the same flags the README documents for running each daemon
 * by hand. libp2p listens on loopback only; the JSON-RPC servers on `--host`.
 */
export function daemonArgs(d: DaemonPlan, ctx: DaemonContext): string[] {
  const { layout } = ctx;
  const common = [
    "--chain",
    layout.chainFile,
    "--data-dir",
    layout.dataDir(d.name),
    "--p2p-listen",
    `/ip4/127.0.0.1/tcp/${d.p2pPort}`,
    "--metrics-host",
    "127.0.0.1",
    "--metrics-port",
    String(d.metricsPort),
    "--log-level",
    ctx.logLevel,
  ];
  const rpc = ["--rpc-host", ctx.host, "--rpc-port", String(d.rpcPort)];
  // The sequencer publishes every block to its DA dir (its default, `<data-dir>/da`); provers and
  // full nodes read what no peer serves from the same directory.
  const da = ["--da", "dir", "--da-dir", layout.daDir];
  const sequencer = [...common, ...rpc, ...da];
  // Provers and full nodes find the network through the sequencer.
  const follower = [...sequencer, "--bootnodes", ctx.sequencerMultiaddr];
  switch (d.role) {
    case "sequencer":
      return sequencer;
    case "prover":
      return [...follower, "--workers", String(ctx.proverWorkers)];
    case "fullnode":
      return [...follower, "--sequencer-rpc", ctx.sequencerRpc];
  }
}

/** Where to reach a server that listens on `host` from this machine. */
export function loopbackFor(host: string): string {
  return host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host;
}

/** The URL whose 200 answer means the daemon is up: its RPC port's `/health`. */
export function healthUrl(d: DaemonPlan, host: string): string {
  return `http://${loopbackFor(host)}:${d.rpcPort}/health`;
}
