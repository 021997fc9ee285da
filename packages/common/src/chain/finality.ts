import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { bytesToHex, equalsBytes, hexToBytes } from "@ethereumjs/util";
import {
  type Attestation,
  attestationSigner,
  decodeAttestation,
  encodeAttestation,
} from "../codec/attestationCodec.ts";
import type { ChainConfig } from "../config/chainConfig.ts";
import type { ChainStore } from "./chainStore.ts";
import type { Logger } from "../log/logger.ts";
import { writeFileDurably } from "../util/durableFile.ts";
import type { FinalityMetrics } from "../metrics/finalityMetrics.ts";

/** An `invalid` verdict: the alarm DESIGN §5 asks for. Finality never passes `blockNumber`. */
export interface FinalityAlarm {
  blockNumber: bigint;
  blockHash: Uint8Array;
  prover: string;
  reason: string;
  /** Whether the block is this node's own block at that height (else the sequencer signed two). */
  canonical: boolean | null;
}

export interface FinalityDeps {
  config: ChainConfig;
  /** The node's chain (a function: a full node replaces its replica when it re-syncs). */
  chain(): ChainStore;
  logger: Logger;
  /** Where attestations and the finalized checkpoint persist (a data dir), or null. */
  dataDir: string | null;
  metrics?: FinalityMetrics | null;
  /** Blocks below the finalized one whose attestations are kept (default 100,000). */
  keepBelowFinalized?: bigint;
  /** Pruned records attestations.log may hold beyond twice the kept ones before it is rewritten. */
  logSlack?: number;
}

/** Attestations kept in memory below the finalized block (for `staccato_getAttestations`). */
const KEEP_BELOW_FINALIZED = 100_000n;

/**
 * Records provers' attestations and moves `safe`/`finalized` (DESIGN §5): block `n` is final once
 * `proverQuorum` distinct listed provers attested it `valid` with the hash this node has, and
 * every block before it is final. An `invalid` verdict from a listed prover is an alarm: it is
 * logged at error level, and finality stops before that height for good, whether the block is
 * this node's own or a second block the sequencer signed at the same height. With no quorum
 * configured (dev mode), every sealed block is final.
 */
export class FinalityTracker {
  private readonly provers: Set<string>;
  private readonly byNumber = new Map<bigint, Attestation[]>();
  private readonly seen = new Set<string>();
  /** When this node recorded each attestation (ms since the epoch); not kept across restarts. */
  private readonly receivedAtMs = new Map<string, number>();
  /** Records in attestations.log (kept or not). */
  private logRecords = 0;
  private finalizedN = 0n;
  private finalizedHash: Uint8Array | null = null;
  private alarmAt: bigint | null = null;
  readonly alarms: FinalityAlarm[] = [];
  private readonly log: Logger;
  private fd: number | null = null;

  constructor(private readonly deps: FinalityDeps) {
    this.provers = new Set(deps.config.provers.map((p) => p.toLowerCase()));
    this.log = deps.logger.child({ module: "finality" });
    if (deps.dataDir !== null) this.load(deps.dataDir);
  }

  /** The newest sealed block number. */
  latest(): bigint {
    return this.deps.chain().latest.number;
  }

  /**
   * This node's sealed block hash at `n`: `undefined` when not sealed yet, `null` when the block
   * is older than the node's history (a snapshot join); attestations alone decide those.
   */
  private sealedHash(n: bigint): Uint8Array | null | undefined {
    const chain = this.deps.chain();
    if (n > chain.latest.number) return undefined;
    return chain.sealedHash(n) ?? null;
  }

  get quorum(): number {
    return this.deps.config.proverQuorum;
  }

  /** Newest final block (`finalized` and `safe` tags). */
  finalized(): bigint {
    if (this.quorum === 0) return this.latest();
    return this.finalizedN;
  }

  /** Lowest block with an `invalid` verdict, if any. */
  get haltedAt(): bigint | null {
    return this.alarmAt;
  }

  /**
   * Why an attestation is unacceptable (unlisted prover, bad signature), or null. Decoding and the
   * signature are the caller's first checks on gossip; this is the same check for any source.
   */
  reject(a: Attestation): string | null {
    let signer: string;
    try {
      signer = attestationSigner(a, this.deps.config.chainId);
    } catch (err) {
      return (err as Error).message;
    }
    if (!this.provers.has(signer)) return `attestation from ${signer}, which is not a listed prover`;
    return null;
  }

