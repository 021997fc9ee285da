import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import { type RpcMethodTable, rpcMethod } from "../dispatch.ts";
import { RpcError, RpcErrorCode, executionReverted, invalidInput, invalidParams } from "../errors.ts";
import * as s from "../schemas.ts";
import type { BlockTag } from "../schemas.ts";
import { z } from "zod";
import type { CallRequest } from "../../execution/callRunner.ts";
import { revertReason } from "../../execution/callRunner.ts";
import type { ChainBlock, LogFilter } from "../../chain/chainStore.ts";
import {
  type ChainBackend,
  blockFor,
  prunedBlocks,
  resolveBlock,
  resolveHead,
  stateAt,
  tagNumber,
} from "./backend.ts";
import { formatBlock, formatLog, formatReceipt, formatTx, parseTx, qty } from "./format.ts";
import { type TxCallObject, txCallObject } from "./callTx.ts";
import { proofAtBlock } from "./proofAt.ts";
import type { AccountProof } from "../../trie/stateTrie.ts";

const EMPTY = new Uint8Array(0);
/** The tip eth_maxPriorityFeePerGas suggests: 0.001 gwei. */
export const SUGGESTED_TIP = 1_000_000n;

const optional = <T extends z.ZodType>(t: T) => t.optional();
const hexBytes = s.hexBytes;

/** A call object for eth_call / eth_estimateGas: the one every call-taking method reads. */
export const callObject = txCallObject;
type CallObject = TxCallObject;

export const filterObject = z
  .looseObject({
    fromBlock: optional(s.blockTag),
    toBlock: optional(s.blockTag),
    blockHash: optional(s.hash32),
    address: optional(z.union([s.address, z.array(s.address)])),
    topics: optional(z.array(z.union([z.null(), s.hash32, z.array(z.union([s.hash32, z.null()]))]))),
  })
  .describe("filter");
export type FilterObject = z.output<typeof filterObject>;

export function toCallRequest(c: CallObject): CallRequest {
  if (c.data !== undefined && c.input !== undefined && bytesToHex(c.data) !== bytesToHex(c.input)) {
    throw invalidParams('both "data" and "input" are set and differ');
  }
  return {
    from: c.from === undefined ? undefined : hexToBytes(c.from as `0x${string}`),
    to: c.to === undefined || c.to === null ? undefined : hexToBytes(c.to as `0x${string}`),
    gas: c.gas,
    value: c.value,
    data: c.input ?? c.data ?? EMPTY,
    accessList: c.accessList as CallRequest["accessList"],
  };
}

/**
 * Turns a log filter object into block bounds and topic sets. A `query` (eth_getLogs,
 * eth_getFilterLogs) reads blocks that exist: its range is limited, and with preconfirmations off
 * it stops at the latest sealed block unless toBlock is `pending`. An installed filter or
 * subscription (`query` false) only sees new blocks, and its range may be open-ended.
 */
export async function toLogFilter(be: ChainBackend, f: FilterObject, query = true): Promise<LogFilter> {
  let from: bigint;
  let to: bigint;
  if (f.blockHash !== undefined) {
    if (f.fromBlock !== undefined || f.toBlock !== undefined)
      throw invalidParams("cannot specify both blockHash and fromBlock/toBlock");
    const b = await be.chain.getBlockByHash(f.blockHash);
    if (b === undefined) throw new RpcError(RpcErrorCode.ResourceNotFound, "unknown block");
    from = to = b.number;
  } else {
    from = tagNumber(be, f.fromBlock ?? { tag: "latest" });
    to = tagNumber(be, f.toBlock ?? { tag: "latest" });
    if (from > to) throw invalidParams("fromBlock is after toBlock");
    if (query && to < be.chain.oldest) throw prunedBlocks(be, to);
    // Logs of the block being filled are preconfirmed: `pending` always reaches them; a number
    // does only with preconfirmations on (strict mode answers an empty range instead).
    const pendingTo = f.toBlock !== undefined && "tag" in f.toBlock && f.toBlock.tag === "pending";
    if (query && !pendingTo && !be.preconfirmations && to > be.chain.latest.number)
      to = be.chain.latest.number;
    if (query && to - from >= BigInt(be.limits.maxBlockRange)) {
      throw new RpcError(
        RpcErrorCode.LimitExceeded,
        `block range too large: at most ${be.limits.maxBlockRange} blocks per query`,
      );
    }
  }
  return { fromBlock: from, toBlock: to, ...logMatchers(f) };
}

