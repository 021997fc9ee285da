import type { Block } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex } from "@ethereumjs/util";
import type { ChainConfig, MemoryState, StateReader, StateTrieHandle } from "@staccato/common";
import { RpcError, RpcErrorCode, type BlockTag, type BlockTagOrHash } from "@staccato/common";
import type { CallRunner } from "../execution/callRunner.ts";
import type { Executor } from "../execution/executor.ts";
import type { ChainEvents } from "@staccato/common";
import type { BlockProducer } from "../sealing/blockProducer.ts";
import type { LatestView } from "@staccato/common";
import type { ChainBlock, ChainStore } from "@staccato/common";
import type { TxPool } from "../txpool/txPool.ts";

export interface RpcLimits {
  /** Default and maximum wait of eth_sendRawTransactionSync / realtime_sendRawTransaction, ms. */
  syncTimeoutMs: number;
  maxSyncTimeoutMs: number;
  /** eth_getLogs limits. */
  maxLogs: number;
  maxBlockRange: number;
  /** Gas cap for eth_call and eth_estimateGas. */
  callGasCap: bigint;
}

/** Everything the sequencer's RPC methods read from. */
export interface SequencerBackend {
  config: ChainConfig;
  common: Common;
  chain: ChainStore;
  pool: TxPool;
  state: MemoryState;
  latestView: LatestView;
  trie: StateTrieHandle;
  producer: BlockProducer;
  executor: Executor;
  calls: CallRunner;
  events: ChainEvents;
  limits: RpcLimits;
  clientVersion: string;
  /** Newest block attested by the prover quorum (or latest, with no provers configured). */
  finalizedNumber(): bigint;
}

export type StateAt = { view: StateReader; block: ChainBlock; pending: boolean };

/** Resolves a block tag to a block (sealed, or the pending one). */
export function resolveBlock(be: SequencerBackend, tag: BlockTag | BlockTagOrHash): ChainBlock | undefined {
  if ("hash" in tag) {
    const b = be.chain.blockByHash(tag.hash);
    return b;
  }
  if ("tag" in tag) {
    switch (tag.tag) {
      case "earliest":
        return be.chain.block(0n);
      case "latest":
        return be.chain.latest;
      case "pending":
        return be.chain.head;
      case "safe":
      case "finalized":
        return be.chain.sealedBlock(be.finalizedNumber());
    }
  }
  const b = be.chain.block(tag.number);
  return b;
}

/**
 * The state to read for a tag. The sequencer holds the pending state and, through the latest
 * view, the state of the newest sealed block; older state is not kept in memory.
 */
export function stateAt(be: SequencerBackend, tag: BlockTagOrHash): StateAt {
  const b = resolveBlock(be, tag);
  if (b === undefined) throw new RpcError(RpcErrorCode.ResourceNotFound, "header not found");
  const latest = be.chain.latest;
  if (b.hash === null) return { view: be.state, block: b, pending: true };
  if (b.number === latest.number) return { view: be.latestView, block: b, pending: false };
  throw new RpcError(
    RpcErrorCode.InvalidInput,
    `historical state is not available: the sequencer keeps the latest (${latest.number}) and pending state; block ${b.number} was requested (query a full node for history)`,
  );
}

export function blockFor(be: SequencerBackend, at: StateAt): Block {
  return be.executor.blockTemplate(at.block);
}

export const addrKey = (a: string): string => a.toLowerCase();
export const hex = bytesToHex;
