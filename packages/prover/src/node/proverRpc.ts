import {
  type ChainConfig,
  type Logger,
  type NodeInfoMethod,
  type RpcMethodTable,
  RpcServerMetrics,
  type RpcServer,
  createRpcServer,
  nodeInfoApi,
  rpcMethod,
} from "@staccato/common";
import type { Registry } from "prom-client";
import { z } from "zod";
import type { ProverOptions } from "./options.ts";

export const CLIENT_VERSION = "staccato-prover/0.1.0";

/** The methods the prover answers besides `nodeInfoApi`'s. */
export const PROVER_METHODS = [
  "staccato_status",
  "eth_chainId",
  "net_version",
  "web3_clientVersion",
] as const;
export type ProverMethod = (typeof PROVER_METHODS)[number];

export interface ProverRpcDeps {
  logger: Logger;
  config: ChainConfig;
  /** The prover's signing address. */
  address: string;
  /** The same answer as the metrics port's `/health`. */
  health(): { ok: boolean; [detail: string]: unknown };
  peerId(): string;
  peers(): number;
  /** The RPC server's metrics (`RpcServerMetrics`) go here. */
  registry: Registry;
}

/**
 * `--rpc-port`: a prover holds no chain, so it answers only who it is and how it is doing
 * (`staccato_nodeInfo`, `staccato_status`) and the chain it serves, for the dashboard's nodes
 * table and for operators. Attestations themselves are read from the sequencer or a full node
 * (`staccato_getAttestations`).
 */
export function proverRpcServer(
  o: Pick<ProverOptions, "rpcHost" | "rpcPort" | "corsOrigins">,
  deps: ProverRpcDeps,
): RpcServer {
  const status = () => ({
    role: "prover",
    prover: deps.address,
    chainId: deps.config.chainId,
    ...deps.health(),
  });
  const info = nodeInfoApi({
    role: "prover",
    clientVersion: CLIENT_VERSION,
    chainId: deps.config.chainId,
    logger: deps.logger,
    peerId: deps.peerId,
    peers: deps.peers,
    health: deps.health,
    status,
  });
  const none = z.tuple([]);
  const methods: RpcMethodTable<NodeInfoMethod | ProverMethod> = {
    ...info.methods,
    staccato_status: rpcMethod(none, status),
    eth_chainId: rpcMethod(none, () => `0x${deps.config.chainId.toString(16)}`),
    net_version: rpcMethod(none, () => String(deps.config.chainId)),
    web3_clientVersion: rpcMethod(none, () => CLIENT_VERSION),
  };
  const server = createRpcServer(
    { host: o.rpcHost, port: o.rpcPort ?? 0, corsOrigins: o.corsOrigins },
    { logger: deps.logger, methods, metrics: new RpcServerMetrics(deps.registry), health: deps.health },
  );
  return {
    listen: () => server.listen(),
    address: () => server.address(),
    close: async () => {
      info.close();
      await server.close();
    },
  };
}
