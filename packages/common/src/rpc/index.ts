export {
  type RpcContext,
  type RpcMethod,
  type RpcMethods,
  type RpcMethodTable,
  type RpcMetrics,
  rpcMethod,
  UNKNOWN_METHOD_LABEL,
  type WsConnection,
} from "./dispatch.ts";
export {
  executionReverted,
  formatParamsError,
  invalidInput,
  invalidParams,
  isClientError,
  limitExceeded,
  methodNotFound,
  RpcError,
  RpcErrorCode,
  type RpcErrorObject,
  resourceNotFound,
  toRpcErrorObject,
} from "./errors.ts";
export * as rpcSchemas from "./schemas.ts";
export type { BlockTag, BlockTagName, BlockTagOrHash } from "./schemas.ts";
export {
  createRpcServer,
  DEFAULT_CORS_ORIGINS,
  DEFAULT_RPC_HOST,
  DEFAULT_RPC_MAX_BATCH,
  DEFAULT_RPC_MAX_BODY_BYTES,
  defaultRpcServerOptions,
  type HealthStatus,
  type RpcServer,
  type RpcServerDeps,
  type RpcServerOptions,
  type RpcServerOptionsInput,
  rpcServerOptionsSchema,
  type StaticPage,
} from "./server.ts";
export {
  NODE_INFO_METHODS,
  type NodeInfoMethod,
  type NodeInfoSource,
  type NodeRole,
  nodeInfoApi,
} from "./nodeInfoApi.ts";
export { type ChainRpcDeps, startChainRpc } from "./chainRpc.ts";
