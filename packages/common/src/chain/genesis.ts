import type { Common } from "@ethereumjs/common";
import { hexToBytes } from "@ethereumjs/util";
import type { ChainConfig } from "../config/chainConfig.ts";
import { KECCAK256_RLP } from "../crypto/keccak.ts";
import { DIFF_FLAG_CREATED, type StateDiff } from "../state/stateDiff.ts";
import { InlineStateTrie } from "../trie/trieClient.ts";
import { buildHeader } from "./blockHeader.ts";
import { type ChainBlock, openChainBlock } from "./chainStore.ts";

/** The genesis state as a diff: every alloc entry is created. */
export function genesisDiff(config: ChainConfig): StateDiff {
  return Object.entries(config.alloc).map(([addr, a]) => ({
    address: hexToBytes(addr as `0x${string}`),
    flags: DIFF_FLAG_CREATED,
    nonce: a.nonce ?? 0n,
    balance: a.balance,
    code: a.code !== undefined && a.code !== "0x" ? hexToBytes(a.code as `0x${string}`) : undefined,
    storage: Object.entries(a.storage ?? {})
      .map(([k, v]): [Uint8Array, Uint8Array] => [
        hexToBytes(`0x${k.slice(2).padStart(64, "0")}`),
        stripZeros(hexToBytes(v as `0x${string}`)),
      ])
      .filter(([, v]) => v.length > 0),
  }));
}

function stripZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

/** Block 0 from the chain config, and the alloc as a diff. The root uses a throw-away trie. */
export async function buildGenesis(
  config: ChainConfig,
  common: Common,
): Promise<{ block: ChainBlock; diff: StateDiff }> {
  const diff = genesisDiff(config);
  const trie = new InlineStateTrie();
  trie.add(diff);
  const { root } = await trie.commit();
  const header = buildHeader(
    {
      parentHash: new Uint8Array(32),
      coinbase: new Uint8Array(20),
      stateRoot: root,
      transactionsRoot: KECCAK256_RLP,
      receiptsRoot: KECCAK256_RLP,
      logsBloom: new Uint8Array(256),
      number: 0n,
      gasLimit: config.blockGasLimit,
      gasUsed: 0n,
      timestamp: BigInt(config.genesisTimestamp),
      prevRandao: new Uint8Array(32),
      baseFee: config.baseFee.initial,
    },
    common,
  );
  const block: ChainBlock = {
    ...openChainBlock({
      number: 0n,
      timestamp: header.timestamp,
      baseFee: config.baseFee.initial,
      gasLimit: config.blockGasLimit,
      coinbase: new Uint8Array(20),
      prevRandao: new Uint8Array(32),
    }),
    header,
    hash: header.hash(),
  };
  return { block, diff };
}
