import { z } from "zod";
import { ErrorCode, StaccatoError } from "../errors.ts";

/**
 * EIP-1474 error codes, plus 3 for reverts (as geth returns from eth_call / eth_estimateGas) and
 * 4444 for pruned history.
 */
export const RpcErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  InvalidInput: -32000,
  ResourceNotFound: -32001,
  ResourceUnavailable: -32002,
  TransactionRejected: -32003,
  MethodNotSupported: -32004,
  LimitExceeded: -32005,
  ExecutionReverted: 3,
  /** History (blocks or state) this node has pruned or never held, as MegaETH's nodes answer. */
  PrunedHistory: 4444,
} as const;
export type RpcErrorCode = (typeof RpcErrorCode)[keyof typeof RpcErrorCode];

/** The `error` member of a JSON-RPC 2.0 response. */
export interface RpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/** An error a handler throws on purpose; its JSON-RPC code, message and data go to the client verbatim. */
export class RpcError extends StaccatoError<{ rpcCode: number; data?: unknown }> {
  constructor(rpcCode: number, message: string, data?: unknown) {
    super(ErrorCode.Rpc, message, data === undefined ? { rpcCode } : { rpcCode, data });
  }

  get rpcCode(): number {
    return this.details.rpcCode;
  }
}

export function invalidParams(msg: string): RpcError {
  return new RpcError(RpcErrorCode.InvalidParams, `invalid params: ${msg}`);
}

export function methodNotFound(method: string): RpcError {
  return new RpcError(RpcErrorCode.MethodNotFound, methodNotFoundMessage(method));
}

/** geth-style tx pool and input errors ("nonce too low", "insufficient funds for gas * price + value"). */
export function invalidInput(msg: string): RpcError {
  return new RpcError(RpcErrorCode.InvalidInput, msg);
}

export function resourceNotFound(msg: string): RpcError {
  return new RpcError(RpcErrorCode.ResourceNotFound, msg);
}

export function limitExceeded(msg: string): RpcError {
  return new RpcError(RpcErrorCode.LimitExceeded, msg);
}

/** `data` is the revert data as 0x-hex; `reason` the decoded Error(string), when there is one. */
export function executionReverted(data: string, reason?: string): RpcError {
  const message = reason === undefined ? "execution reverted" : `execution reverted: ${reason}`;
  return new RpcError(RpcErrorCode.ExecutionReverted, message, data);
}

export function methodNotFoundMessage(method: string): string {
  // Bound what is echoed back: the method name is client input.
  const shown = method.length > 128 ? `${method.slice(0, 128)}…` : method;
  return `the method ${shown} does not exist/is not available`;
}

/**
 * The one place errors become JSON-RPC error objects. An RpcError passes through; the other
 * `StaccatoError`s a client caused (a refused transaction, a trace past its bounds) get their
 * code here; a ZodError is -32602 naming the failing param; anything else is -32603 "internal
 * error" (the caller logs it, its message never reaches the client).
 */
export function toRpcErrorObject(err: unknown): RpcErrorObject {
  const mapped = err instanceof StaccatoError ? clientErrorOf(err) : null;
  if (mapped !== null) return mapped;
  if (err instanceof z.ZodError) {
    return { code: RpcErrorCode.InvalidParams, message: formatParamsError(err) };
  }
  return { code: RpcErrorCode.InternalError, message: "internal error" };
}

/** Whether `err` is the client's to see (else it is an internal error, to be logged). */
export function isClientError(err: unknown): boolean {
  return err instanceof z.ZodError || (err instanceof StaccatoError && clientErrorOf(err) !== null);
}

function clientErrorOf(err: StaccatoError<unknown>): RpcErrorObject | null {
  if (err instanceof RpcError) {
    const { rpcCode, data } = err.details;
    return data === undefined
      ? { code: rpcCode, message: err.message }
      : { code: rpcCode, message: err.message, data };
  }
  switch (err.code) {
    // geth's pool messages, which viem and ethers match to their typed errors.
    case ErrorCode.TxRejected:
      return { code: RpcErrorCode.InvalidInput, message: err.message };
    case ErrorCode.TraceTimeout:
      return { code: RpcErrorCode.InvalidInput, message: err.message };
    case ErrorCode.TraceTooLarge:
      return { code: RpcErrorCode.LimitExceeded, message: err.message };
    default:
      return null;
  }
}

/**
 * "invalid params: param 0 (address): expected 0x-prefixed 20-byte hex". With `schema` (the
 * method's tuple) and `input` (the params array) the param's name and missing/extra params are
 * reported too; without them only the index is named.
 */
export function formatParamsError(err: z.ZodError, schema?: z.ZodType, input?: unknown): string {
  const issue = err.issues[0];
  if (issue === undefined) return "invalid params";
  const items = schema instanceof z.ZodTuple ? (schema.def.items as readonly z.ZodType[]) : undefined;
  const path = issue.path;

  if (path.length === 0) {
    if (items !== undefined && Array.isArray(input)) {
      if (issue.code === "too_small" && input.length < items.length) {
        const i = input.length;
        return `invalid params: missing value for required param ${i}${nameSuffix(items[i])}`;
      }
      if (issue.code === "too_big") {
        return `invalid params: too many params, want at most ${items.length}, got ${input.length}`;
      }
    }
    if (issue.code === "invalid_type" && issue.expected === "tuple") {
      return "invalid params: expected an array of positional params";
    }
    return `invalid params: ${cleanMessage(issue.message)}`;
  }

  const head = path[0];
  if (typeof head !== "number") return `invalid params: ${formatPath(path)}: ${cleanMessage(issue.message)}`;
  const rest = path.length > 1 ? formatPath(path.slice(1)) : "";
  const name = items !== undefined ? nameSuffix(items[head]) : "";
  return `invalid params: param ${head}${name}${rest}: ${cleanMessage(issue.message)}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const k of path) out += typeof k === "number" ? `[${k}]` : `.${String(k)}`;
  return out;
}

/** zod prefixes default messages with "Invalid input: "; the param prefix already says that. */
function cleanMessage(message: string): string {
  return message.startsWith("Invalid input: ") ? message.slice("Invalid input: ".length) : message;
}

function nameSuffix(schema: z.ZodType | undefined): string {
  const name = schemaName(schema);
  return name === undefined ? "" : ` (${name})`;
}

/** A schema's `.describe()` text or meta title/name, looking through optional/default/pipe wrappers. */
export function schemaName(schema: z.ZodType | undefined): string | undefined {
  let s: z.ZodType | undefined = schema;
  for (let depth = 0; s !== undefined && depth < 8; depth++) {
    if (s.description !== undefined) return s.description;
    const meta = s.meta();
    if (meta !== undefined) {
      if (typeof meta.title === "string") return meta.title;
      if (typeof meta.name === "string") return meta.name;
    }
    const def = s.def as { innerType?: z.ZodType; in?: z.ZodType };
    s = def.innerType ?? def.in;
  }
  return undefined;
}
