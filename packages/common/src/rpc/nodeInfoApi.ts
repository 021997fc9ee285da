import { z } from "zod";
import type { ChainEvents } from "../chain/chainEvents.ts";
import { type Logger, LOG_TAIL_LINES, logTail } from "../log/logger.ts";
import { type RpcMethodTable, rpcMethod } from "./dispatch.ts";

export type NodeRole = "sequencer" | "fullnode" | "prover";

/** What a daemon tells `staccato_nodeInfo` about itself. */
export interface NodeInfoSource {
  role: NodeRole;
  clientVersion: string;
  chainId: number;
  /** The daemon's root logger: its newest lines are the log tail. */
  logger: Logger;
  /** libp2p peer id, or null with networking off. */
  peerId(): string | null;
  /** Connected libp2p peers. */
  peers(): number;
  /** The same answer as `GET /health`. */
  health(): { ok: boolean; [detail: string]: unknown };
  /** The role's own figures (`staccato_status`'s answer). */
  status(): Record<string, unknown>;
  /** Blocks behind the newest block this node has heard of (full nodes), or null. */
  lagBlocks?(): number;
  /** Mini-block events, to measure how long after its seal each one is applied here (full nodes). */
  events?: ChainEvents | null;
}

/** Mini-block delays the reported lag is the median of. */
const LAG_WINDOW = 64;
/** Log lines answered when the call does not say. */
const DEFAULT_LOG_LINES = 50;
/** A lag measured longer ago than this is stale: the node is not receiving mini-blocks. */
const LAG_STALE_MS = 10_000;

/** The methods `nodeInfoApi` answers. */
export const NODE_INFO_METHODS = ["staccato_nodeInfo"] as const;
export type NodeInfoMethod = (typeof NODE_INFO_METHODS)[number];

/**
 * `staccato_nodeInfo`: who this daemon is and how it is doing, for the dashboard's nodes table and
 * for operators: role, peer id, health, memory, lag behind the sequencer and the newest lines of
 * its log (the same JSON lines it writes, at its `--log-level`).
 *
 * The lag in ms is the median, over the last 64 mini-blocks, of (wall clock when this node
 * applied the mini-block − the sequencer's µs timestamp in it): propagation plus application,
 * exact on one host, off by the clock difference between two hosts.
 */
export function nodeInfoApi(src: NodeInfoSource): { methods: RpcMethodTable<NodeInfoMethod>; close(): void } {
  const startedAt = Date.now();
  const delays: number[] = [];
  let next = 0;
  let lastMiniBlockAt: number | null = null;
  const off =
    src.events?.on("miniBlock", ({ miniBlock }) => {
      const now = Date.now();
      const delay = now - Number(miniBlock.timestampUs) / 1000;
      lastMiniBlockAt = now;
      if (delays.length < LAG_WINDOW) delays.push(delay);
      else delays[next] = delay;
      next = (next + 1) % LAG_WINDOW;
    }) ?? (() => {});

  const lagMs = (): number | null => {
    if (delays.length === 0 || lastMiniBlockAt === null) return null;
    if (Date.now() - lastMiniBlockAt > LAG_STALE_MS) return null;
    const sorted = [...delays].sort((a, b) => a - b);
    return Math.round(Math.max(0, sorted[sorted.length >> 1]) * 100) / 100;
  };

  const methods: RpcMethodTable<NodeInfoMethod> = {
    staccato_nodeInfo: rpcMethod(
      z.tuple([z.number().int().min(0).max(LOG_TAIL_LINES).describe("log lines").optional()]),
      ([lines]) => {
        const mem = process.memoryUsage();
        let health: { ok: boolean; [detail: string]: unknown };
        try {
          health = src.health();
        } catch (err) {
          health = { ok: false, error: err instanceof Error ? err.message : String(err) };
        }
        return {
          role: src.role,
          clientVersion: src.clientVersion,
          chainId: src.chainId,
          peerId: src.peerId(),
          peers: src.peers(),
          pid: process.pid,
          startedAt,
          now: Date.now(),
          uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
          memory: {
            rss: mem.rss,
            heapUsed: mem.heapUsed,
            heapTotal: mem.heapTotal,
            external: mem.external,
            arrayBuffers: mem.arrayBuffers,
          },
          health,
          status: src.status(),
          lag:
            src.role === "sequencer"
              ? null
              : { blocks: src.lagBlocks?.() ?? null, ms: lagMs(), lastMiniBlockAt },
          logTail: logTail(src.logger, lines ?? DEFAULT_LOG_LINES),
        };
      },
    ),
  };
  return { methods, close: off };
}
