import type { Common } from "@ethereumjs/common";
import { type TypedTransaction, createTxFromRLP } from "@ethereumjs/tx";
import { bytesToHex } from "@ethereumjs/util";
import { encodeConsensusReceipt } from "../../chain/blockHeader.ts";
import { type ChainBlock, type TxEntry, ZERO_BLOOM as ZERO_BLOOM_BYTES } from "../../chain/chainStore.ts";
import { orderedTrieRoot } from "../../chain/orderedTrie.ts";
import type { Log } from "../../types/chain.ts";
import { effectiveGasPrice } from "../../execution/callRunner.ts";

/**
 * The blockHash a preconfirmed receipt or log carries until its block seals (DESIGN §1): the zero
 * hash, and never any other value. Everything else in it is final.
 */
export const PRECONFIRMED_BLOCK_HASH = `0x${"00".repeat(32)}`;

export const qty = (v: bigint | number): string => `0x${v.toString(16)}`;
const ZERO_BLOOM = `0x${"00".repeat(256)}`;

/** A block's timestamp: its header's once sealed (a follower may have opened it before it knew). */
export function timestampOf(b: Pick<ChainBlock, "header" | "timestamp">): bigint {
  return b.header?.timestamp ?? b.timestamp;
}

export function blockHashHex(b: ChainBlock): string {
  return b.hash === null ? PRECONFIRMED_BLOCK_HASH : bytesToHex(b.hash);
}

/** A log as eth_getLogs, receipts and log subscriptions give it; `block` is the block it is in. */
export function formatLog(log: Log, tx: TxEntry, logIndex: number, block: ChainBlock): object {
  return {
    address: bytesToHex(log.address),
    topics: log.topics.map(bytesToHex),
    data: bytesToHex(log.data),
    blockNumber: qty(tx.blockNumber),
    blockHash: blockHashHex(block),
    blockTimestamp: qty(timestampOf(block)),
    transactionHash: tx.hashHex,
    transactionIndex: qty(tx.index),
    logIndex: qty(logIndex),
    removed: false,
  };
}

export function formatReceipt(tx: TxEntry, block: ChainBlock, common: Common): object {
  const parsed = parseTx(tx.raw, common);
  const r = tx.receipt;
  return {
    transactionHash: tx.hashHex,
    transactionIndex: qty(tx.index),
    blockHash: blockHashHex(block),
    blockNumber: qty(tx.blockNumber),
    from: bytesToHex(tx.sender),
    to: parsed.to === undefined ? null : parsed.to.toString(),
    cumulativeGasUsed: qty(r.cumulativeGasUsed),
    gasUsed: qty(r.gasUsed),
    effectiveGasPrice: qty(r.effectiveGasPrice),
    contractAddress: r.contractAddress === null ? null : bytesToHex(r.contractAddress),
    logs: r.logs.map((l, i) => formatLog(l, tx, tx.firstLogIndex + i, block)),
    logsBloom: bytesToHex(tx.bloom),
    type: qty(tx.type),
    status: qty(r.status),
  };
}

export function parseTx(raw: Uint8Array, common: Common): TypedTransaction {
  return createTxFromRLP(raw, { common });
}

/** A transaction as eth_getTransactionByHash returns it; `where` is null for a pending one. */
export function formatTx(
  tx: TypedTransaction,
  hashHex: string,
  from: string,
  where: { block: ChainBlock; index: number } | null,
): object {
  const j = tx.toJSON();
  const out: Record<string, unknown> = {
    hash: hashHex,
    type: qty(tx.type),
    nonce: qty(tx.nonce),
    from,
    to: tx.to === undefined ? null : tx.to.toString(),
    value: qty(tx.value),
    gas: qty(tx.gasLimit),
    input: bytesToHex(tx.data),
    blockHash: where === null ? null : blockHashHex(where.block),
    blockNumber: where === null ? null : qty(where.block.number),
    blockTimestamp: where === null ? null : qty(timestampOf(where.block)),
    transactionIndex: where === null ? null : qty(where.index),
    v: j.v,
    r: j.r,
    s: j.s,
  };
  if (tx.type === 0) {
    out.gasPrice = qty((tx as { gasPrice: bigint }).gasPrice);
    const v = tx.v ?? 0n;
    if (v > 28n) out.chainId = qty((v - 35n) / 2n);
  } else {
    out.chainId = qty(tx.common.chainId());
    out.accessList = j.accessList ?? [];
    out.yParity = j.v;
    if ("maxFeePerGas" in tx) {
      out.maxFeePerGas = qty(tx.maxFeePerGas);
      out.maxPriorityFeePerGas = qty(tx.maxPriorityFeePerGas);
      out.gasPrice = qty(where === null ? tx.maxFeePerGas : effectiveGasPrice(tx, where.block.baseFee));
    } else {
      out.gasPrice = qty((tx as { gasPrice: bigint }).gasPrice);
    }
    if (j.authorizationList !== undefined) out.authorizationList = j.authorizationList;
  }
  return out;
}

