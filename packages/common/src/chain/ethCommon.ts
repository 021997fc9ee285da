import { type Common, Hardfork, Mainnet, createCustomCommon } from "@ethereumjs/common";
import type { ChainConfig } from "../config/chainConfig.ts";
import { keccak256 } from "../crypto/keccak.ts";
import { ecrecover } from "../crypto/secp256k1.ts";

/** The ethereumjs `Common` for a chain: Prague rules, fast keccak and native ecrecover. */
export function createEthCommon(config: Pick<ChainConfig, "chainId">): Common {
  return createCustomCommon({ chainId: config.chainId, name: "staccato" }, Mainnet, {
    hardfork: Hardfork.Prague,
    customCrypto: { keccak256, ecrecover },
  });
}
