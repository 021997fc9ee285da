import { Address, hexToBytes, setLengthLeft } from "@ethereumjs/util";
import { z } from "zod";
import { KECCAK256_NULL } from "../../crypto/keccak.ts";
import type { MemoryState } from "../../state/memoryState.ts";
import * as s from "../schemas.ts";

const slotMap = z.record(s.hash32, s.hash32);

const accountOverride = z.strictObject({
  balance: s.quantity.optional(),
  nonce: s.quantity.optional(),
  code: s.hexBytes.optional(),
  state: slotMap.optional(),
  stateDiff: slotMap.optional(),
});

/**
 * geth's state override set (eth_call's third param, debug_traceCall's `stateOverrides`,
 * eth_simulateV1's `stateOverrides`): per address, `balance`, `nonce`, `code`, and either `state`
 * (the whole storage) or `stateDiff` (some slots). `movePrecompileToAddress` is not supported.
 */
export const stateOverridesSchema = z
  .record(s.address, accountOverride)
  .superRefine((o, ctx) => {
    for (const [a, v] of Object.entries(o)) {
      if (v.state !== undefined && v.stateDiff !== undefined)
        ctx.addIssue({ code: "custom", path: [a], message: "has both state and stateDiff" });
    }
  })
  .describe("stateOverrides");
export type StateOverrides = z.output<typeof stateOverridesSchema>;

/** Writes the overrides into a throw-away layer, before anything runs on it. */
export async function applyStateOverrides(
  layer: MemoryState,
  overrides: StateOverrides | undefined,
): Promise<void> {
  for (const [addr, o] of Object.entries(overrides ?? {})) {
    const address = new Address(hexToBytes(addr as `0x${string}`));
    if (o.code !== undefined) await layer.putCode(address, o.code);
    if (o.balance !== undefined || o.nonce !== undefined) {
      const cur = layer.account(addr) ?? { nonce: 0n, balance: 0n, codeHash: KECCAK256_NULL };
      layer.writeAccount(addr, {
        nonce: o.nonce ?? cur.nonce,
        balance: o.balance ?? cur.balance,
        codeHash: cur.codeHash,
      });
    }
    if (o.state !== undefined) await layer.clearStorage(address);
    for (const [k, v] of Object.entries(o.state ?? o.stateDiff ?? {})) {
      await layer.putStorage(
        address,
        hexToBytes(k as `0x${string}`),
        setLengthLeft(hexToBytes(v as `0x${string}`), 32),
      );
    }
  }
}
