import { bytesToHex } from "@ethereumjs/util";
import {
  type ChainBackend,
  RpcError,
  RpcErrorCode,
  type RpcMethodTable,
  decodeWitness,
  decompressWitness,
  resolveBlock,
  rpcMethod,
  rpcSchemas as s,
} from "@staccato/common";
import { z } from "zod";
import type { WitnessStore } from "../storage/witnessStore.ts";

/** The methods `debugApi` answers. */
export const DEBUG_METHODS = ["debug_executionWitness"] as const;
export type DebugMethod = (typeof DEBUG_METHODS)[number];

/**
 * `debug_executionWitness(block)`: a sealed block's witness in the shape reth and anvil serve,
 * `{ state, codes, keys, headers }` (hex RLP trie nodes, contract codes, RLP headers oldest first
 * ending with the parent). `keys` (the preimages of the hashed trie keys) is not recorded: empty.
 */
export function debugApi(be: ChainBackend, witnesses: WitnessStore): RpcMethodTable<DebugMethod> {
  const methods: RpcMethodTable<DebugMethod> = {
    debug_executionWitness: rpcMethod(z.tuple([s.blockTag]), async ([tag]) => {
      const b = await resolveBlock(be, tag);
      if (b === undefined || b.hash === null)
        throw new RpcError(RpcErrorCode.ResourceNotFound, "block not found or not sealed yet");
      if (b.number === 0n) throw new RpcError(RpcErrorCode.InvalidParams, "genesis has no execution witness");
      const stored = await witnesses.get(b.number);
      if (stored === undefined)
        throw new RpcError(RpcErrorCode.ResourceNotFound, `no witness recorded for block ${b.number}`);
      const w = decodeWitness(decompressWitness(stored.compressed));
      return {
        state: w.nodes.map((n) => bytesToHex(n)),
        codes: w.codes.map((c) => bytesToHex(c)),
        keys: [],
        headers: w.headers.map((h) => bytesToHex(h)),
      };
    }),
  };
  return methods;
}