/** A filter object's address and topic sets. */
export function logMatchers(f: FilterObject): Pick<LogFilter, "addresses" | "topics"> {
  const addresses =
    f.address === undefined ? null : new Set(Array.isArray(f.address) ? f.address : [f.address]);
  const topics = (f.topics ?? []).map((t) => {
    if (t === null) return null;
    if (Array.isArray(t)) return t.includes(null) ? null : new Set(t as string[]);
    return new Set([t]);
  });
  return { addresses, topics };
}

export async function getLogs(be: ChainBackend, f: LogFilter): Promise<object[]> {
  const out: object[] = [];
  for await (const l of be.chain.logs(f)) {
    if (out.length >= be.limits.maxLogs) {
      throw new RpcError(
        RpcErrorCode.LimitExceeded,
        `query returned more than ${be.limits.maxLogs} results; narrow the block range`,
      );
    }
    out.push(formatLog(l.log, l.tx, l.logIndex, l.block));
  }
  return out;
}

async function blockByTag(be: ChainBackend, tag: BlockTag): Promise<ChainBlock | undefined> {
  const b = await resolveBlock(be, tag);
  if (b === undefined) return undefined;
  if (b.hash === null && !("tag" in tag && tag.tag === "pending")) return undefined;
  return b;
}

async function parentHashOf(be: ChainBackend, b: ChainBlock): Promise<string | null> {
  if (b.header !== null) return bytesToHex(b.header.parentHash);
  const p = await be.chain.getBlock(b.number - 1n);
  return p?.hash === null || p === undefined ? null : bytesToHex(p.hash);
}

async function feeHistory(
  be: ChainBackend,
  count: number,
  newest: ChainBlock,
  percentiles: number[] | undefined,
) {
  const last = newest.hash === null ? newest.number - 1n : newest.number;
  const floor = be.chain.oldest;
  const first = last - BigInt(count) + 1n > floor ? last - BigInt(count) + 1n : floor;
  const baseFees: string[] = [];
  const ratios: number[] = [];
  const rewards: string[][] = [];
  for (let n = first; n <= last; n++) {
    const b = (await be.chain.getBlock(n))!;
    baseFees.push(qty(b.baseFee));
    ratios.push(Number(b.gasUsed) / Number(b.gasLimit));
    if (percentiles !== undefined) rewards.push(rewardPercentiles(b, percentiles));
  }
  const next = await be.chain.getBlock(last + 1n);
  baseFees.push(qty(next?.baseFee ?? be.chain.head.baseFee));
  return {
    oldestBlock: qty(first),
    baseFeePerGas: baseFees,
    gasUsedRatio: ratios,
    ...(percentiles !== undefined ? { reward: rewards } : {}),
  };
}

function rewardPercentiles(b: ChainBlock, percentiles: number[]): string[] {
  if (b.txs.length === 0) return percentiles.map(() => "0x0");
  const tips = b.txs
    .map((t) => ({ tip: t.receipt.effectiveGasPrice - b.baseFee, gas: t.receipt.gasUsed }))
    .sort((x, y) => (x.tip < y.tip ? -1 : x.tip > y.tip ? 1 : 0));
  const total = tips.reduce((n, t) => n + t.gas, 0n);
  return percentiles.map((p) => {
    const threshold = (total * BigInt(Math.round(p * 100))) / 10_000n;
    let acc = 0n;
    for (const t of tips) {
      acc += t.gas;
      if (acc >= threshold) return qty(t.tip);
    }
    return qty(tips[tips.length - 1]!.tip);
  });
}

/** The EVM's error when the caller cannot pay the call's value. */
const INSUFFICIENT_BALANCE = "insufficient balance";

/**
 * geth's wording for call failures wallets match on: a value above the sender's balance is
 * "insufficient funds for transfer" (viem InsufficientFundsError, ethers INSUFFICIENT_FUNDS), not
 * "gas required exceeds allowance", which viem reads as a revert.
 */
function callErrorMessage(error: string): string {
  return error === INSUFFICIENT_BALANCE ? "insufficient funds for transfer" : error;
}

function revertError(data: Uint8Array): RpcError {
  return executionReverted(bytesToHex(data), revertReason(data));
}

