import { createBlockHeaderFromRLP } from "@ethereumjs/block";
import type { Common } from "@ethereumjs/common";
import { bytesToHex } from "@ethereumjs/util";
import {
  type BlockSeal,
  type DaPointer,
  type DaReader,
  type GossipVerdict,
  type Logger,
  type P2PNode,
  type P2POptions,
  type ReqRespCode,
  SeenCache,
  type SignedMiniBlock,
  SigningDomain,
  askDaHead,
  createP2PNode,
  daPointerGossip,
  decodeBlockSeal,
  decodeEnvelope,
  decodeSignedMiniBlock,
  encodeNumberRequest,
  encodeRangeRequest,
  recoverPayloadSigner,
  runGossipChecks,
  serveDaHead,
} from "@staccato/common";
import type { Follower } from "../chain/follower.ts";
import type { FullnodeMetrics } from "../node/metrics.ts";
import type { DaSync } from "../sync/daSync.ts";
import { SyncPeers } from "../sync/syncPeers.ts";

type PeerId = P2PNode["peerId"];

/** Largest decompressed mini-block or block accepted from gossip. */
export const MAX_GOSSIP_PAYLOAD = 32 * 1024 * 1024;
/** Catch-up passes while nothing is known to be missing (or no peer is connected). */
const IDLE_MS = 1000;
/** How far ahead of the applied head a mini-block may be and still be buffered. */
const MINI_BLOCK_WINDOW = 100_000n;
/** Wait after a pass in which no peer served anything missing (and DA could not either). */
const NO_PROGRESS_MS = 50;
/** With DA configured and no DA pointer heard for this long, peers are asked for their `da-head`. */
const DA_HEAD_MS = 2_000;
/** With no seal by gossip for this long, catch-up also asks for blocks past the newest heard of. */
const PROBE_QUIET_MS = 3_000;

/** The block seals a catch-up pass asks for (FullnodeNetwork.sealsWanted). */
interface SealsWanted {
  from: bigint;
  /** Past `known` too, until a peer has none. */
  probe: boolean;
  /** The newest block known to be sealed. */
  known: bigint;
}

