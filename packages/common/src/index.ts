export * from "./errors.ts";
export * from "./chain/blockHeader.ts";
export * from "./chain/blockStats.ts";
export * from "./chain/chainEvents.ts";
export * from "./chain/chainStore.ts";
export * from "./chain/chainArchive.ts";
export * from "./chain/blockSeal.ts";
export * from "./chain/historyRetention.ts";
export * from "./chain/txEntries.ts";
export * from "./chain/genesis.ts";
export * from "./chain/finality.ts";
export * from "./metrics/finalityMetrics.ts";
export * from "./chain/attestationGossip.ts";
export * from "./chain/ethCommon.ts";
export * from "./codec/chainCodec.ts";
export * from "./codec/reqCodec.ts";
export * from "./codec/rlpUtil.ts";
export * from "./codec/snapshotCodec.ts";
export * from "./codec/witnessCodec.ts";
export * from "./codec/attestationCodec.ts";
export * from "./codec/daCodec.ts";
export * from "./da/daStore.ts";
export * from "./da/daReader.ts";
export * from "./da/daFlags.ts";
export * from "./da/daGossip.ts";
export * from "./da/daHeadPoller.ts";
export * from "./config/chainConfig.ts";
export * from "./crypto/keccak.ts";
export * from "./crypto/secp256k1.ts";
export * from "./crypto/senderRecovery.ts";
export * from "./crypto/txSender.ts";
export * from "./crypto/signing.ts";
export * from "./crypto/sequencerSignature.ts";
export * from "./gossip/gossipChecks.ts";
export * from "./gossip/signedObjects.ts";
export * from "./log/logger.ts";
export * from "./state/stateHistory.ts";
export * from "./state/asyncState.ts";
export * from "./state/memoryState.ts";
export * from "./state/stateDiff.ts";
export * from "./trie/memTrie.ts";
export * from "./trie/stateTrie.ts";
export * from "./trie/trieClient.ts";
export * from "./types/chain.ts";
export * from "./util/abort.ts";
export * from "./util/durableFile.ts";
export * from "./util/hex.ts";
export * from "./util/turnBatch.ts";
export * from "./config/cli.ts";
export * from "./config/daemon.ts";
export * from "./config/daemonDefaults.ts";
export * from "./config/daemonFlags.ts";
export * from "./metrics/registry.ts";
export * from "./metrics/rpcMetrics.ts";
export {
  type HealthCheck,
  type MetricsServer,
  type MetricsServerDeps,
  type MetricsServerOpts,
  startMetricsServer,
} from "./metrics/server.ts";
export * from "./execution/callRunner.ts";
export * from "./execution/executor.ts";
export * from "./rpc/eth/index.ts";
export * from "./rpc/index.ts";
export * from "./rpc/debug/index.ts";
export * from "./rpc/ots/index.ts";
export * from "./p2p/index.ts";
