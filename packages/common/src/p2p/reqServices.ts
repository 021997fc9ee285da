import type { P2PNode } from "./node.ts";
import type { ReqHandleOptions, ReqHandler } from "./reqResp.ts";
import { REQ_PROTOCOLS, type ReqProtocol } from "./topics.ts";

/** One served req/resp protocol: its handler and its limits. */
export interface ReqService {
  handler: ReqHandler;
  opts: ReqHandleOptions;
}

/**
 * What a node serves by request/response, typed to be exhaustive: every protocol of
 * `REQ_PROTOCOLS` has its service, or `null` where this node does not serve it (a peer dialing it
 * is told the protocol is not supported). A protocol added to `REQ_PROTOCOLS` fails to compile
 * until each table says what it does with it.
 */
export type ReqServices = { readonly [P in ReqProtocol]: ReqService | null };

/** Registers every service of the table on the node (before or after `start()`). */
export async function serveProtocols(node: Pick<P2PNode, "handle">, services: ReqServices): Promise<void> {
  for (const proto of REQ_PROTOCOLS) {
    const s = services[proto];
    if (s !== null) await node.handle(proto, s.handler, s.opts);
  }
}
