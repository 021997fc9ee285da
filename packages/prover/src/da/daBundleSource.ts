import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  type CheckedDaBundle,
  DaError,
  type DaErrorKind,
  type DaReader,
  encodeBundle,
} from "@staccato/common";

/**
 * The bundle `witness-by-number` serves for a block (signed seal, raw transactions in order,
 * compressed witness), built from what the sequencer published to DA: the transactions are the
 * mini-blocks' in the seal's order. The verifier checks it exactly as it checks a peer's.
 */
export function blockBundleFromDa(c: CheckedDaBundle): Uint8Array {
  const txs: Uint8Array[] = [];
  for (const mb of c.miniBlocks) for (const tx of mb.txs) txs.push(tx);
  return encodeBundle(c.bundle.sealBytes, txs, c.bundle.witnessCompressed);
}

/**
 * Why DA did not give a block's bundle: the store's `DaError` kinds; `other-block` when DA holds
 * another block at that height than the notice named; `error` for anything unexpected.
 */
export type DaFetchFailure = DaErrorKind | "other-block" | "error";

export type DaFetchResult =
  | { bundle: Uint8Array; storedBytes: number; seconds: number }
  | { failure: DaFetchFailure; reason: string };

/**
 * Block bundles from DA (DESIGN §7), for blocks no peer serves. Reads run one at a time: the
 * first read below the newest known pointer finds its block through the DA indexes (or walks back
 * the links) and learns where the others are, so the reads queued behind it go straight to their
 * blob instead of all searching at once.
 */
export class DaBundleSource {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly reader: DaReader) {}

  get description(): string {
    return this.reader.store.description;
  }

  /** Block `number`'s bundle; when `hash` is given, only if DA's block at that height is that one. */
  fetch(number: bigint, hash: Uint8Array | null): Promise<DaFetchResult> {
    const run = this.tail.then(() => this.read(number, hash));
    this.tail = run.catch(() => {});
    return run;
  }

  private async read(number: bigint, hash: Uint8Array | null): Promise<DaFetchResult> {
    const t0 = performance.now();
    let c: CheckedDaBundle;
    try {
      c = await this.reader.bundle(number);
    } catch (err) {
      if (err instanceof DaError) return { failure: err.kind, reason: err.message };
      return { failure: "error", reason: (err as Error).message };
    }
    if (hash !== null && !equalsBytes(c.bundle.seal.hash, hash))
      return {
        failure: "other-block",
        reason: `DA holds block ${bytesToHex(c.bundle.seal.hash)} at height ${number}, not ${bytesToHex(hash)}`,
      };
    return { bundle: blockBundleFromDa(c), storedBytes: c.bytes, seconds: (performance.now() - t0) / 1000 };
  }
}