/** The methods `ethApi` answers. */
export const ETH_METHODS = [
  "web3_clientVersion",
  "web3_sha3",
  "net_version",
  "net_listening",
  "net_peerCount",
  "eth_chainId",
  "eth_syncing",
  "eth_accounts",
  "eth_coinbase",
  "eth_mining",
  "eth_hashrate",
  "eth_protocolVersion",
  "eth_blockNumber",
  "eth_getBlockByNumber",
  "eth_getBlockByHash",
  "eth_getBlockTransactionCountByNumber",
  "eth_getBlockTransactionCountByHash",
  "eth_getUncleCountByBlockNumber",
  "eth_getUncleCountByBlockHash",
  "eth_getTransactionByBlockNumberAndIndex",
  "eth_getTransactionByBlockHashAndIndex",
  "eth_getBalance",
  "eth_getTransactionCount",
  "eth_getCode",
  "eth_getStorageAt",
  "eth_call",
  "eth_estimateGas",
  "eth_gasPrice",
  "eth_maxPriorityFeePerGas",
  "eth_blobBaseFee",
  "eth_feeHistory",
  "eth_sendRawTransaction",
  "eth_getTransactionByHash",
  "eth_getTransactionReceipt",
  "eth_getBlockReceipts",
  "eth_getLogs",
  "eth_getProof",
] as const;
export type EthMethod = (typeof ETH_METHODS)[number];

