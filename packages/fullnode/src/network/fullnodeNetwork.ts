import { createBlockHeaderFromRLP } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex } from "@ethereumjs/util";
import {
  type BlockSeal,
  type GossipVerdict,
  type Logger,
  type P2PNode,
  type P2POptions,
  type ReqRespCode,
  SeenCache,
  type SignedMiniBlock,
  SigningDomain,
  createP2PNode,
  decodeBlockSeal,
  decodeEnvelope,
  decodeSignedMiniBlock,
  encodeNumberRequest,
  encodeRangeRequest,
  recoverPayloadSigner,
  runGossipChecks,
} from "@staccato/common";
import type { Follower } from "../chain/follower.ts";
import type { FullnodeMetrics } from "../node/metrics.ts";
import { SyncPeers } from "../sync/syncPeers.ts";

type PeerId = P2PNode["peerId"];

/** Largest decompressed mini-block or block accepted from gossip. */
export const MAX_GOSSIP_PAYLOAD = 32 * 1024 * 1024;
/** Catch-up passes while nothing is known to be missing (or no peer is connected). */
const IDLE_MS = 1000;
/** How far ahead of the applied head a mini-block may be and still be buffered. */
const MINI_BLOCK_WINDOW = 100_000n;

/** Signed objects from the network, checked the same way wherever they come from. */
export class SignedObjects {
  constructor(
    private readonly chainId: number,
    private readonly sequencer: string,
    private readonly common: Common,
  ) {}

  /** Decodes and checks a mini-block's signature; throws on either failure. */
  miniBlock(encoded: Uint8Array): SignedMiniBlock {
    return this.checkMiniBlock(decodeSignedMiniBlock(encoded));
  }

  checkMiniBlock(mb: SignedMiniBlock): SignedMiniBlock {
    const signer = bytesToHex(
      recoverPayloadSigner(SigningDomain.miniBlock, this.chainId, mb.hash, mb.signature),
    );
    if (signer !== this.sequencer)
      throw new Error(`mini-block ${mb.number} is signed by ${signer}, not the sequencer`);
    return mb;
  }

  block(encoded: Uint8Array): { seal: BlockSeal; number: bigint } {
    const seal = decodeBlockSeal(encoded);
    const signer = bytesToHex(
      recoverPayloadSigner(SigningDomain.block, this.chainId, seal.hash, seal.signature),
    );
    if (signer !== this.sequencer)
      throw new Error(`block ${bytesToHex(seal.hash)} is signed by ${signer}, not the sequencer`);
    const header = createBlockHeaderFromRLP(seal.header, {
      common: this.common,
      skipConsensusFormatValidation: true,
    });
    return { seal, number: header.number };
  }
}

/**
 * The full node's network: gossip in (validated by flat check lists, DESIGN §4), and catch-up
 * through request/response when it is behind, in bounded batches.
 */
export class FullnodeNetwork {
  private readonly decoded = new WeakMap<Uint8Array, unknown>();
  private readonly seenMini = new SeenCache(10_000);
  private readonly seenBlocks = new SeenCache(1_000);
  private syncTimer: NodeJS.Timeout | null = null;
  private syncing = false;
  private readonly peers = new SyncPeers();
  private stopped = false;
  private readonly log: Logger;

  private constructor(
    readonly node: P2PNode,
    private follower: Follower,
    private readonly signed: SignedObjects,
    private readonly metrics: FullnodeMetrics | null,
    logger: Logger,
  ) {
    this.log = logger.child({ module: "sync" });
  }