/** A block as eth_getBlockByNumber returns it. An unsealed (pending) block has null hash fields. */
export function formatBlock(
  b: ChainBlock,
  fullTxs: boolean,
  common: Common,
  parentHash: string | null,
): object {
  const h = b.header;
  const txs = fullTxs
    ? b.txs.map((t) =>
        formatTx(parseTx(t.raw, common), t.hashHex, bytesToHex(t.sender), { block: b, index: t.index }),
      )
    : b.txs.map((t) => t.hashHex);
  if (h === null) {
    // The block being filled (`pending`), in the spec's Block shape: its transactions and receipts
    // roots and bloom as they stand (they are final for the transactions so far); its hash and
    // state root are the preconfirmation placeholder until it seals (mini-blocks carry no state
    // root: it is computed once per block).
    const bloom = new Uint8Array(256);
    for (const t of b.txs)
      if (t.bloom !== ZERO_BLOOM_BYTES) for (let i = 0; i < 256; i++) bloom[i] = bloom[i]! | t.bloom[i]!;
    return {
      number: qty(b.number),
      hash: PRECONFIRMED_BLOCK_HASH,
      parentHash: parentHash ?? PRECONFIRMED_BLOCK_HASH,
      nonce: "0x0000000000000000",
      sha3Uncles: "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
      logsBloom: bytesToHex(bloom),
      transactionsRoot: bytesToHex(orderedTrieRoot(b.txs.map((t) => t.raw))),
      stateRoot: PRECONFIRMED_BLOCK_HASH,
      receiptsRoot: bytesToHex(
        orderedTrieRoot(b.txs.map((t) => encodeConsensusReceipt(t.receipt, t.type, t.bloom))),
      ),
      miner: bytesToHex(b.coinbase),
      difficulty: "0x0",
      totalDifficulty: "0x0",
      extraData: "0x",
      size: qty(b.txs.reduce((n, t) => n + t.raw.length, 0)),
      gasLimit: qty(b.gasLimit),
      gasUsed: qty(b.gasUsed),
      timestamp: qty(b.timestamp),
      transactions: txs,
      uncles: [],
      baseFeePerGas: qty(b.baseFee),
      mixHash: bytesToHex(b.prevRandao),
      withdrawals: [],
    };
  }
  return {
    number: qty(h.number),
    hash: bytesToHex(b.hash!),
    parentHash: bytesToHex(h.parentHash),
    nonce: bytesToHex(h.nonce),
    sha3Uncles: bytesToHex(h.uncleHash),
    logsBloom: h.logsBloom.length === 256 ? bytesToHex(h.logsBloom) : ZERO_BLOOM,
    transactionsRoot: bytesToHex(h.transactionsTrie),
    stateRoot: bytesToHex(h.stateRoot),
    receiptsRoot: bytesToHex(h.receiptTrie),
    miner: h.coinbase.toString(),
    difficulty: qty(h.difficulty),
    totalDifficulty: "0x0",
    extraData: bytesToHex(h.extraData),
    size: qty(h.serialize().length + b.txs.reduce((n, t) => n + t.raw.length, 0)),
    gasLimit: qty(h.gasLimit),
    gasUsed: qty(h.gasUsed),
    timestamp: qty(h.timestamp),
    transactions: txs,
    uncles: [],
    baseFeePerGas: qty(h.baseFeePerGas ?? 0n),
    mixHash: bytesToHex(h.mixHash),
    withdrawals: [],
    withdrawalsRoot: h.withdrawalsRoot === undefined ? undefined : bytesToHex(h.withdrawalsRoot),
    blobGasUsed: qty(h.blobGasUsed ?? 0n),
    excessBlobGas: qty(h.excessBlobGas ?? 0n),
    parentBeaconBlockRoot:
      h.parentBeaconBlockRoot === undefined ? undefined : bytesToHex(h.parentBeaconBlockRoot),
    requestsHash: h.requestsHash === undefined ? undefined : bytesToHex(h.requestsHash),
  };
}