  /** Whether this exact attestation was recorded already (or is of a block too old to keep). */
  has(a: Attestation): boolean {
    return a.blockNumber < this.floor() || this.seen.has(bytesToHex(a.hash));
  }

  /** How many listed provers have no attestation recorded for block `n`. */
  missingProvers(n: bigint): number {
    const from = new Set<string>();
    for (const a of this.byNumber.get(n) ?? []) from.add(bytesToHex(a.prover));
    return this.provers.size - from.size;
  }

  /** The lowest block whose attestations are kept (older ones are pruned, and not taken again). */
  private floor(): bigint {
    const keep = this.deps.keepBelowFinalized ?? KEEP_BELOW_FINALIZED;
    return this.finalizedN > keep ? this.finalizedN - keep : 0n;
  }

  /**
   * Records a checked attestation (`reject` returned null) and advances finality. Returns false
   * for a duplicate.
   */
  add(a: Attestation, encoded: Uint8Array | null): boolean {
    const id = bytesToHex(a.hash);
    if (this.seen.has(id) || a.blockNumber < this.floor()) return false;
    this.seen.add(id);
    this.receivedAtMs.set(id, Date.now());
    let list = this.byNumber.get(a.blockNumber);
    if (list === undefined) {
      list = [];
      this.byNumber.set(a.blockNumber, list);
    }
    list.push(a);
    if (encoded !== null) this.persist(encoded);
    this.deps.metrics?.attestations.inc({ verdict: a.verdict });
    if (a.verdict === "invalid") this.alarm(a);
    else
      this.log.debug(
        { block: Number(a.blockNumber), prover: bytesToHex(a.prover), hash: bytesToHex(a.blockHash) },
        "attestation",
      );
    this.advance();
    return true;
  }

  /** Call when a block is sealed (or verified): it may complete a quorum already received. */
  advance(): void {
    if (this.quorum === 0) return;
    const latest = this.latest();
    let n = this.finalizedN + 1n;
    const before = this.finalizedN;
    while (n <= latest) {
      if (this.alarmAt !== null && n >= this.alarmAt) break;
      const hash = this.quorumHash(n);
      if (hash === null) break;
      this.finalizedN = n;
      this.finalizedHash = hash;
      n++;
    }
    if (this.finalizedN !== before) {
      this.checkpoint();
      this.prune();
      this.deps.metrics?.finalizedBlock.set(Number(this.finalizedN));
    }
  }

  /** The hash at `n` that a quorum attested valid, or null. */
  private quorumHash(n: bigint): Uint8Array | null {
    const own = this.sealedHash(n);
    if (own === undefined) return null;
    const byHash = new Map<string, Set<string>>();
    for (const a of this.byNumber.get(n) ?? []) {
      if (a.verdict !== "valid") continue;
      if (own !== null && !equalsBytes(a.blockHash, own)) continue;
      const h = bytesToHex(a.blockHash);
      let s = byHash.get(h);
      if (s === undefined) {
        s = new Set();
        byHash.set(h, s);
      }
      s.add(bytesToHex(a.prover));
      if (s.size >= this.quorum) return a.blockHash;
    }
    return null;
  }

  /** Attestations recorded for block `n`, in arrival order. */
  attestations(n: bigint): readonly Attestation[] {
    return this.byNumber.get(n) ?? [];
  }

  /** When this node recorded `a` (ms since the epoch), or null when loaded from before a restart. */
  receivedAt(a: Attestation): number | null {
    return this.receivedAtMs.get(bytesToHex(a.hash)) ?? null;
  }

  private alarm(a: Attestation): void {
    const own = this.sealedHash(a.blockNumber);
    const canonical = own === undefined || own === null ? null : equalsBytes(own, a.blockHash);
    const alarm: FinalityAlarm = {
      blockNumber: a.blockNumber,
      blockHash: a.blockHash,
      prover: bytesToHex(a.prover),
      reason: a.reason,
      canonical,
    };
    this.alarms.push(alarm);
    if (this.alarmAt === null || a.blockNumber < this.alarmAt) this.alarmAt = a.blockNumber;
    this.log.error(
      {
        block: Number(a.blockNumber),
        hash: bytesToHex(a.blockHash),
        prover: alarm.prover,
        reason: a.reason,
        canonical,
        finalized: Number(this.finalizedN),
      },
      a.blockNumber <= this.finalizedN
        ? "INVALID verdict for a block at or below the finalized height"
        : "INVALID verdict: finality halts before this block",
    );
    this.deps.metrics?.invalidVerdicts.inc();
  }

