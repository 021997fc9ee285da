import type { Block } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex } from "@ethereumjs/util";
import type { BlockSealStat } from "../../chain/blockStats.ts";
import type { ChainEvents } from "../../chain/chainEvents.ts";
import type { BlockHead, ChainBlock, ChainStore } from "../../chain/chainStore.ts";
import type { BlockEnv } from "../../chain/blockHeader.ts";
import type { ChainConfig } from "../../config/chainConfig.ts";
import type { CallRunner } from "../../execution/callRunner.ts";
import type { ChangedKeys, StateHistory } from "../../state/stateHistory.ts";
import type { AnyStateReader, AsyncStateReader } from "../../state/asyncState.ts";
import type { MemoryState } from "../../state/memoryState.ts";
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

/** The limits no flag sets, the same on every daemon (`syncTimeoutMs` comes from `--sync-timeout-ms`). */
export const RPC_LIMITS = {
  maxSyncTimeoutMs: 60_000,
  maxLogs: 10_000,
  maxBlockRange: 10_000,
  callGasCap: 50_000_000n,
} as const satisfies Omit<RpcLimits, "syncTimeoutMs">;

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
  /** State of recent sealed blocks. */
  history: StateHistory;
  /** State of blocks older than `history` holds, from disk (a full node's archive). */
  pastState?: {
    /** The oldest block whose state is kept. */
    floor(): bigint;
    /** The state at block `n`, or undefined when it is not kept. */
    at(n: bigint): AsyncStateReader | undefined;
    /** Adds the keys changed by the blocks after `n` it holds (eth_getProof at `n`); throws past `maxKeys`. */
    changedSince(n: bigint, into: ChangedKeys, maxKeys: number): Promise<void>;
  };
  /** `--state-history` as configured (for error messages). */
  stateHistory: number;
  /** `--preconfirmations on`: `latest` state and by-hash lookups see mini-blocks before their block seals. */
  preconfirmations: boolean;
  trie: Pick<StateTrieHandle, "proof" | "proofAt">;
  calls: CallRunner;
  events: ChainEvents;
  limits: RpcLimits;
  clientVersion: string;
  /** Newest block attested by the prover quorum (or latest, with no provers configured). */
  finalizedNumber(): bigint;
  /** The ethereumjs block execution sees for a chain block (eth_call, gas estimation). */
  blockTemplate(b: BlockEnv): Block;
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
  /**
   * Whether the transaction waits in this node's pool, so no block holds it: a wallet polling
   * for its receipt is answered without a lookup in the chain's archive (optional).
   */
  isPooled?(hashHex: string): boolean;
  /** eth_syncing's answer. */
  syncing(): false | Record<string, string>;
  /** staccato_status's answer. */
  status(): Record<string, unknown>;
  /** How this node sealed block `n` (the sequencer keeps the newest blocks'); undefined if unknown. */
  blockStats?(n: bigint): BlockSealStat | undefined;
  /** Newest block such that it and every block before it are published to DA (the sequencer). */
  daPublished?(): bigint;
}

/** `block`: the block the state is at (its head: its transactions are not read for this). */
export type StateAt = { view: AnyStateReader; block: BlockHead; pending: boolean };

/**
 * Resolves a block tag to a block (sealed, or the pending one). `latest` is the newest sealed
 * block and `earliest` the oldest block this node holds.
 */
export async function resolveBlock(
  be: ChainBackend,
  tag: BlockTag | BlockTagOrHash,
): Promise<ChainBlock | undefined> {
  if ("hash" in tag) return be.chain.getBlockByHash(tag.hash);
  if ("tag" in tag) {
    switch (tag.tag) {
      case "earliest":
        return be.chain.getBlock(be.chain.oldest);
      case "latest":
        return be.chain.latest;
      case "pending":
        return be.chain.head;
      case "safe":
      case "finalized":
        return be.chain.getSealedBlock(be.finalizedNumber());
    }
  }
  if (tag.number < be.chain.oldest) throw prunedBlocks(be, tag.number);
  return be.chain.getBlock(tag.number);
}

