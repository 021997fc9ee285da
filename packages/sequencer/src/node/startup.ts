import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Common } from "@ethereumjs/common";
import { bytesToHex } from "@ethereumjs/util";
import {
  ChainArchive,
  type ChainBlock,
  type ChainConfig,
  ChainStore,
  type Logger,
  MemoryState,
  type SigningKey,
  type StateDiff,
  type WorkerStateTrie,
  chainConfigToJson,
  devChainConfig,
  genesisArchived,
  loadChainConfig,
  randomPrivateKey,
  readSigningKeyFile,
  SEQUENCER_KEY_FILE,
  type Closer,
  StartupError,
} from "@staccato/common";
import { ClassicLevel } from "classic-level";
import { readLatestSnapshot } from "../storage/snapshot.ts";
import { WalCorruptError, WalRecordType, migrateSingleFileWal, readWalDir } from "../storage/wal.ts";
import { decodeBlockOpen } from "../storage/walCodec.ts";
import type { SequencerOptions } from "./options.ts";

/**
 * The steps of a sequencer's start that read what is on disk (key, chain config, history store,
 * write-ahead log, state snapshot) and rebuild the chain and state from it, before the log replay.
 */

type WalDirRead = ReturnType<typeof readWalDir>;
type Genesis = { block: ChainBlock; diff: StateDiff };

export function loadOrCreateKey(o: SequencerOptions, log: Logger): SigningKey {
  const path = o.keyFile ?? join(o.dataDir, SEQUENCER_KEY_FILE);
  if (!existsSync(path)) {
    if (!o.dev)
      throw new StartupError(
        `sequencer key file ${path} does not exist (pass --key-file, or --dev to generate one)`,
      );
    const key = randomPrivateKey();
    writeFileSync(path, `${bytesToHex(key)}\n`, { mode: 0o600 });
    chmodSync(path, 0o600);
    log.info({ path }, "generated a sequencer key");
  }
  try {
    return readSigningKeyFile(path);
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
}

export function loadConfig(o: SequencerOptions, sequencerAddress: string, log: Logger): ChainConfig {
  let config: ChainConfig;
  if (o.chain !== undefined) config = loadChainConfig(o.chain);
  else if (o.dev) {
    const path = join(o.dataDir, "chain.json");
    if (existsSync(path)) config = loadChainConfig(path);
    else {
      config = devChainConfig({ sequencer: sequencerAddress });
      writeFileSync(path, `${chainConfigToJson(config)}\n`);
      log.info({ path, chainId: config.chainId }, "generated a dev chain config");
    }
  } else throw new StartupError("no chain config: pass --chain <file>, or --dev for a generated one");
  if (config.sequencer !== sequencerAddress.toLowerCase()) {
    throw new StartupError(
      `the key controls ${sequencerAddress}, but the chain config names ${config.sequencer} as sequencer`,
    );
  }
  return config;
}

/** The mini-block and block intervals: the flags', else the chain config's. */
export function intervals(
  o: SequencerOptions,
  config: ChainConfig,
): { miniBlockMs: number; blockMs: number } {
  const miniBlockMs = o.miniBlockMs ?? config.miniBlockMs;
  const blockMs = o.blockMs ?? config.blockMs;
  if (blockMs < miniBlockMs) throw new StartupError("--block-ms must be at least --mini-block-ms");
  return { miniBlockMs, blockMs };
}

/** A data dir belongs to one chain: refuse to replay a log written for another genesis. */
export function checkGenesis(dataDir: string, genesisHash: string): void {
  const path = join(dataDir, "genesis.hash");
  if (!existsSync(path)) {
    writeFileSync(path, `${genesisHash}\n`);
    return;
  }
  const stored = readFileSync(path, "utf8").trim();
  if (stored !== genesisHash) {
    throw new StartupError(
      `data dir ${dataDir} holds chain ${stored}, but the chain config gives genesis ${genesisHash}`,
    );
  }
}

export interface HistoryStore {
  db: ClassicLevel<Uint8Array, Uint8Array>;
  archive: ChainArchive;
  /** The newest block on disk at the start; undefined for a new data dir. */
  archivedThrough: bigint | undefined;
}

/** Opens the sealed history on disk (blocks leave memory once written there), with genesis in it. */
export async function openHistoryStore(
  o: SequencerOptions,
  common: Common,
  genesis: ChainBlock,
  closers: Closer[],
): Promise<HistoryStore> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(o.dataDir, "history"), {
    keyEncoding: "view",
    valueEncoding: "view",
  });
  await db.open();
  closers.push(() => db.close());
  const archive = new ChainArchive(db, common);
  const archivedThrough = await archive.lastBlock();
  if (archivedThrough === undefined) await db.batch(archive.blockOps(genesisArchived(genesis)));
  return { db, archive, archivedThrough };
}