/** The wallet set of methods (DESIGN §8), answered from the node's own memory. */
export function ethApi(be: ChainBackend): RpcMethodTable<EthMethod> {
  // `be.chain` is read on every call: a full node swaps in a rebuilt chain when it re-syncs.
  const { common } = be;
  const m: RpcMethodTable<EthMethod> = {
    web3_clientVersion: rpcMethod(z.tuple([]), () => be.clientVersion),
    web3_sha3: rpcMethod(z.tuple([hexBytes]), ([d]) => bytesToHex(common.customCrypto.keccak256!(d))),
    net_version: rpcMethod(z.tuple([]), () => String(be.config.chainId)),
    net_listening: rpcMethod(z.tuple([]), () => true),
    net_peerCount: rpcMethod(z.tuple([]), () => "0x0"),
    eth_chainId: rpcMethod(z.tuple([]), () => qty(be.config.chainId)),
    eth_syncing: rpcMethod(z.tuple([]), () => be.syncing()),
    eth_accounts: rpcMethod(z.tuple([]), () => []),
    eth_coinbase: rpcMethod(z.tuple([]), () => be.config.sequencer),
    eth_mining: rpcMethod(z.tuple([]), () => false),
    eth_hashrate: rpcMethod(z.tuple([]), () => "0x0"),
    eth_protocolVersion: rpcMethod(z.tuple([]), () => "0x41"),
    eth_blockNumber: rpcMethod(z.tuple([]), () => qty(be.chain.latest.number)),

    eth_getBlockByNumber: rpcMethod(z.tuple([s.blockTag, s.bool.optional()]), async ([tag, full]) => {
      const b = await blockByTag(be, tag);
      return b === undefined ? null : formatBlock(b, full === true, common, await parentHashOf(be, b));
    }),
    eth_getBlockByHash: rpcMethod(z.tuple([s.hash32, s.bool.optional()]), async ([hash, full]) => {
      const b = await be.chain.getBlockByHash(hash);
      return b === undefined ? null : formatBlock(b, full === true, common, await parentHashOf(be, b));
    }),
    eth_getBlockTransactionCountByNumber: rpcMethod(z.tuple([s.blockTag]), async ([tag]) => {
      const b = await blockByTag(be, tag);
      return b === undefined ? null : qty(b.txs.length);
    }),
    eth_getBlockTransactionCountByHash: rpcMethod(z.tuple([s.hash32]), async ([hash]) => {
      const b = await be.chain.getBlockByHash(hash);
      return b === undefined ? null : qty(b.txs.length);
    }),
    eth_getUncleCountByBlockNumber: rpcMethod(z.tuple([s.blockTag]), () => "0x0"),
    eth_getUncleCountByBlockHash: rpcMethod(z.tuple([s.hash32]), () => "0x0"),
    eth_getTransactionByBlockNumberAndIndex: rpcMethod(
      z.tuple([s.blockTag, s.quantity]),
      async ([tag, i]) => {
        const b = await blockByTag(be, tag);
        const t = b?.txs[Number(i)];
        return t === undefined
          ? null
          : formatTx(parseTx(t.raw, common), t.hashHex, bytesToHex(t.sender), { block: b!, index: t.index });
      },
    ),
    eth_getTransactionByBlockHashAndIndex: rpcMethod(z.tuple([s.hash32, s.quantity]), async ([hash, i]) => {
      const b = await be.chain.getBlockByHash(hash);
      const t = b?.txs[Number(i)];
      return t === undefined
        ? null
        : formatTx(parseTx(t.raw, common), t.hashHex, bytesToHex(t.sender), { block: b!, index: t.index });
    }),

    eth_getBalance: rpcMethod(z.tuple([s.address, s.blockTagOrHash.optional()]), async ([a, tag]) => {
      const at = await stateAt(be, tag ?? { tag: "latest" });
      return qty((await at.view.account(a))?.balance ?? 0n);
    }),
    eth_getTransactionCount: rpcMethod(
      z.tuple([s.address, s.blockTagOrHash.optional()]),
      async ([a, tag]) => {
        // "pending" also counts transactions still waiting in the sequencer's pool (what a wallet
        // signs its next transaction with); `latest` is the newest mini-block's nonce.
        if (tag !== undefined && "tag" in tag && tag.tag === "pending") return qty(await be.pendingNonce(a));
        const at = await stateAt(be, tag ?? { tag: "latest" });
        return qty((await at.view.account(a))?.nonce ?? 0n);
      },
    ),
    eth_getCode: rpcMethod(z.tuple([s.address, s.blockTagOrHash.optional()]), async ([a, tag]) => {
      const at = await stateAt(be, tag ?? { tag: "latest" });
      return bytesToHex((await at.view.code(a)) ?? EMPTY);
    }),
    eth_getStorageAt: rpcMethod(
      z.tuple([s.address, s.quantity.describe("slot"), s.blockTagOrHash.optional()]),
      async ([a, slot, tag]) => {
        if (slot >= 1n << 256n) throw invalidParams("param 1 (slot): larger than 32 bytes");
        const at = await stateAt(be, tag ?? { tag: "latest" });
        const key = `0x${slot.toString(16).padStart(64, "0")}`;
        const v = (await at.view.slot(a, key)) ?? EMPTY;
        return `0x${Buffer.from(v).toString("hex").padStart(64, "0")}`;
      },
    ),

    eth_call: rpcMethod(
      z.tuple([callObject, s.blockTagOrHash.optional(), z.unknown().optional()]),
      async ([c, tag]) => {
        const at = await stateAt(be, tag ?? { tag: "latest" });
        const r = await be.calls.call(at.view, blockFor(be, at), toCallRequest(c), be.limits.callGasCap);
        if (r.ok) return bytesToHex(r.returnValue);
        if (r.reverted) throw revertError(r.returnValue);
        throw invalidInput(callErrorMessage(r.error));
      },
    ),
    eth_estimateGas: rpcMethod(
      z.tuple([callObject, s.blockTagOrHash.optional(), z.unknown().optional()]),
      async ([c, tag]) => {
        const at = await stateAt(be, tag ?? { tag: "pending" });
        const r = await be.calls.estimate(at.view, blockFor(be, at), toCallRequest(c), be.limits.callGasCap);
        if ("gas" in r) return qty(r.gas);
        if (!r.ok && r.reverted) throw revertError(r.returnValue);
        const error = (r as { error: string }).error;
        if (error === INSUFFICIENT_BALANCE) throw invalidInput(callErrorMessage(error));
        throw invalidInput(`gas required exceeds allowance (${be.limits.callGasCap}): ${error}`);
      },
    ),

    eth_gasPrice: rpcMethod(z.tuple([]), () => qty(be.chain.head.baseFee + SUGGESTED_TIP)),
    eth_maxPriorityFeePerGas: rpcMethod(z.tuple([]), () => qty(SUGGESTED_TIP)),
    eth_blobBaseFee: rpcMethod(z.tuple([]), () => "0x1"),
    eth_feeHistory: rpcMethod(
      z.tuple([
        z.union([s.quantity, z.number().int()]).describe("blockCount"),
        s.blockTag,
        z.array(z.number().min(0).max(100)).optional(),
      ]),
      async ([count, tag, percentiles]) => {
        const n = Number(count);
        if (n < 1 || n > 1024) throw invalidParams("param 0 (blockCount): must be between 1 and 1024");
        const newest = await resolveBlock(be, tag);
        if (newest === undefined) throw new RpcError(RpcErrorCode.ResourceNotFound, "header not found");
        return feeHistory(be, n, newest, percentiles);
      },
    ),

    eth_sendRawTransaction: rpcMethod(
      z.tuple([hexBytes.describe("transaction")]),
      async ([raw], _ctx, prepared) => (await be.submit(raw, prepared)).hashHex,
      be.prepareSubmit === undefined ? undefined : ([raw]) => be.prepareSubmit!(raw),
    ),

    eth_getTransactionByHash: rpcMethod(z.tuple([s.hash32]), async ([hash]) => {
      if (be.isPooled?.(hash) === true) return be.pendingTx(hash);
      const found = await be.chain.findTx(hash);
      if (found !== undefined) {
        const { tx: t, block } = found;
        // Strict mode: a transaction whose block has not sealed is still pending.
        const where = block.hash === null && !be.preconfirmations ? null : { block, index: t.index };
        return formatTx(parseTx(t.raw, common), t.hashHex, bytesToHex(t.sender), where);
      }
      return be.pendingTx(hash);
    }),
    eth_getTransactionReceipt: rpcMethod(z.tuple([s.hash32]), async ([hash]) => {
      if (be.isPooled?.(hash) === true) return null;
      const found = await be.chain.findTx(hash);
      if (found === undefined) return null;
      if (found.block.hash === null && !be.preconfirmations) return null;
      return formatReceipt(found.tx, found.block, common);
    }),
    eth_getBlockReceipts: rpcMethod(z.tuple([s.blockTagOrHash]), async ([tag]) => {
      const b = "hash" in tag ? await be.chain.getBlockByHash(tag.hash) : await blockByTag(be, tag);
      return b === undefined ? null : b.txs.map((t) => formatReceipt(t, b, common));
    }),
    eth_getLogs: rpcMethod(z.tuple([filterObject]), async ([f]) => getLogs(be, await toLogFilter(be, f))),

    eth_getProof: rpcMethod(
      z.tuple([
        s.address,
        z
          .array(s.hash32.or(s.quantity.transform((v) => `0x${v.toString(16).padStart(64, "0")}`)))
          .max(1000)
          .describe("storageKeys"),
        s.blockTagOrHash.optional(),
      ]),
      async ([a, keys, tag]) => {
        // A proof needs a state root, which only sealed blocks have: `latest` and `pending` prove
        // against the newest sealed block.
        const at =
          tag === undefined || ("tag" in tag && tag.tag === "pending") ? { tag: "latest" as const } : tag;
        const b = await resolveHead(be, at);
        if (b === undefined) {
          throw new RpcError(
            RpcErrorCode.ResourceNotFound,
            "hash" in at ? "block not found" : "header not found",
          );
        }
        if (b.hash === null) throw new RpcError(RpcErrorCode.ResourceNotFound, "header not found");
        const slots = keys.map((k) => hexToBytes(`0x${k.slice(2).padStart(64, "0")}` as `0x${string}`));
        let proof: AccountProof;
        if (b.number === be.chain.latest.number) {
          // The trie answers against its newest committed root, which may belong to a block whose
          // seal is still finishing; wait for that block so the proof matches `latest`.
          proof = await be.trie.proof(hexToBytes(a as `0x${string}`), slots);
          const root = bytesToHex(proof.root);
          for (let i = 0; i < 50 && bytesToHex(be.chain.latest.header!.stateRoot) !== root; i++) {
            await new Promise((r) => setTimeout(r, 20));
          }
        } else {
          // An older block: the trie rewound to its state root (error 4444 past what is kept).
          proof = await proofAtBlock(be, b, hexToBytes(a as `0x${string}`), slots);
        }
        return {
          address: a,
          balance: qty(proof.balance),
          nonce: qty(proof.nonce),
          codeHash: bytesToHex(proof.codeHash),
          storageHash: bytesToHex(proof.storageHash),
          accountProof: proof.accountProof.map(bytesToHex),
          storageProof: proof.storageProof.map((p, i) => ({
            key: keys[i],
            value: qty(BigInt(bytesToHex(p.value.length === 0 ? new Uint8Array([0]) : p.value))),
            proof: p.proof.map(bytesToHex),
          })),
        };
      },
    ),
  };
  return m;
}
