import type { Common } from "@ethereumjs/common";
import {
  CallRunner,
  type ChainBackend,
  type ChainConfig,
  type ChainEvents,
  type FinalityTracker,
  RPC_LIMITS,
  executionBlock,
} from "@staccato/common";
import type { LiveReplica } from "../node/replica.ts";
import type { FullnodeOptions } from "../node/options.ts";
import type { FullnodeStore } from "../store/fullnodeStore.ts";
import { type SequencerClient, forwardingHooks } from "./forwarding.ts";

export const CLIENT_VERSION = "staccato-fullnode/0.1.0";

export interface FullnodeBackendDeps {
  config: ChainConfig;
  common: Common;
  live: LiveReplica;
  store: FullnodeStore;
  events: ChainEvents;
  finality: FinalityTracker;
  /** Where transactions and pending-state reads are forwarded. */
  sequencer: SequencerClient;
  /** The oldest block whose state is served (`--state-history`). */
  stateFloor: () => bigint;
  peers: () => number;
}

/**
 * What the full node's RPC reads: the replica's chain and state (whichever replica is current,
 * across re-syncs), older state from the store's change sets, and the sequencer for what only it
 * knows (submissions, pending nonces).
 */
export function fullnodeBackend(o: FullnodeOptions, d: FullnodeBackendDeps): ChainBackend {
  const { config, common, live, store, finality } = d;
  const replica = () => live.current;
  const startingBlock = replica().meta.verifiedBlock;
  return {
    config,
    common,
    get chain() {
      return replica().chain;
    },
    get state() {
      return replica().state;
    },
    get history() {
      return replica().history;
    },
    preconfirmations: o.preconfirmations === "on",
    stateHistory: o.stateHistory,
    pastState: {
      floor: d.stateFloor,
      at: (n) => {
        const through = replica().history.archivedBlock;
        const after = through === null ? undefined : replica().history.at(through);
        return n < d.stateFloor() || after === undefined ? undefined : store.states.at(n, after);
      },
      changedSince: (n, into, maxKeys) => store.states.changedSince(n, into, maxKeys),
    },
    get trie() {
      return replica().trie;
    },
    calls: new CallRunner(common, (n) => replica().chain.getSealedHash(n)),
    events: d.events,
    limits: { syncTimeoutMs: o.syncTimeoutMs, ...RPC_LIMITS },
    clientVersion: CLIENT_VERSION,
    finalizedNumber: () => finality.finalized(),
    blockTemplate: (b) => executionBlock(b, common),
    ...forwardingHooks(d.sequencer, (a) => replica().state.account(a)?.nonce ?? 0n),
    syncing: () => {
      const f = replica().follower;
      if (!f.wants().behind) return false;
      return {
        startingBlock: `0x${startingBlock.toString(16)}`,
        currentBlock: `0x${f.verifiedBlock.toString(16)}`,
        highestBlock: `0x${f.highestSealedBlock.toString(16)}`,
      };
    },
    status: () => {
      const f = replica().follower;
      return {
        chainId: config.chainId,
        role: "fullnode",
        verifiedBlock: Number(f.verifiedBlock),
        appliedMiniBlock: Number(f.appliedMiniBlock),
        highestBlock: Number(f.highestBlock),
        peers: d.peers(),
        healthy: live.problem === null,
        finalizedBlock: Number(finality.finalized()),
      };
    },
  };
}
