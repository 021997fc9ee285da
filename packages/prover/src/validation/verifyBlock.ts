import { type BlockHeader, createBlockHeaderFromRLP } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { type TypedTransaction, createTxFromRLP } from "@ethereumjs/tx";
import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  type ChainConfig,
  type ExecutionEngine,
  Executor,
  MemTrie,
  MemoryState,
  MissingStateError,
  MissingTrieNodeError,
  SigningDomain,
  StateTrie,
  decodeBundle,
  decodeWitness,
  decompressWitness,
  encodeConsensusReceipt,
  executionBlock,
  headOf,
  nextBaseFee,
  orBlooms,
  checkSequencerSignature,
  orderedTrieRoot,
  witnessHash,
  ErrorCode,
  StaccatoError,
} from "@staccato/common";
import { WitnessState, unreachableNodes } from "../witness/witnessState.ts";

/**
 * The bundle is not this block's authentic data (undecodable, not signed by the sequencer, a
 * transaction list or witness that does not belong to the header): the source is at fault, not the
 * block. Fetch it elsewhere; never attest on it.
 */
export class BadBundleError extends StaccatoError {
  constructor(message: string) {
    super(ErrorCode.BadBundle, message, undefined);
  }
}

export interface BlockVerdict {
  kind: "valid" | "invalid";
  /** Why the block is invalid; empty when valid. */
  reason: string;
  blockNumber: bigint;
  blockHash: Uint8Array;
  preStateRoot: Uint8Array;
  /** The state root re-execution reached (zero when it could not get that far). */
  postStateRoot: Uint8Array;
  witnessHash: Uint8Array;
  txs: number;
  witnessBytes: number;
}

/** The witness lacks a node or code that re-execution needed: neither valid nor invalid. */
export interface IncompleteWitness {
  kind: "incomplete";
  /** The missing trie node hash, code hash or header number. */
  missing: string;
  blockNumber: bigint;
  blockHash: Uint8Array;
}

export type VerifyOutcome = BlockVerdict | IncompleteWitness;

export interface VerifyContext {
  config: ChainConfig;
  common: Common;
  /** The hash the caller expects (from gossip); a bundle of another block is a `BadBundleError`. */
  expectedHash?: Uint8Array | null;
  /** The EVM that re-executes (default `reference`: independent of the sequencer's fast engine). */
  engine?: ExecutionEngine;
}

const ZERO32 = new Uint8Array(32);

/**
 * Re-verifies one block statelessly (DESIGN §5): authenticates the bundle (the sequencer's
 * signature on the header, the transactions against `transactionsRoot`, the witness headers
 * against `parentHash`, every witness node under the parent's state root), re-executes the
 * transactions on a state built only from the witness, and compares `stateRoot`, `receiptsRoot`,
 * `gasUsed` and `logsBloom` with the header. Reads nothing but the bundle.
 */