export interface LogRead {
  dir: string;
  read: WalDirRead;
  /** The first block the log opens (1 for a log that starts at genesis). */
  firstOpen: bigint;
}

/** Reads the write-ahead log's segments; a log from before segments becomes the first one. */
export function readWriteAheadLog(o: SequencerOptions, log: Logger): LogRead {
  const dir = join(o.dataDir, "wal");
  if (migrateSingleFileWal(join(o.dataDir, "sequencer.wal"), dir))
    log.info({ dir }, "moved the write-ahead log into segments");
  let read: WalDirRead;
  try {
    read = readWalDir(dir);
  } catch (err) {
    if (err instanceof WalCorruptError) throw new StartupError(err.message);
    throw err;
  }
  if (read.droppedBytes > 0) {
    log.warn(
      { path: read.segments.at(-1)?.path, droppedBytes: read.droppedBytes },
      "dropped a torn record at the end of the write-ahead log",
    );
  }
  const first = read.records[0];
  const firstOpen = first?.type === WalRecordType.blockOpen ? decodeBlockOpen(first.payload).number : 1n;
  return { dir, read, firstOpen };
}

/**
 * The chain before the log's replay: genesis, or, when segments before the first one kept were
 * deleted (their blocks are in the history store), the block before the log's first.
 */
export async function loadChain(
  o: SequencerOptions,
  history: HistoryStore,
  genesis: ChainBlock,
  firstOpen: bigint,
): Promise<ChainStore> {
  const { archive } = history;
  const window = { archive, retain: o.blockCache, retainTxs: o.blockCacheTxs };
  const chain =
    firstOpen > 1n
      ? new ChainStore(0n, {
          ...window,
          first: firstOpen - 1n,
          before: await archive.lastMiniBlockBefore(firstOpen - 1n),
        })
      : new ChainStore(0n, window);
  // History deleted past --history-retention stays deleted: `earliest` is the oldest block kept.
  const oldestKept = await archive.firstBlock();
  if (oldestKept !== undefined) chain.prunedBelow(oldestKept);
  if (firstOpen > 1n) {
    const prev = await archive.block(firstOpen - 1n);
    if (prev === undefined)
      throw new StartupError(
        `the write-ahead log starts at block ${firstOpen}, but block ${firstOpen - 1n} is not in the history store (${join(o.dataDir, "history")})`,
      );
    chain.addBlock(prev);
    // BLOCKHASH, witnesses and attestations reach back further than the log.
    await chain.loadSealedRefs();
  } else chain.addBlock(genesis);
  // Blocks the write-ahead log replays that are on disk already leave memory as they are sealed.
  chain.archived(history.archivedThrough ?? 0n);
  return chain;
}

export interface BaseState {
  state: MemoryState;
  /** The block the state is of: the snapshot's, or 0 (genesis). */
  blockNumber: bigint;
  /** The snapshot it was loaded from, null for genesis. */
  snapshotBlock: bigint | null;
}

/**
 * The state the log's replay starts from: the newest intact snapshot, else genesis. Either way
 * the trie, filled with it, must hash to its state root.
 */
export async function loadBaseState(
  o: SequencerOptions,
  genesis: Genesis,
  trie: WorkerStateTrie,
  firstOpen: bigint,
  log: Logger,
): Promise<BaseState> {
  const snapshot = readLatestSnapshot(o.dataDir, (file, err) =>
    log.warn({ file, err: err.message }, "skipping a corrupt state snapshot"),
  );
  const base: { blockNumber: bigint; stateRoot: Uint8Array; diff: StateDiff } = snapshot ?? {
    blockNumber: 0n,
    stateRoot: genesis.block.header!.stateRoot,
    diff: genesis.diff,
  };
  const state = new MemoryState();
  state.applyDiff(base.diff);
  trie.add(base.diff);
  const baseRoot = (await trie.commit()).root;
  if (bytesToHex(baseRoot) !== bytesToHex(base.stateRoot)) {
    throw new StartupError(`state snapshot of block ${base.blockNumber} does not hash to its state root`);
  }
  if (base.blockNumber < firstOpen - 1n)
    throw new StartupError(
      `the write-ahead log starts at block ${firstOpen}, but the newest state snapshot is of block ${base.blockNumber}: the state between cannot be rebuilt`,
    );
  if (snapshot !== null)
    log.info(
      { block: Number(snapshot.blockNumber), accounts: snapshot.diff.length },
      "loaded state snapshot",
    );
  return { state, blockNumber: base.blockNumber, snapshotBlock: snapshot?.blockNumber ?? null };
}
