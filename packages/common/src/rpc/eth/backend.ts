import type { Block } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex } from "@ethereumjs/util";
import type { BlockSealStat } from "../../chain/blockStats.ts";
import type { ChainEvents } from "../../chain/chainEvents.ts";
import type { ChainBlock, ChainStore } from "../../chain/chainStore.ts";
import type { ChainConfig } from "../../config/chainConfig.ts";
import type { CallRunner } from "../../execution/callRunner.ts";
import type { LatestView } from "../../state/latestView.ts";
import type { MemoryState, StateReader } from "../../state/memoryState.ts";
import type { StateTrieHandle } from "../../trie/trieClient.ts";
import { RpcError, RpcErrorCode } from "../errors.ts";
import type { BlockTag, BlockTagOrHash } from "../schemas.ts";

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

/** What `submit` reports about an accepted transaction. */
export interface SubmitResult {
  hashHex: string;
  sender: string;
  /** Waiting for an earlier nonce of its sender (EIP-7966 "not ready"). */
  queued: boolean;
}

/**
 * Everything the wallet RPC methods read from. The sequencer and the full node each provide one:
 * the same chain store and state structures, and their own way to take a transaction (the
 * sequencer's pool, or forwarding to the sequencer).
 */
export interface ChainBackend {
  config: ChainConfig;
  common: Common;
  chain: ChainStore;
  state: MemoryState;
  latestView: LatestView;
  trie: Pick<StateTrieHandle, "proof">;
  calls: CallRunner;
  events: ChainEvents;
  limits: RpcLimits;
  clientVersion: string;
  /** Newest block attested by the prover quorum (or latest, with no provers configured). */
  finalizedNumber(): bigint;
  /** The ethereumjs block execution sees for a chain block (eth_call, gas estimation). */
  blockTemplate(b: ChainBlock): Block;
  /**
   * Takes a raw transaction; throws an RpcError with the pool's message when refused. `prepared`
   * is what `prepareSubmit` returned for it (a JSON-RPC batch prepares all its transactions first).
   */
  submit(raw: Uint8Array, prepared?: unknown): Promise<SubmitResult>;
  /** Starts the work on a transaction that does not depend on the ones before it (optional). */
  prepareSubmit?(raw: Uint8Array): unknown;
  /** The nonce the sender's next transaction should use, counting transactions not yet in a block. */
  pendingNonce(address: string): Promise<bigint>;
  /** A transaction waiting for inclusion, formatted for eth_getTransactionByHash, or null. */
  pendingTx(hashHex: string): object | null;
  /** eth_syncing's answer. */
  syncing(): false | Record<string, string>;
  /** staccato_status's answer. */
  status(): Record<string, unknown>;
  /** How this node sealed block `n` (the sequencer keeps the newest blocks'); undefined if unknown. */
  blockStats?(n: bigint): BlockSealStat | undefined;
  /** Newest block such that it and every block before it are published to DA (the sequencer). */
  daPublished?(): bigint;
}

export type StateAt = { view: StateReader; block: ChainBlock; pending: boolean };

/** Resolves a block tag to a block (sealed, or the pending one). */
export function resolveBlock(be: ChainBackend, tag: BlockTag | BlockTagOrHash): ChainBlock | undefined {
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
export function stateAt(be: ChainBackend, tag: BlockTagOrHash): StateAt {
  const b = resolveBlock(be, tag);
  if (b === undefined) throw new RpcError(RpcErrorCode.ResourceNotFound, "header not found");
  const latest = be.chain.latest;
  if (b.hash === null) return { view: be.state, block: b, pending: true };
  if (b.number === latest.number) return { view: be.latestView, block: b, pending: false };
  throw new RpcError(
    RpcErrorCode.InvalidInput,
    `historical state is not available: this node keeps the latest (${latest.number}) and pending state in memory; block ${b.number} was requested`,
  );
}

export function blockFor(be: ChainBackend, at: StateAt): Block {
  return be.blockTemplate(at.block);
}

export const addrKey = (a: string): string => a.toLowerCase();
export const hex = bytesToHex;
