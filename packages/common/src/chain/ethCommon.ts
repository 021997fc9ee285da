import { type Common, Hardfork, Mainnet, createCustomCommon } from "@ethereumjs/common";
import type { ChainConfig } from "../config/chainConfig.ts";
import { keccak256 } from "../crypto/keccak.ts";
import { ecrecover } from "../crypto/secp256k1.ts";

/** The ethereumjs `Common` for a chain: Prague rules, fast keccak and native ecrecover. */
export function createEthCommon(config: Pick<ChainConfig, "chainId">): Common {
  const common = createCustomCommon({ chainId: config.chainId, name: "staccato" }, Mainnet, {
    hardfork: Hardfork.Prague,
    customCrypto: { keccak256, ecrecover },
  });
  return shareable(common);
}

/**
 * Every ethereumjs transaction constructor copies its Common and merges the tx params into the
 * copy: ~0.2 ms per transaction, more than sender recovery. The chain's rules never change at
 * runtime (one hardfork, no switching), so one instance is shared: `copy()` returns it, and
 * `updateParams` merges each params table once, and EIP activation is looked up once per EIP.
 */
function shareable(common: Common): Common {
  const merged = new WeakSet<object>();
  const updateParams = common.updateParams.bind(common);
  common.copy = () => common;
  common.updateParams = (params) => {
    if (merged.has(params)) return common;
    merged.add(params);
    return updateParams(params);
  };
  // Asked several times per opcode and per tx; the answer never changes for a fixed hardfork.
  const activated = new Map<number, boolean>();
  const isActivatedEIP = common.isActivatedEIP.bind(common);
  common.isActivatedEIP = (eip: number) => {
    let on = activated.get(eip);
    if (on === undefined) {
      on = isActivatedEIP(eip);
      activated.set(eip, on);
    }
    return on;
  };
  common.setHardfork = (hardfork) => {
    if (hardfork !== common.hardfork()) throw new Error(`the chain runs ${common.hardfork()} only`);
    return common.hardfork();
  };
  // So "hardforkChanged" never fires, and its listeners are not kept: ethereumjs' EVM subscribes
  // one per instance and never unsubscribes, so on this shared instance every EVM (one per block
  // in a prover, one per `eth_call`) stayed reachable with its state manager, and a prover kept
  // every block's witness (+450 MB of RSS per 100k transactions).
  const events = common.events as unknown as {
    on(event: string, listener: (...args: unknown[]) => void): unknown;
    addListener(event: string, listener: (...args: unknown[]) => void): unknown;
  };
  const on = events.on.bind(events);
  const ignoreHardforkChanged = (event: string, listener: (...args: unknown[]) => void) =>
    event === "hardforkChanged" ? events : on(event, listener);
  events.on = ignoreHardforkChanged;
  events.addListener = ignoreHardforkChanged;
  return common;
}
