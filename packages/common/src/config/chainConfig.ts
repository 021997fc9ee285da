import { readFileSync } from "node:fs";
import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync } from "@scure/bip39";
import { z } from "zod";
import { signingKeyFromPrivate } from "../crypto/secp256k1.ts";
import { ErrorCode, StaccatoError } from "../errors.ts";

const hexAddress = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "expected a 0x-prefixed 20-byte hex address")
  .transform((s) => s.toLowerCase());
const hexBytes = z.string().regex(/^0x([0-9a-fA-F]{2})*$/, "expected 0x-prefixed hex bytes");
/** A non-negative integer given as a JSON number, a decimal string or a 0x hex string. */
const uint = z
  .union([
    z.number().int().nonnegative(),
    z.string().regex(/^(0x[0-9a-fA-F]+|[0-9]+)$/, "expected an integer"),
  ])
  .transform((v) => BigInt(v));

export const allocEntrySchema = z.strictObject({
  balance: uint,
  nonce: uint.optional(),
  code: hexBytes.optional(),
  storage: z
    .record(z.string().regex(/^0x[0-9a-fA-F]{1,64}$/, "expected a hex storage slot"), hexBytes)
    .optional(),
});

/** Intervals of a chain config that does not set them; the sequencer's `--mini-block-ms`/`--block-ms` override them. */
export const DEFAULT_MINI_BLOCK_MS = 10;
export const DEFAULT_BLOCK_MS = 1000;

/**
 * The chain config (genesis). Everything that all nodes of one chain must agree on. Intervals are
 * defaults that the sequencer's flags may override.
 */
export const chainConfigSchema = z
  .strictObject({
    chainId: z
      .number()
      .int()
      .positive()
      .max(2 ** 53 - 1),
    hardfork: z.literal("prague").default("prague"),
    genesisTimestamp: z.number().int().nonnegative(),
    blockGasLimit: uint.refine((v) => v >= 1_000_000n, "blockGasLimit must be at least 1,000,000"),
    baseFee: z
      .strictObject({
        initial: uint.default(1_000_000_000n),
        min: uint.default(0n),
        maxChangeDenominator: z.number().int().positive().default(8),
        elasticityMultiplier: z.number().int().positive().default(2),
      })
      .prefault({}),
    miniBlockMs: z.number().int().min(1).max(60_000).default(DEFAULT_MINI_BLOCK_MS),
    blockMs: z.number().int().min(1).max(600_000).default(DEFAULT_BLOCK_MS),
    sequencer: hexAddress,
    provers: z.array(hexAddress).default([]),
    proverQuorum: z.number().int().nonnegative().default(0),
    alloc: z.record(hexAddress, allocEntrySchema).default({}),
  })
  .refine((c) => c.proverQuorum <= c.provers.length, {
    message: "proverQuorum cannot exceed the number of provers",
    path: ["proverQuorum"],
  })
  .refine((c) => c.blockMs >= c.miniBlockMs, {
    message: "blockMs must be >= miniBlockMs",
    path: ["blockMs"],
  });

export type ChainConfig = z.output<typeof chainConfigSchema>;
export type ChainConfigInput = z.input<typeof chainConfigSchema>;

export class ChainConfigError extends StaccatoError {
  constructor(message: string) {
    super(ErrorCode.ChainConfig, message, undefined);
  }
}

/** Parses a chain config, with one line per problem naming the field. */
export function parseChainConfig(input: unknown, source = "chain config"): ChainConfig {
  const r = chainConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  throw new ChainConfigError(`invalid ${source}: ${lines.join("; ")}`);
}

export function loadChainConfig(path: string): ChainConfig {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (err) {
    throw new ChainConfigError(
      `cannot read chain config ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new ChainConfigError(`chain config ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseChainConfig(json, `chain config ${path}`);
}

/** JSON form of a chain config (bigints as decimal strings), suitable for writing to disk. */
export function chainConfigToJson(c: ChainConfig): string {
  return JSON.stringify(c, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2);
}

// ---------- dev mode ----------

export const DEV_MNEMONIC = "test test test test test test test test test test test junk";
/** The dev chain's id ("st" for Staccato, 0x5374). Distinct from Anvil/Hardhat's 31337. */
export const DEV_CHAIN_ID = 21364;
export const DEV_ACCOUNT_COUNT = 20;
/** 10,000 ETH each, as Anvil and Hardhat give. */
export const DEV_ACCOUNT_BALANCE = 10_000n * 10n ** 18n;
/**
 * 2 G gas per block. At 1 s blocks that is ~95,000 plain transfers a second: the gas limit must
 * not be what caps a real-time chain (a 30 M limit holds ~1,400 transfers).
 */
export const DEV_BLOCK_GAS_LIMIT = 2_000_000_000n;

export interface DevAccount {
  address: string;
  privateKey: Uint8Array;
}

/** The first `count` accounts of the dev mnemonic, path m/44'/60'/0'/0/i. */
export function devAccounts(count = DEV_ACCOUNT_COUNT): DevAccount[] {
  const root = HDKey.fromMasterSeed(mnemonicToSeedSync(DEV_MNEMONIC));
  const out: DevAccount[] = [];
  for (let i = 0; i < count; i++) {
    const key = root.derive(`m/44'/60'/0'/0/${i}`).privateKey!;
    out.push({
      address: `0x${Buffer.from(signingKeyFromPrivate(key).address).toString("hex")}`,
      privateKey: key,
    });
  }
  return out;
}

export function devChainConfig(opts: {
  sequencer: string;
  provers?: string[];
  proverQuorum?: number;
}): ChainConfig {
  const alloc: Record<string, { balance: string }> = {};
  for (const a of devAccounts()) alloc[a.address] = { balance: DEV_ACCOUNT_BALANCE.toString() };
  return parseChainConfig({
    chainId: DEV_CHAIN_ID,
    hardfork: "prague",
    genesisTimestamp: Math.floor(Date.now() / 1000),
    blockGasLimit: DEV_BLOCK_GAS_LIMIT.toString(),
    sequencer: opts.sequencer,
    provers: opts.provers ?? [],
    proverQuorum: opts.proverQuorum ?? 0,
    alloc,
  });
}
