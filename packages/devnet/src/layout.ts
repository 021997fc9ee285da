import { join, resolve } from "node:path";
import { DEFAULT_DA_DIR } from "@staccato/common";

/** The daemons a devnet runs, in start order. */
export const ROLES = ["sequencer", "prover", "fullnode"] as const;
export type Role = (typeof ROLES)[number];

/** Where one devnet keeps its files. Every daemon gets its own data dir below the root. */
export interface DevnetLayout {
  root: string;
  /** The generated chain config (genesis) every daemon is started with. */
  chainFile: string;
  /** Marks the root as a devnet's, so `--fresh` never deletes a directory it did not create. */
  markerFile: string;
  logsDir: string;
  /** The DA blob directory: the sequencer publishes to it, provers and full nodes read from it. */
  daDir: string;
  dataDir(name: string): string;
  logFile(name: string): string;
}

export function devnetLayout(dataDir: string): DevnetLayout {
  const root = resolve(dataDir);
  return {
    root,
    chainFile: join(root, "chain.json"),
    markerFile: join(root, "devnet.json"),
    logsDir: join(root, "logs"),
    daDir: join(root, "sequencer", DEFAULT_DA_DIR),
    dataDir: (name) => join(root, name),
    logFile: (name) => join(root, "logs", `${name}.log`),
  };
}

/** One daemon of the topology with the ports it is given. */
export interface DaemonPlan {
  name: string;
  role: Role;
  /** 1-based index among its role (0 for the sequencer). */
  index: number;
  p2pPort: number;
  metricsPort: number;
  /**
   * JSON-RPC port. A prover's serves only `staccato_nodeInfo`/`staccato_status` (for the
   * dashboard's nodes table), not the chain.
   */
  rpcPort: number;
}

export interface PortBases {
  rpcPort: number;
  p2pPort: number;
  metricsPort: number;
}

/**
 * Names and ports: the sequencer takes each base port, then provers and full nodes take the
 * next ones in order; full node i serves JSON-RPC on rpc-port + i (8546, 8547 by default), and
 * prover i its small node-info RPC on the ports after the full nodes' (8548, 8549).
 */
export function planTopology(provers: number, fullnodes: number, ports: PortBases): DaemonPlan[] {
  const plan: DaemonPlan[] = [];
  const add = (role: Role, index: number, rpcPort: number) => {
    const n = plan.length;
    const name = role === "sequencer" ? role : `${role}-${index}`;
    plan.push({ name, role, index, p2pPort: ports.p2pPort + n, metricsPort: ports.metricsPort + n, rpcPort });
  };
  add("sequencer", 0, ports.rpcPort);
  for (let i = 1; i <= provers; i++) add("prover", i, ports.rpcPort + fullnodes + i);
  for (let i = 1; i <= fullnodes; i++) add("fullnode", i, ports.rpcPort + i);
  return plan;
}
