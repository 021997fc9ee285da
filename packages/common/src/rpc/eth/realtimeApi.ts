import { bytesToHex } from "@ethereumjs/util";
import { decodeSignedMiniBlock, miniBlockDiffBytes } from "../../codec/chainCodec.ts";
import { keccak256 } from "../../crypto/keccak.ts";
import { encodeEnvelopeAsync } from "../../p2p/envelope.ts";
import { type RpcMethodTable, rpcMethod } from "../dispatch.ts";
import { RpcError } from "../errors.ts";
import * as s from "../schemas.ts";
import { z } from "zod";
import type { ChainBackend } from "./backend.ts";
import { formatReceipt } from "./format.ts";

const round2 = (ms: number) => Math.round(ms * 100) / 100;

/** EIP-7966 error codes. */
const SYNC_TIMEOUT = 4;
const SYNC_NOT_READY = 5;

const timeoutParam = z.union([s.quantity, z.number().int().nonnegative()]).describe("timeout");

/** The methods `realtimeApi` answers. */
export const REALTIME_METHODS = [
  "eth_sendRawTransactionSync",
  "realtime_sendRawTransaction",
  "staccato_getMiniBlockByNumber",
  "staccato_status",
  "staccato_getBlockStats",
] as const;
export type RealtimeMethod = (typeof REALTIME_METHODS)[number];

/**
 * The real-time set: send a transaction and get its receipt back in the same call, as soon as its
 * mini-block seals (`eth_sendRawTransactionSync`, EIP-7966; `realtime_sendRawTransaction`, the
 * same under MegaETH's name), plus Staccato introspection.
 */
export function realtimeApi(be: ChainBackend): { methods: RpcMethodTable<RealtimeMethod>; close(): void } {
  const waiting = new Map<string, (v: object) => void>();
  const off = be.events.on("miniBlock", ({ block, txs }) => {
    if (waiting.size === 0) return;
    for (const t of txs) {
      const resolve = waiting.get(t.hashHex);
      if (resolve !== undefined) {
        waiting.delete(t.hashHex);
        resolve(formatReceipt(t, block, be.common));
      }
    }
  });

  const sendSync = async ([raw, timeout]: [Uint8Array, (bigint | number | undefined)?]) => {
    const requested = timeout === undefined ? 0 : Number(timeout);
    const ms = requested > 0 && requested <= be.limits.maxSyncTimeoutMs ? requested : be.limits.syncTimeoutMs;
    const ptx = await be.submit(raw);
    if (ptx.queued) {
      throw new RpcError(
        SYNC_NOT_READY,
        `The transaction was added to the pool but cannot be processed yet: it waits for nonce ${await be.pendingNonce(ptx.sender)} of ${ptx.sender}`,
        ptx.hashHex,
      );
    }
    const included = be.chain.tx(ptx.hashHex);
    if (included !== undefined)
      return formatReceipt(included, be.chain.block(included.blockNumber)!, be.common);
    return await new Promise<object>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(ptx.hashHex);
        reject(
          new RpcError(
            SYNC_TIMEOUT,
            `The transaction was added to the pool but wasn't processed in ${ms}ms.`,
            ptx.hashHex,
          ),
        );
      }, ms);
      waiting.set(ptx.hashHex, (receipt) => {
        clearTimeout(timer);
        resolve(receipt);
      });
    });
  };

  const syncParams = z.tuple([s.hexBytes.describe("transaction"), timeoutParam.optional()]);
  const methods: RpcMethodTable<RealtimeMethod> = {
    eth_sendRawTransactionSync: rpcMethod(syncParams, sendSync),
    realtime_sendRawTransaction: rpcMethod(syncParams, sendSync),
    staccato_getMiniBlockByNumber: rpcMethod(z.tuple([s.quantity]), async ([n]) => {
      const encoded = await be.chain.getMiniBlock(n);
      if (encoded === undefined) return null;
      const mb = decodeSignedMiniBlock(encoded);
      const diff = miniBlockDiffBytes(mb);
      // The compressed sizes are measured on libuv's thread pool: Brotli of a full mini-block takes
      // ~0.1 ms, which a client polling this method would otherwise take from the RPC thread
      // (the sequencer's execution thread).
      const [gossip, diffCompressed] = await Promise.all([
        encodeEnvelopeAsync(encoded),
        encodeEnvelopeAsync(diff),
      ]);
      return {
        number: `0x${mb.number.toString(16)}`,
        hash: bytesToHex(mb.hash),
        parentHash: bytesToHex(mb.parentHash),
        blockNumber: `0x${mb.blockNumber.toString(16)}`,
        index: `0x${mb.index.toString(16)}`,
        timestampUs: `0x${mb.timestampUs.toString(16)}`,
        transactions: mb.txs.map((t) => bytesToHex(keccak256(t))),
        signature: bytesToHex(mb.signature),
        /** Bytes on the wire: the signed encoding, and compressed as gossiped. */
        size: encoded.length,
        gossipSize: gossip.length,
        /** The state diff alone: its compact encoding, and Brotli-compressed. */
        diffSize: diff.length,
        diffCompressedSize: diffCompressed.length,
        txBytes: mb.txs.reduce((n, t) => n + t.length, 0),
      };
    }),
    staccato_status: rpcMethod(z.tuple([]), () => be.status()),
    staccato_getBlockStats: rpcMethod(z.tuple([s.quantity]), async ([n]) => {
      const b = await be.chain.getBlock(n);
      if (b === undefined || b.hash === null) return null;
      const stat = be.blockStats?.(n);
      const da = be.daPublished?.();
      return {
        number: `0x${n.toString(16)}`,
        hash: bytesToHex(b.hash),
        timestamp: `0x${b.timestamp.toString(16)}`,
        miniBlocks: b.miniBlocks.length,
        transactions: b.txs.length,
        gasUsed: `0x${b.gasUsed.toString(16)}`,
        /** The sequencer's own figures for its newest blocks; null elsewhere or once forgotten. */
        stateRootMs: stat === undefined ? null : round2(stat.stateRootMs),
        sealMs: stat === undefined ? null : round2(stat.sealMs),
        sealedAt: stat?.sealedAt ?? null,
        /** Whether the block is published to DA (the sequencer); null on nodes that do not publish. */
        da: da === undefined ? null : n <= da ? "published" : "pending",
      };
    }),
  };
  return {
    methods,
    close() {
      off();
      waiting.clear();
    },
  };
}