/** What the network needs for DA: the pointers' reader, and the filler when DA is configured. */
export interface FullnodeDa {
  reader: DaReader;
  /** Null with `--da none`: pointers are still followed and `da-head` served, nothing read. */
  sync: DaSync | null;
}

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
 * through request/response when it is behind, in bounded batches; what no peer serves is read
 * from DA when it is configured (DESIGN §7).
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
  private daHeadTimer: NodeJS.Timeout | null = null;
  /** When the last DA pointer newer than the reader's head was heard of. */
  private lastPointerAt = 0;
  /** When the last block seal came by gossip. */
  private lastSealGossipAt = 0;

  private constructor(
    readonly node: P2PNode,
    private follower: Follower,
    private readonly signed: SignedObjects,
    private readonly da: FullnodeDa,
    private readonly metrics: FullnodeMetrics | null,
    logger: Logger,
  ) {
    this.log = logger.child({ module: "sync" });
  }

  static async start(
    opts: P2POptions & { chainId: number },
    deps: {
      follower: Follower;
      signed: SignedObjects;
      da: FullnodeDa;
      metrics: FullnodeMetrics | null;
      logger: Logger;
    },
  ): Promise<FullnodeNetwork> {
    const node = await createP2PNode(opts, { logger: deps.logger });
    const net = new FullnodeNetwork(node, deps.follower, deps.signed, deps.da, deps.metrics, deps.logger);
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
        if (b !== undefined) {
          net.lastSealGossipAt = Date.now();
          net.follower.offerBlock(b.seal);
        }
        if (net.follower.wants().behind) net.kickSync();
      },
    });
    // Every node follows the DA pointers and serves the newest as `da-head`, so one that joins
    // after the sequencer stopped serving history (or stopped) learns from any peer what is in DA.
    const { reader } = deps.da;
    node.subscribe(
      "daPointer",
      daPointerGossip(reader, net.log, (p) => net.heardOfDaPointer(p)),
    );
    await serveDaHead(node, () => reader.head);
    node.onPeer("connect", () => {
      net.kickSync();
      net.scheduleDaHead(200);
    });
    await node.start();
    net.scheduleSync(200);
    net.scheduleDaHead(DA_HEAD_MS);
    return net;
  }

  /** After a re-sync the node follows with a rebuilt follower. */
  setFollower(f: Follower): void {
    this.follower = f;
    f.heardOfSealedBlock(this.da.reader.headNumber);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.syncTimer !== null) clearTimeout(this.syncTimer);
    if (this.daHeadTimer !== null) clearTimeout(this.daHeadTimer);
    await this.node.stop();
  }

  /** A checked DA pointer newer than any known (gossip or a peer's `da-head`): that block is sealed. */
  private heardOfDaPointer(p: DaPointer): void {
    this.lastPointerAt = Date.now();
    this.metrics?.daHead.set(Number(p.number));
    this.follower.heardOfSealedBlock(p.number);
    if (this.follower.wants().behind) this.kickSync();
  }

  /**
   * With DA configured, asks the connected peers for their `da-head` whenever no pointer has been
   * heard for a while: a fresh node that no gossip reaches learns so what DA holds.
   */
  private scheduleDaHead(ms: number): void {
    if (this.stopped || this.da.sync === null) return;
    if (this.daHeadTimer !== null) clearTimeout(this.daHeadTimer);
    this.daHeadTimer = setTimeout(() => {
      this.daHeadTimer = null;
      this.askDaHead()
        .catch((err: unknown) => this.log.debug({ err: (err as Error).message }, "da-head pass failed"))
        .then(() => this.scheduleDaHead(DA_HEAD_MS));
    }, ms);
  }

  private async askDaHead(): Promise<void> {
    if (Date.now() - this.lastPointerAt < DA_HEAD_MS || this.node.peers().length === 0) return;
    const p = await askDaHead(this.node, this.da.reader, this.log);
    if (p !== null) this.heardOfDaPointer(p);
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
   * peer that answers badly is left out and the next one asked. When that brought nothing (no
   * peer usable, or each answered that it does not have it) and DA holds the next block, one
   * batch is read from DA. Returns when to run again.
   */
  private async syncOnce(): Promise<number> {
    const f = this.follower;
    if (f.isHalted) return IDLE_MS;
    const before = f.verifiedBlock;
    const connected = this.node.peers();
    this.syncing = true;
    try {
      const asked = await this.fromPeers(connected);
      if (this.follower !== f) return 0; // re-synced meanwhile: start over
      if (!f.wants().behind) return IDLE_MS;
      // Progress is a block verified: mini-blocks applied from gossip meanwhile do not fill a
      // missing seal.
      if (f.verifiedBlock > before) return 0;
      const da = this.da.sync;
      if (da?.reaches(f.wants().block)) {
        if ((await da.fill(f)) > 0) {
          await f.settle();
          if (this.follower !== f || f.verifiedBlock > before) return 0;
        }
        const daWait = Math.max(da.readyIn(), NO_PROGRESS_MS);
        return Math.min(daWait, asked ? NO_PROGRESS_MS : this.untilPeerReady(connected));
      }
      return asked ? NO_PROGRESS_MS : this.untilPeerReady(connected);
    } finally {
      this.syncing = false;
    }
  }

  /** Mini-blocks and seals from the next usable peers; false if no peer could be asked. */
  private async fromPeers(connected: PeerId[]): Promise<boolean> {
    let peer = this.peers.next(connected);
    if (peer === undefined) return false;
    const miniBlocksOk = await this.fetchMiniBlocks(peer);
    // No seal to ask for: the next peer keeps its turn (taking it unasked, every other peer in
    // the rotation could be passed over for good).
    const seals = this.sealsWanted();
    if (seals !== null) {
      if (!miniBlocksOk) peer = this.peers.next(connected);
      if (peer !== undefined) await this.fetchSeals(peer, seals);
    }
    await this.follower.settle();
    return true;
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

  /**
   * Which block seals to ask for, or null for none: from the first block unverified, those not in
   * hand (gossip brought them, or the block is being verified) of the blocks known to be sealed;
   * when no seal has come by gossip for a while, also past them, until a peer has none (gossip may
   * be cut off, and an idle chain's empty blocks are heard of only by their seals).
   */
  private sealsWanted(): SealsWanted | null {
    const f = this.follower;
    // Fixed before asking: blocks verify while the seals arrive, and counting from the moving
    // verified block skipped seals (fetched again by a later pass).
    const from = f.verifiedBlock + 1n;
    const probe = Date.now() - this.lastSealGossipAt > PROBE_QUIET_MS;
    const known = f.highestSealedBlock;
    if (probe) return { from, probe, known };
    for (let n = from; n <= known; n++) if (!f.hasSeal(n)) return { from, probe, known };
    return null;
  }

  /** Up to 64 of the block seals `wanted` says, leaving out those in hand by the time it asks. */
  private async fetchSeals(peer: PeerId, wanted: SealsWanted): Promise<boolean> {
    const { from, probe, known } = wanted;
    return this.ask(peer, "blockByNumber", async () => {
      let asked = 0;
      for (let n = from; asked < 64 && (probe || n <= known); n++) {
        if (this.follower.hasSeal(n)) continue;
        asked++;
        const b = await this.node.request(peer, "blockByNumber", encodeNumberRequest(n), {
          timeoutMs: 5000,
          maxResponseBytes: 1 << 20,
        });
        if (b.code !== "ok") return b.code;
        const { seal } = this.signed.block(b.body);
        this.metrics?.sealsFetched.inc();
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
