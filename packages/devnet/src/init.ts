import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { generateKeyPairFromSeed, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import {
  type ChainConfig,
  chainConfigToJson,
  devChainConfig,
  keccak256,
  loadChainConfig,
  P2P_KEY_FILE,
  PROVER_KEY_FILE,
  randomPrivateKey,
  SEQUENCER_KEY_FILE,
  signingKeyFromPrivate,
  ErrorCode,
  StaccatoError,
} from "@staccato/common";
import type { DevnetLayout } from "./layout.ts";

/**
 * The devnet sequencer's libp2p key is derived from this public seed, like the dev mnemonic's
 * accounts: its peer id is known before anything runs, so docker-compose.yml can name the
 * sequencer in every other service's `--bootnodes` flag. Never use it outside a devnet.
 */
export const DEVNET_SEQUENCER_P2P_SEED = "staccato devnet sequencer libp2p key";

export async function devnetSequencerPeerKey(): Promise<PrivateKey> {
  return generateKeyPairFromSeed("Ed25519", keccak256(new TextEncoder().encode(DEVNET_SEQUENCER_P2P_SEED)));
}

/** The peer id of a libp2p key file as the daemons keep it (protobuf bytes). */
export function peerIdOfKeyFile(path: string): string {
  return peerIdFromPrivateKey(privateKeyFromProtobuf(readFileSync(path))).toString();
}

export class DevnetInitError extends StaccatoError {
  constructor(message: string) {
    super(ErrorCode.Devnet, message, undefined);
  }
}

/** A new devnet's provers, and how many attestations finalize a block. */
export const DEFAULT_PROVERS = 2;

export interface InitRequest {
  /** Provers to register; undefined = keep a resumed devnet's, or DEFAULT_PROVERS for a new one. */
  provers: number | undefined;
  /** Undefined = all provers, at most 2 (or a resumed devnet's). */
  proverQuorum: number | undefined;
}

export interface InitResult {
  created: boolean;
  config: ChainConfig;
}

/**
 * Creates the chain config and keys when the data dir has none; otherwise loads them (resume) and
 * refuses a prover count or quorum that differs from the chain's, which only `--fresh` can change.
 * The chain config is written last, atomically: a run interrupted before it starts over cleanly.
 */
export async function initDevnet(layout: DevnetLayout, req: InitRequest): Promise<InitResult> {
  if (existsSync(layout.chainFile)) {
    if (!existsSync(layout.markerFile))
      throw new DevnetInitError(`${layout.root} holds a chain.json but is not a devnet data dir`);
    const config = loadChainConfig(layout.chainFile);
    const mismatch = (flag: string, want: number | undefined, have: number) => {
      if (want !== undefined && want !== have)
        throw new DevnetInitError(
          `this devnet was created with ${flag} ${have}; pass --fresh to start a new chain with ${want}`,
        );
    };
    mismatch("--provers", req.provers, config.provers.length);
    mismatch("--prover-quorum", req.proverQuorum, config.proverQuorum);
    return { created: false, config };
  }
  const provers = req.provers ?? DEFAULT_PROVERS;
  const proverQuorum = req.proverQuorum ?? Math.min(provers, 2);
  if (proverQuorum > provers)
    throw new DevnetInitError(`--prover-quorum ${proverQuorum} exceeds the ${provers} provers`);

  mkdirSync(layout.root, { recursive: true });
  writeFileSync(layout.markerFile, `${JSON.stringify({ kind: "staccato-devnet", version: 1 })}\n`);
  const sequencerDir = layout.dataDir("sequencer");
  const sequencer = writeSigningKey(join(sequencerDir, SEQUENCER_KEY_FILE));
  writePrivate(join(sequencerDir, P2P_KEY_FILE), privateKeyToProtobuf(await devnetSequencerPeerKey()));
  const proverAddresses: string[] = [];
  for (let i = 1; i <= provers; i++)
    proverAddresses.push(writeSigningKey(join(layout.dataDir(`prover-${i}`), PROVER_KEY_FILE)));

  const config = devChainConfig({ sequencer, provers: proverAddresses, proverQuorum });
  const tmp = `${layout.chainFile}.tmp`;
  writeFileSync(tmp, `${chainConfigToJson(config)}\n`);
  renameSync(tmp, layout.chainFile);
  return { created: true, config };
}

/** Deletes a devnet's data dir; refuses a directory that holds something but no devnet marker. */
export function removeDevnet(layout: DevnetLayout): void {
  if (!existsSync(layout.root)) return;
  if (!existsSync(layout.markerFile) && readdirSync(layout.root).length > 0)
    throw new DevnetInitError(
      `--fresh: ${layout.root} is not a devnet data dir (no devnet.json); not deleting it`,
    );
  rmSync(layout.root, { recursive: true, force: true });
}

/** A new secp256k1 key as 0x hex text (the daemons' `--key-file` format); returns its address. */
function writeSigningKey(path: string): string {
  const key = randomPrivateKey();
  writePrivate(path, `0x${Buffer.from(key).toString("hex")}\n`);
  return `0x${Buffer.from(signingKeyFromPrivate(key).address).toString("hex")}`;
}

function writePrivate(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data, { mode: 0o600 });
}
