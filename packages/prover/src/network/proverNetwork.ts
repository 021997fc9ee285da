import type { Common } from "@ethereumjs/common";
import { bytesToHex } from "@ethereumjs/util";
import {
  DaHeadPoller,
  type DaPointer,
  type DaReader,
  type Logger,
  type P2PNode,
  type P2POptions,
  SeenCache,
  SignedObjects,
  blockChecks,
  createP2PNode,
  daPointerGossip,
  encodeEnvelope,
  encodeWitnessRequest,
  keccak256,
  runGossipChecks,
  serveProtocols,
} from "@staccato/common";
import type { ProverMetrics } from "../node/metrics.ts";
import { proverReqServices } from "./reqServices.ts";

/** Largest decompressed block seal accepted from gossip. */
const MAX_BLOCK_GOSSIP = 4 * 1024 * 1024;
/** Blocks whose own attestations a prover keeps to serve by `attestations-by-range`. */
const KEEP_OWN = 10_000;
/** Largest bundle accepted from a peer. */
const MAX_BUNDLE = 512 * 1024 * 1024;
/** How often peers are asked for their `da-head` while DA is configured (and on every new peer). */
const DA_HEAD_POLL = { everyMs: 5_000, quietMs: 0, afterConnectMs: 0 };

export interface SealedBlockNotice {
  number: bigint;
  hash: Uint8Array;
}

/**
 * The prover's network (DESIGN §4–5): sealed blocks in from gossip (checked: decodes, signed by
 * the sequencer), block bundles by `witness-by-number` from any peer that has them, attestations
 * out. Attestations wait in an outbox until some peer listens on the topic, so none is lost to a
 * start-up race.
 */
export class ProverNetwork {
  private readonly seen = new SeenCache(10_000);
  private readonly decoded = new WeakMap<Uint8Array, SealedBlockNotice>();
  private readonly outbox: Uint8Array[] = [];
  /** This prover's attestations by block number, newest `KEEP_OWN` blocks. */
  private readonly own = new Map<bigint, Uint8Array[]>();
  /** Attestations already queued, by content hash (see `publishAttestation`). */
  private readonly queued = new SeenCache(KEEP_OWN);
  private flushTimer: NodeJS.Timeout;
  /** Null without `--da`. */
  private daHead: DaHeadPoller | null = null;

  private constructor(
    readonly node: P2PNode,
    private readonly metrics: ProverMetrics,
  ) {
    this.flushTimer = setInterval(() => this.flushOutbox(), 250);
  }

  static async start(
    opts: P2POptions & { chainId: number },
    deps: {
      sequencer: string;
      common: Common;
      logger: Logger;
      metrics: ProverMetrics;
      onBlock: (b: SealedBlockNotice) => void;
      /** Null without `--da`: no DA pointers are followed or served. */
      da: DaReader | null;
      onDaPointer: (p: DaPointer) => void;
    },
  ): Promise<ProverNetwork> {
    const log = deps.logger.child({ module: "network" });
    const node = await createP2PNode(opts, { logger: deps.logger });
    const net = new ProverNetwork(node, deps.metrics);
    const signed = new SignedObjects(opts.chainId, deps.sequencer, deps.common);
    node.subscribe("block", {
      validate: (data) => {
        const c = blockChecks(data, signed, MAX_BLOCK_GOSSIP);
        const verdict = runGossipChecks(
          [
            c.decodeAndSigner, // REJECT: bad bytes or not the sequencer
            c.dedup(net.seen), // IGNORE: seen
          ],
          log,
          { topic: "block" },
        );
        if (verdict === "accept") {
          const { seal, number } = c.decoded.get();
          net.decoded.set(data, { number, hash: seal.hash });
        }
        return verdict;
      },
      onMessage: (data) => {
        const n = net.decoded.get(data);
        if (n !== undefined) deps.onBlock(n);
      },
    });
    const da = deps.da;
    await serveProtocols(
      node,
      proverReqServices((n) => net.own.get(n) ?? [], da === null ? null : () => da.head),
    );
    if (da !== null) {
      node.subscribe("daPointer", daPointerGossip(da, log, deps.onDaPointer));
      net.daHead = new DaHeadPoller(DA_HEAD_POLL, { node, reader: da, log, onNew: deps.onDaPointer });
      net.daHead.start();
    }
    node.onPeer("connect", () => deps.metrics.peers.set(node.peers().length));
    node.onPeer("disconnect", () => deps.metrics.peers.set(node.peers().length));
    await node.start();
    return net;
  }

  /** Sizes of what the network keeps (see the prover's `/health`). */
  held() {
    return {
      seenBlocks: this.seen.size,
      ownAttestationBlocks: this.own.size,
      attestationsQueued: this.queued.size,
      outbox: this.outbox.length,
    };
  }

  multiaddrs(): string[] {
    return this.node.multiaddrs();
  }

  peerCount(): number {
    return this.node.peers().length;
  }

  /**
   * A block's bundle from the first peer that serves it (the sequencer, or anyone holding it), or
   * null with the peers' reasons when none does.
   */
  async fetchBundle(
    number: bigint,
    hash: Uint8Array | null,
  ): Promise<{ bundle: Uint8Array; peer: string } | { reasons: string[] }> {
    const body = encodeWitnessRequest(number, hash ?? undefined);
    const reasons: string[] = [];
    for (const peer of this.node.peers()) {
      try {
        const r = await this.node.request(peer, "witnessByNumber", body, {
          timeoutMs: 15_000,
          maxResponseBytes: MAX_BUNDLE,
        });
        if (r.code === "ok") return { bundle: r.body, peer: peer.toString() };
        const why = new TextDecoder().decode(r.body);
        reasons.push(`${peer.toString().slice(-8)}: ${r.code}${why ? ` (${why})` : ""}`);
        this.metrics.fetchFailures.inc({ reason: r.code });
      } catch (err) {
        reasons.push(`${peer.toString().slice(-8)}: ${(err as Error).message}`);
        this.metrics.fetchFailures.inc({ reason: "error" });
      }
    }
    if (reasons.length === 0) reasons.push("no peers");
    return { reasons };
  }

  /**
   * Publishes an attestation now if anyone listens, else as soon as someone does. The same bytes
   * twice are dropped here: gossipsub answers a message id it has seen with no recipients, which
   * the outbox would take for nobody listening, holding every later attestation behind it.
   */
  publishAttestation(blockNumber: bigint, encoded: Uint8Array): void {
    if (!this.queued.add(bytesToHex(keccak256(encoded)))) return;
    const list = this.own.get(blockNumber) ?? [];
    list.push(encoded);
    this.own.set(blockNumber, list);
    if (this.own.size > KEEP_OWN) this.own.delete(this.own.keys().next().value!);
    this.outbox.push(encodeEnvelope(encoded));
    this.flushOutbox();
  }

  private flushing = false;

  private flushOutbox(): void {
    if (this.flushing || this.outbox.length === 0) return;
    if (this.node.topicPeers("attestation").length === 0) return;
    this.flushing = true;
    const batch = this.outbox.splice(0);
    void (async () => {
      for (let i = 0; i < batch.length; i++) {
        const sent = await this.node.publish("attestation", batch[i]!);
        if (sent === 0) {
          // Listeners left meanwhile: keep the rest for the next flush.
          this.outbox.unshift(...batch.slice(i));
          break;
        }
      }
      this.flushing = false;
    })();
  }

  async stop(): Promise<void> {
    clearInterval(this.flushTimer);
    this.daHead?.stop();
    await this.node.stop();
  }
}
