import type { Registry } from "prom-client";
import type { FinalityTracker } from "../chain/finality.ts";
import type { Logger } from "../log/logger.ts";
import { RpcServerMetrics } from "../metrics/rpcMetrics.ts";
import type { HealthStatus } from "../metrics/server.ts";
import { type DebugTraceMethod, debugTraceApi } from "./debug/debugTraceApi.ts";
import type { RpcMethods, RpcMethodTable } from "./dispatch.ts";
import { type AccessListMethod, accessListApi } from "./eth/accessListApi.ts";
import type { ChainBackend } from "./eth/backend.ts";
import { type EthMethod, ethApi } from "./eth/ethApi.ts";
import { type FinalityMethod, finalityApi } from "./eth/finalityApi.ts";
import { type RealtimeMethod, realtimeApi } from "./eth/realtimeApi.ts";
import { type SimulateMethod, simulateApi } from "./eth/simulateApi.ts";
import { type SubscriptionMethod, subscriptionApi } from "./eth/subscriptionApi.ts";
import { type NodeInfoMethod, type NodeRole, nodeInfoApi } from "./nodeInfoApi.ts";
import type { AddressIndex } from "./ots/addressIndex.ts";
import { type OtsMethod, otsApi } from "./ots/otsApi.ts";
import { type RpcServer, type RpcServerDeps, type RpcServerOptionsInput, createRpcServer } from "./server.ts";

/** Every method a chain-holding node serves from common's namespaces. */
export type ChainRpcMethod =
  | EthMethod
  | NodeInfoMethod
  | SubscriptionMethod
  | RealtimeMethod
  | FinalityMethod
  | DebugTraceMethod
  | AccessListMethod
  | SimulateMethod
  | OtsMethod;

export interface ChainRpcDeps {
  role: NodeRole;
  clientVersion: string;
  logger: Logger;
  /** Where the RPC's metrics (`staccato_rpc_*`) are registered. */
  registry: Registry;
  health: () => HealthStatus;
  peerId: () => string | null;
  peers: () => number;
  /** Full nodes: blocks behind the newest heard of; mini-block lag is measured from `backend.events`. */
  lagBlocks?: () => number;
  finality: FinalityTracker;
  /** Otterscan's address index; null where the node keeps none (its search methods say so). */
  addressIndex: AddressIndex | null;
  /** The daemon's own namespaces, beside the shared ones (the sequencer's txpool_*, …). */
  own?: RpcMethods;
  page?: RpcServerDeps["page"];
  /** Where what the server opens is undone at shutdown, in reverse. */
  closers: (() => Promise<void> | void)[];
}

/**
 * The JSON-RPC and WebSocket server of a node that holds the chain (sequencer, full node): every
 * shared namespace over `backend` (eth_*, subscriptions, realtime_*, finality, debug traces,
 * access lists, simulation, ots_*, staccato_* node info) plus the daemon's own, with the same
 * metrics on every daemon. Listening when it returns.
 */
export async function startChainRpc(
  opts: RpcServerOptionsInput,
  backend: ChainBackend,
  d: ChainRpcDeps,
): Promise<RpcServer> {
  const subs = subscriptionApi(backend);
  d.closers.push(() => subs.close());
  const realtime = realtimeApi(backend);
  d.closers.push(() => realtime.close());
  const nodeInfo = nodeInfoApi({
    role: d.role,
    clientVersion: d.clientVersion,
    chainId: backend.config.chainId,
    logger: d.logger,
    peerId: d.peerId,
    peers: d.peers,
    health: d.health,
    status: () => backend.status(),
    ...(d.lagBlocks !== undefined ? { lagBlocks: d.lagBlocks, events: backend.events } : {}),
  });
  d.closers.push(() => nodeInfo.close());
  // Typed as the union of the namespaces' names: leaving one out fails to compile.
  const shared: RpcMethodTable<ChainRpcMethod> = {
    ...ethApi(backend),
    ...nodeInfo.methods,
    ...subs.methods,
    ...realtime.methods,
    ...finalityApi(backend, d.finality),
    ...debugTraceApi(backend),
    ...accessListApi(backend),
    ...simulateApi(backend),
    ...otsApi(backend, d.addressIndex),
  };
  const rpc = createRpcServer(opts, {
    logger: d.logger,
    methods: { ...shared, ...d.own },
    metrics: new RpcServerMetrics(d.registry),
    health: d.health,
    ...(d.page !== undefined ? { page: d.page } : {}),
  });
  await rpc.listen();
  d.closers.push(() => rpc.close());
  return rpc;
}