  /** Forgets attestations below the kept window, and their ids (which grew with the chain). */
  private prune(): void {
    const floor = this.floor();
    if (floor === 0n) return;
    for (const [n, list] of this.byNumber) {
      if (n >= floor) continue;
      for (const a of list) {
        const id = bytesToHex(a.hash);
        this.seen.delete(id);
        this.receivedAtMs.delete(id);
      }
      this.byNumber.delete(n);
    }
    this.compactLog();
  }

  // ---------- persistence: attestations.log (length-prefixed) and finality.json ----------

  private load(dir: string): void {
    const cp = join(dir, "finality.json");
    if (existsSync(cp)) {
      try {
        const j = JSON.parse(readFileSync(cp, "utf8")) as { number: string; hash: string };
        this.finalizedN = BigInt(j.number);
        this.finalizedHash = hexToBytes(j.hash as `0x${string}`);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, "ignoring an unreadable finality.json");
      }
    }
    const path = join(dir, "attestations.log");
    let good = 0;
    if (existsSync(path)) {
      const data = readFileSync(path);
      let off = 0;
      let records = 0;
      while (off + 4 <= data.length) {
        const len = data.readUInt32BE(off);
        if (len > 4096 || off + 4 + len > data.length) break; // torn tail
        records++;
        try {
          const a = decodeAttestation(new Uint8Array(data.subarray(off + 4, off + 4 + len)));
          if (this.reject(a) === null && !this.has(a)) {
            this.seen.add(bytesToHex(a.hash));
            const list = this.byNumber.get(a.blockNumber) ?? [];
            list.push(a);
            this.byNumber.set(a.blockNumber, list);
            if (a.verdict === "invalid") this.alarm(a);
          }
        } catch {
          break;
        }
        off += 4 + len;
      }
      good = off;
      if (good < data.length) writeFileSync(path, data.subarray(0, good)); // drop a torn record
      this.logRecords = records;
    }
    this.fd = openSync(path, "a");
    this.compactLog();
    if (good > 0)
      this.log.info(
        { attestations: this.seen.size, finalized: Number(this.finalizedN) },
        "loaded attestations",
      );
  }

  private persist(encoded: Uint8Array): void {
    if (this.fd === null) return;
    writeSync(this.fd, logRecord(encoded));
    this.logRecords++;
  }

  /**
   * attestations.log is appended to forever; once most of its records are of attestations
   * pruned from memory, it is rewritten with the kept ones only (temp file, fsync, rename), so
   * its size and the start's read stay bounded by the kept window, not the chain's length.
   */
  private compactLog(): void {
    const dir = this.deps.dataDir;
    if (
      dir === null ||
      this.fd === null ||
      this.logRecords <= 2 * this.seen.size + (this.deps.logSlack ?? 1_000)
    )
      return;
    const kept: Buffer[] = [];
    for (const list of this.byNumber.values())
      for (const a of list) kept.push(logRecord(encodeAttestation(a)));
    const path = join(dir, "attestations.log");
    closeSync(this.fd);
    this.fd = null;
    writeFileDurably(path, Buffer.concat(kept));
    this.fd = openSync(path, "a");
    this.log.info(
      { dropped: this.logRecords - kept.length, kept: kept.length },
      "compacted attestations.log",
    );
    this.logRecords = kept.length;
  }

  private checkpoint(): void {
    if (this.deps.dataDir === null || this.finalizedHash === null) return;
    writeFileDurably(
      join(this.deps.dataDir, "finality.json"),
      JSON.stringify({ number: this.finalizedN.toString(), hash: bytesToHex(this.finalizedHash) }),
    );
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function logRecord(encoded: Uint8Array): Buffer {
  const rec = Buffer.alloc(4 + encoded.length);
  rec.writeUInt32BE(encoded.length, 0);
  rec.set(encoded, 4);
  return rec;
}