  static async start(
    opts: P2POptions & { chainId: number },
    deps: { follower: Follower; signed: SignedObjects; metrics: FullnodeMetrics | null; logger: Logger },
  ): Promise<FullnodeNetwork> {
    const node = await createP2PNode(opts, { logger: deps.logger });
    const net = new FullnodeNetwork(node, deps.follower, deps.signed, deps.metrics, deps.logger);
    node.subscribe("miniBlock", {
      validate: (data) => net.validateMiniBlock(data),
      onMessage: (data) => {
        const got = net.decoded.get(data) as { mb: SignedMiniBlock; bytes: Uint8Array } | undefined;
        if (got !== undefined) net.follower.offerMiniBlock(got.mb, true, got.bytes);
        if (net.follower.wants().behind) net.kickSync();
      },
    });
    node.subscribe("block", {
      validate: (data) => net.validateBlock(data),
      onMessage: (data) => {
        const b = net.decoded.get(data) as { seal: BlockSeal } | undefined;
        if (b !== undefined) net.follower.offerBlock(b.seal);
        if (net.follower.wants().behind) net.kickSync();
      },
    });
    node.onPeer("connect", () => net.kickSync());
    await node.start();
    net.scheduleSync(200);
    return net;
  }

  /** After a re-sync the node follows with a rebuilt follower. */
  setFollower(f: Follower): void {
    this.follower = f;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.syncTimer !== null) clearTimeout(this.syncTimer);
    await this.node.stop();
  }

  private validateMiniBlock(data: Uint8Array): GossipVerdict {
    let mb: SignedMiniBlock | null = null;
    let bytes: Uint8Array | null = null;
    let sigError = false;
    const verdict = runGossipChecks(
      [
        [
          "decode",
          () => {
            try {
              bytes = decodeEnvelope(data, MAX_GOSSIP_PAYLOAD); // REJECT: size cap before decode
              mb = decodeSignedMiniBlock(bytes); // REJECT: malformed
              return null;
            } catch {
              return "reject";
            }
          },
        ],
        ["window", () => (mb!.number <= BigInt(this.follower.appliedMiniBlock) ? "ignore" : null)], // IGNORE: already applied
        [
          "window-ahead",
          () => (mb!.number > this.follower.appliedMiniBlock + MINI_BLOCK_WINDOW ? "ignore" : null),
        ], // IGNORE
        ["dedup", () => (this.seenMini.add(bytesToHex(mb!.hash)) ? null : "ignore")], // IGNORE: seen
        [
          "signer",
          () => {
            try {
              this.signed.checkMiniBlock(mb!); // REJECT: not signed by the sequencer
              return null;
            } catch {
              sigError = true;
              return "reject";
            }
          },
        ],
      ],
      this.log,
      { topic: "mini-block" },
    );
    if (verdict === "reject")
      this.metrics?.gossipRejected.inc({ topic: "miniBlock", check: sigError ? "signer" : "decode" });
    if (verdict === "accept") this.decoded.set(data, { mb, bytes });
    return verdict;
  }

  private validateBlock(data: Uint8Array): GossipVerdict {
    let b: { seal: BlockSeal; number: bigint } | null = null;
    const verdict = runGossipChecks(
      [
        [
          "decode-and-signer",
          () => {
            try {
              b = this.signed.block(decodeEnvelope(data, MAX_GOSSIP_PAYLOAD)); // REJECT: bad bytes or not the sequencer
              return null;
            } catch {
              return "reject";
            }
          },
        ],
        ["window", () => (b!.number <= this.follower.verifiedBlock ? "ignore" : null)], // IGNORE: already verified
        ["dedup", () => (this.seenBlocks.add(bytesToHex(b!.seal.hash)) ? null : "ignore")], // IGNORE: seen
      ],
      this.log,
      { topic: "block" },
    );
    if (verdict === "reject")
      this.metrics?.gossipRejected.inc({ topic: "block", check: "decode-and-signer" });
    if (verdict === "accept") this.decoded.set(data, b);
    return verdict;
  }

  /** Runs a catch-up pass soon. */
  kickSync(): void {
    if (!this.syncing) this.scheduleSync(0);
  }

  private scheduleSync(ms: number): void {
    if (this.stopped) return;
    if (this.syncTimer !== null) clearTimeout(this.syncTimer);
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      this.syncOnce()
        .catch((err: unknown) => {
          this.log.debug({ err: (err as Error).message }, "catch-up pass failed");
          return IDLE_MS;
        })
        .then((next) => this.scheduleSync(next));
    }, ms);
  }

  /**
   * One catch-up pass: mini-blocks from the first one missing, then block seals from the first
   * one unverified, in bounded batches. Each request goes to the next usable peer (SyncPeers); a
   * peer that answers badly is left out and the next one asked. Returns when to run again.
   */
  private async syncOnce(): Promise<number> {
    if (this.follower.isHalted) return IDLE_MS;
    const connected = this.node.peers();
    let peer = this.peers.next(connected);
    if (peer === undefined) return this.untilPeerReady(connected);
    this.syncing = true;
    try {
      if (!(await this.fetchMiniBlocks(peer))) {
        peer = this.peers.next(connected);
        if (peer === undefined) return this.untilPeerReady(connected);
      }
      await this.fetchSeals(peer);
      await this.follower.settle();
    } finally {
      this.syncing = false;
    }
    return this.follower.wants().behind ? 0 : IDLE_MS;
  }

  /** When to try again while every connected peer is left out (or none is connected). */
  private untilPeerReady(connected: PeerId[]): number {
    return Math.min(Math.max(this.peers.readyIn(connected), 10), IDLE_MS);
  }

  /** Mini-blocks from the first one missing; false if the peer failed (it is left out for a while). */
  private async fetchMiniBlocks(peer: PeerId): Promise<boolean> {
    const want = this.follower.wants();
    return this.ask(peer, "miniBlocksByRange", async () => {
      const r = await this.node.requestStream(
        peer,
        "miniBlocksByRange",
        encodeRangeRequest(want.miniBlock, 512),
        {
          timeoutMs: 15_000,
          maxChunkBytes: MAX_GOSSIP_PAYLOAD,
        },
      );
      if (r.code === "ok") {
        for await (const chunk of r.chunks)
          this.follower.offerMiniBlock(this.signed.miniBlock(chunk), true, chunk);
      }
      return r.code;
    });
  }

  /** Block seals from the first one unverified, up to 64. */
  private async fetchSeals(peer: PeerId): Promise<boolean> {
    // Fixed at the start: blocks verify while the seals arrive, and counting from the moving
    // verified block skipped seals (fetched again by a later pass).
    const from = this.follower.verifiedBlock + 1n;
    return this.ask(peer, "blockByNumber", async () => {
      for (let i = 0; i < 64; i++) {
        const n = from + BigInt(i);
        const b = await this.node.request(peer, "blockByNumber", encodeNumberRequest(n), {
          timeoutMs: 5000,
          maxResponseBytes: 1 << 20,
        });
        if (b.code !== "ok") return b.code;
        const { seal } = this.signed.block(b.body);
        this.follower.offerBlock(seal);
      }
      return "ok";
    });
  }

  /**
   * Runs one exchange with `peer` and keeps its record: `unavailable` (it has nothing newer) is
   * fine, `rate-limited` leaves it alone briefly, and anything else (our request called invalid, a
   * failed stream, an answer that does not decode or is not signed by the sequencer) leaves it out.
   */
  private async ask(peer: PeerId, protocol: string, exchange: () => Promise<ReqRespCode>): Promise<boolean> {
    let code: ReqRespCode;
    try {
      code = await exchange();
    } catch (err) {
      const benchMs = this.peers.failed(peer);
      this.log.info(
        { peer: peer.toString(), protocol, err: (err as Error).message, benchMs },
        "sync peer failed",
      );
      return false;
    }
    if (code === "rate-limited") {
      this.peers.rateLimited(peer);
      return true;
    }
    if (code === "invalid") {
      const benchMs = this.peers.failed(peer);
      this.log.info({ peer: peer.toString(), protocol, benchMs }, "sync peer called our request invalid");
      return false;
    }
    this.peers.succeeded(peer);
    return true;
  }
}