export async function verifyBundle(bundleBytes: Uint8Array, ctx: VerifyContext): Promise<VerifyOutcome> {
  const { config, common } = ctx;
  const bundle = bad(() => decodeBundle(bundleBytes));
  const { seal } = bundle;
  bad(() =>
    checkSequencerSignature(
      config,
      SigningDomain.block,
      seal.hash,
      seal.signature,
      `block ${bytesToHex(seal.hash)}`,
    ),
  );
  if (ctx.expectedHash && !equalsBytes(ctx.expectedHash, seal.hash))
    throw new BadBundleError(
      `bundle is of block ${bytesToHex(seal.hash)}, not ${bytesToHex(ctx.expectedHash)}`,
    );
  const header = bad(() =>
    createBlockHeaderFromRLP(seal.header, { common, skipConsensusFormatValidation: true }),
  );
  const blockNumber = header.number;
  const blockHash = seal.hash;
  if (!equalsBytes(orderedTrieRoot(bundle.txs), header.transactionsTrie))
    throw new BadBundleError(`transactions do not match block ${blockNumber}'s transactionsRoot`);

  const witnessEnc = bad(() => decompressWitness(bundle.witnessCompressed));
  const witness = bad(() => decodeWitness(witnessEnc));
  const wHash = witnessHash(witnessEnc);
  const headers = witness.headers.map((h) =>
    bad(() => createBlockHeaderFromRLP(h, { common, skipConsensusFormatValidation: true })),
  );
  const parent = headers.at(-1);
  if (parent === undefined || !equalsBytes(parent.hash(), header.parentHash))
    throw new BadBundleError(`witness headers do not end with block ${blockNumber}'s parent`);
  for (let i = 0; i + 1 < headers.length; i++)
    if (!equalsBytes(headers[i]!.hash(), headers[i + 1]!.parentHash))
      throw new BadBundleError("witness headers do not form a chain");
  const preStateRoot = parent.stateRoot;
  const db = MemTrie.nodeMap(witness.nodes);
  const stray = unreachableNodes(preStateRoot, db);
  if (stray > 0)
    throw new BadBundleError(`witness has ${stray} nodes that are not under the parent's stateRoot`);

  const verdict = (
    kind: "valid" | "invalid",
    reason: string,
    postStateRoot: Uint8Array = ZERO32,
  ): BlockVerdict => ({
    kind,
    reason,
    blockNumber,
    blockHash,
    preStateRoot,
    postStateRoot,
    witnessHash: wHash,
    txs: bundle.txs.length,
    witnessBytes: witnessEnc.length,
  });
  const incomplete = (err: unknown): IncompleteWitness | null => {
    if (err instanceof MissingTrieNodeError)
      return {
        kind: "incomplete",
        missing: `trie node ${err.message.split(" ").at(-1)}`,
        blockNumber,
        blockHash,
      };
    if (err instanceof MissingStateError)
      return { kind: "incomplete", missing: err.message, blockNumber, blockHash };
    return null;
  };

  // The header itself, against its parent.
  const headerProblem = checkHeader(header, parent, config);
  if (headerProblem !== null) return verdict("invalid", headerProblem);

  const state = new MemoryState(new WitnessState(preStateRoot, db, witness.codes));
  const hashes = new Map<bigint, Uint8Array>();
  for (const h of headers) hashes.set(h.number, h.hash());
  const headerHash = (n: bigint): Uint8Array => {
    const h = hashes.get(n);
    if (h === undefined) throw new MissingStateError(`missing header ${n} (BLOCKHASH)`, `header ${n}`);
    return h;
  };
  const executor = await Executor.create(common, state, async (n) => headerHash(n), {
    engine: ctx.engine ?? "reference",
    syncBlockHash: headerHash,
  });
  const template = executionBlock(headOf(header, blockHash), common);
  const receipts: Uint8Array[] = [];
  const bloom = new Uint8Array(256);
  let gasUsed = 0n;
  try {
    for (let i = 0; i < bundle.txs.length; i++) {
      let tx: TypedTransaction;
      try {
        tx = createTxFromRLP(bundle.txs[i]!, { common });
      } catch (err) {
        return verdict("invalid", `transaction ${i} is malformed: ${(err as Error).message.split("\n")[0]}`);
      }
      const out = await executor.execute(tx, template, gasUsed);
      if (!out.ok)
        return verdict(
          "invalid",
          `transaction ${i} (${bytesToHex(tx.hash())}) cannot be included: ${out.reason}`,
        );
      gasUsed = out.receipt.cumulativeGasUsed;
      orBlooms(bloom, out.bloom);
      receipts.push(encodeConsensusReceipt(out.receipt, tx.type, out.bloom));
    }
  } catch (err) {
    const inc = incomplete(err);
    if (inc !== null) return inc;
    throw err;
  }

  const trie = StateTrie.fromWitness(preStateRoot, db);
  trie.add(state.takeDiff().diff);
  let postStateRoot: Uint8Array;
  try {
    postStateRoot = await trie.commit();
  } catch (err) {
    const inc = incomplete(err);
    if (inc !== null) return inc;
    throw err;
  }

  const problems: string[] = [];
  if (!equalsBytes(postStateRoot, header.stateRoot))
    problems.push(
      `stateRoot mismatch: header ${bytesToHex(header.stateRoot)}, re-executed ${bytesToHex(postStateRoot)}`,
    );
  const receiptsRoot = orderedTrieRoot(receipts);
  if (!equalsBytes(receiptsRoot, header.receiptTrie))
    problems.push(
      `receiptsRoot mismatch: header ${bytesToHex(header.receiptTrie)}, re-executed ${bytesToHex(receiptsRoot)}`,
    );
  if (gasUsed !== header.gasUsed)
    problems.push(`gasUsed mismatch: header ${header.gasUsed}, re-executed ${gasUsed}`);
  if (!equalsBytes(bloom, header.logsBloom)) problems.push("logsBloom mismatch");
  return problems.length === 0
    ? verdict("valid", "", postStateRoot)
    : verdict("invalid", problems.join("; "), postStateRoot);
}

/** Header fields the sequencer derives from the parent and the chain config. */
function checkHeader(h: BlockHeader, parent: BlockHeader, config: ChainConfig): string | null {
  if (h.number !== parent.number + 1n) return `number ${h.number} does not follow parent ${parent.number}`;
  if (h.timestamp < parent.timestamp)
    return `timestamp ${h.timestamp} is before the parent's ${parent.timestamp}`;
  if (h.gasLimit !== config.blockGasLimit)
    return `gasLimit ${h.gasLimit} is not the chain's ${config.blockGasLimit}`;
  if (h.gasUsed > h.gasLimit) return `gasUsed ${h.gasUsed} exceeds gasLimit ${h.gasLimit}`;
  const expected = nextBaseFee(
    { baseFee: parent.baseFeePerGas ?? 0n, gasUsed: parent.gasUsed, gasLimit: parent.gasLimit },
    config.baseFee,
  );
  if (h.baseFeePerGas !== expected) return `baseFeePerGas ${h.baseFeePerGas} should be ${expected}`;
  return null;
}

function bad<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BadBundleError) throw err;
    throw new BadBundleError((err as Error).message);
  }
}