/** As `resolveBlock`, the block's head only: state reads at a block need nothing more. */
export async function resolveHead(be: ChainBackend, tag: BlockTagOrHash): Promise<BlockHead | undefined> {
  if ("hash" in tag) return be.chain.getBlockHeadByHash(tag.hash);
  if ("tag" in tag) {
    switch (tag.tag) {
      case "latest":
        return be.chain.latest;
      case "pending":
        return be.chain.head;
      default:
        return be.chain.getBlockHead(tagNumber(be, tag));
    }
  }
  if (tag.number < be.chain.oldest) throw prunedBlocks(be, tag.number);
  return be.chain.getBlockHead(tag.number);
}

/** Error 4444 for a block this node no longer keeps (`--history-retention`) or never held. */
export function prunedBlocks(be: ChainBackend, number: bigint): RpcError {
  return new RpcError(
    RpcErrorCode.PrunedHistory,
    `pruned history unavailable: this node keeps blocks ${be.chain.oldest} to ${be.chain.latest.number}; block ${number} was requested`,
  );
}

/** The number a block tag stands for now, without reading the block. */
export function tagNumber(be: ChainBackend, tag: BlockTag): bigint {
  if ("number" in tag) return tag.number;
  switch (tag.tag) {
    case "earliest":
      return be.chain.oldest;
    case "latest":
      return be.chain.latest.number;
    case "pending":
      return be.chain.head.number;
    case "safe":
    case "finalized":
      return be.finalizedNumber();
  }
}

/**
 * The state to read for a tag (DESIGN §1, MegaETH's Realtime API). `pending` and, with
 * preconfirmations on, `latest` (the default tag) read the newest mini-block's state, so a wallet
 * sees its transaction's effects as soon as it has the receipt. A block number or hash, `safe`,
 * `finalized`, `earliest` and (with preconfirmations off) `latest` read sealed blocks, from the
 * node's state history; a block it no longer keeps is error 4444.
 */
export async function stateAt(be: ChainBackend, tag: BlockTagOrHash): Promise<StateAt> {
  if ("tag" in tag && (tag.tag === "pending" || (tag.tag === "latest" && be.preconfirmations))) {
    return { view: be.state.committed, block: be.chain.head, pending: true };
  }
  const b = await resolveHead(be, tag);
  if (b === undefined) {
    throw new RpcError(RpcErrorCode.ResourceNotFound, "hash" in tag ? "block not found" : "header not found");
  }
  // A number naming the block being filled: its state so far, the newest mini-block's.
  if (b.hash === null) {
    if (be.preconfirmations) return { view: be.state.committed, block: b, pending: true };
    throw new RpcError(RpcErrorCode.ResourceNotFound, "header not found");
  }
  const view = be.history.at(b.number) ?? be.pastState?.at(b.number);
  if (view === undefined) throw prunedState(be, b.number);
  return { view, block: b, pending: false };
}

/** Error 4444 for a block whose state this node no longer keeps (or never had). */
export function prunedState(be: ChainBackend, number: bigint): RpcError {
  const oldest = be.pastState?.floor() ?? be.history.oldest;
  const latest = be.chain.latest.number;
  const advice =
    be.pastState === undefined
      ? "read older state from an archive full node"
      : "a full node with --state-history 0 keeps every block's state";
  return new RpcError(
    RpcErrorCode.PrunedHistory,
    `pruned history unavailable: this node keeps the state of blocks ${oldest} to ${latest} (--state-history ${be.stateHistory}); block ${number} was requested: ${advice}`,
  );
}

export function blockFor(be: ChainBackend, at: StateAt): Block {
  return be.blockTemplate(at.block);
}

export const addrKey = (a: string): string => a.toLowerCase();
export const hex = bytesToHex;
