import "./polyfill.ts";
import { createHash } from "node:crypto";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { type GossipSub, type GossipsubMessage, gossipsub, TopicValidatorResult } from "@libp2p/gossipsub";
import { createTopicScoreParams, type TopicScoreParams } from "@libp2p/gossipsub/score";
import { identify } from "@libp2p/identify";
import type { Libp2p, PeerId } from "@libp2p/interface";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { z } from "zod";
import type { Logger } from "../log/logger.ts";
import { BOOTNODE_DIALER_DEFAULTS, BootnodeDialer } from "./bootnodes.ts";
import type { GossipVerdict } from "./gossipValidation.ts";
import { loadOrCreatePeerKey } from "./peerKey.ts";
import {
  type ReqHandleOptions,
  type ReqHandler,
  ReqResp,
  type ReqResult,
  type ReqStreamResult,
  type RequestOptions,
  type RequestStreamOptions,
} from "./reqResp.ts";
import { DEFAULT_PORTS } from "../config/daemonDefaults.ts";
import { type ReqProtocol, TOPICS, type Topic, protocolId, topicName } from "./topics.ts";

export const DEFAULT_P2P_PORT = DEFAULT_PORTS.sequencer.p2p;

function isMultiaddr(s: string): boolean {
  try {
    multiaddr(s);
    return true;
  } catch {
    return false;
  }
}
const multiaddrString = z.string().refine(isMultiaddr, { message: "not a multiaddr" });

/** Options every daemon's p2p layer takes (flags `--p2p-listen`, `--p2p-announce`, `--bootnodes`). */
export const P2POptionsSchema = z.object({
  /** Multiaddrs to listen on. */
  listen: z.array(multiaddrString).default([`/ip4/0.0.0.0/tcp/${DEFAULT_P2P_PORT}`]),
  /** Multiaddrs to advertise instead of the listen addresses (behind NAT, in containers). */
  announce: z.array(multiaddrString).default([]),
  /** Peers to stay connected to, as full multiaddrs (`/ip4/…/tcp/…/p2p/<peerId>`). */
  bootnodes: z.array(multiaddrString).default([]),
  /** The libp2p private key (protobuf bytes), created if absent: keep it in the data dir. */
  keyFile: z.string().min(1),
  /** Largest gossip message accepted from the wire, before decompression. */
  maxGossipBytes: z
    .number()
    .int()
    .positive()
    .default(8 * 1024 * 1024),
  /**
   * Bytes queued per outbound gossip stream before gossipsub fails the send (it has no
   * backpressure: a peer this far behind is dropped rather than buffered without bound).
   */
  maxOutboundBufferBytes: z
    .number()
    .int()
    .positive()
    .default(32 * 1024 * 1024),
  heartbeatMs: z.number().int().positive().default(700),
});
export type P2POptions = z.output<typeof P2POptionsSchema>;
export type P2POptionsInput = z.input<typeof P2POptionsSchema>;
/** Every default (`keyFile` has none: it belongs in the daemon's data dir). */
export const P2P_DEFAULTS: Omit<P2POptions, "keyFile"> = P2POptionsSchema.omit({ keyFile: true }).parse({});

export interface P2PNodeInit extends P2POptions {
  /** Topics and protocol ids are per chain. */
  chainId: number;
}

/** One gossip topic's inbound side: validate (feeds gossipsub scoring), then deliver. */
export interface GossipTopicHandler {
  /**
   * Runs before the message is forwarded. "reject" scores `from` down and drops the message,
   * "ignore" drops it without penalty. `data` is the same object later passed to `onMessage`,
   * so a validator can memoize its decode in a `WeakMap<Uint8Array, T>`.
   */
  validate(data: Uint8Array, from: PeerId): GossipVerdict | Promise<GossipVerdict>;
  /** Accepted messages, from the peer that forwarded them (not necessarily the origin). */
  onMessage(data: Uint8Array, from: PeerId): void;
}

export type PeerEvent = "connect" | "disconnect";

/**
 * The p2p layer as daemons see it: gossip in/out by topic, req/resp by protocol, peers.
 * It knows nothing about sequencing.
 */
export interface P2PNode {
  readonly peerId: PeerId;
  readonly chainId: number;
  /** Full addresses, `/ip4/…/tcp/…/p2p/<peerId>`: what other daemons pass as `--bootnodes`. */
  multiaddrs(): string[];
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Connected peers. */
  peers(): PeerId[];
  /** Peers subscribed to `topic`. */
  topicPeers(topic: Topic): PeerId[];
  /** Gossipsub's score of `peer` (0 for an unknown peer). */
  peerScore(peer: PeerId): number;
  onPeer(event: PeerEvent, listener: (peer: PeerId) => void): () => void;

  /** Before or after `start()`; a second call for a topic replaces its handler. */
  subscribe(topic: Topic, handler: GossipTopicHandler): void;
  unsubscribe(topic: Topic): void;
  /** Returns how many peers it was sent to; never throws (no peers is logged at debug). */
  publish(topic: Topic, data: Uint8Array): Promise<number>;

  handle(proto: ReqProtocol, handler: ReqHandler, opts: ReqHandleOptions): Promise<void>;
  request(
    peer: PeerId | Multiaddr,
    proto: ReqProtocol,
    body: Uint8Array,
    opts: RequestOptions,
  ): Promise<ReqResult>;
  requestStream(
    peer: PeerId | Multiaddr,
    proto: ReqProtocol,
    body: Uint8Array,
    opts: RequestStreamOptions,
  ): Promise<ReqStreamResult>;

  /** The libp2p node underneath, for tests and diagnostics; daemons use the methods above. */
  readonly libp2p: Libp2p<{ pubsub: GossipSub }>;
}

/** Topic score parameters for a small real-time network with one main publisher. */
function topicScoreParams(): TopicScoreParams {
  return createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1_000,
    timeInMeshCap: 300,
    firstMessageDeliveriesWeight: 0.5,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 20,
    // Full nodes only forward what the sequencer sent, so mesh-delivery quotas would punish honest
    // peers for being downstream: off.
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    // P4, what topic validators' REJECT feeds: squared, so two rejects (-80) reach the graylist.
    invalidMessageDeliveriesWeight: -20,
    invalidMessageDeliveriesDecay: 0.9,
  });
}

const LOOPBACK = new Set(["127.0.0.1", "::1"]);

/** Messages are unsigned (StrictNoSign), so the id is a hash of the content; with the topic, so the
 * same bytes on two topics are two messages. */
const msgIdFn = (msg: { topic: string; data: Uint8Array }): Uint8Array =>
  createHash("sha256").update(msg.topic).update(msg.data).digest().subarray(0, 20);
const msgIdToStrFn = (id: Uint8Array): string =>
  Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("base64");

const VERDICT: { readonly [K in GossipVerdict]: TopicValidatorResult } = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject,
};

/** The one libp2p factory every daemon uses. Loads (or creates) the key; does not start. */
export async function createP2PNode(init: P2PNodeInit, deps: { logger: Logger }): Promise<P2PNode> {
  const log = deps.logger.child({ module: "p2p" });
  const { key, created } = await loadOrCreatePeerKey(init.keyFile);
  const topicNames = TOPICS.map((t) => topicName(init.chainId, t));

  const libp2p = await createLibp2p({
    start: false,
    privateKey: key,
    addresses: { listen: init.listen, announce: init.announce },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // A 4 MiB window bounds what a peer can have in flight on a paused req/resp stream (reqResp.ts).
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: 4 * 1024 * 1024 } })],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        emitSelf: false,
        globalSignaturePolicy: "StrictNoSign",
        msgIdFn,
        msgIdToStrFn,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        floodPublish: true,
        fallbackToFloodsub: false,
        heartbeatInterval: init.heartbeatMs,
        maxOutboundBufferSize: init.maxOutboundBufferBytes,
        maxInboundDataLength: init.maxGossipBytes + 64 * 1024,
        allowedTopics: topicNames,
        scoreParams: {
          topics: Object.fromEntries(topicNames.map((n) => [n, topicScoreParams()])),
          // P6 (IP colocation) counts the peers that share an address, the sybils of one remote
          // host. On loopback they are this machine's own daemons: with more than 10 of them a
          // full node scored every one, the sequencer included, below the graylist and dropped its
          // gossip (preconfirmations then came by 1 s polling instead of in milliseconds).
          IPColocationFactorWhitelist: LOOPBACK,
        },
      }),
    },
  });
  if (created) log.info({ keyFile: init.keyFile, peerId: libp2p.peerId.toString() }, "created p2p key");
  return new Libp2pNode(init, libp2p, log);
}

class Libp2pNode implements P2PNode {
  readonly libp2p: Libp2p<{ pubsub: GossipSub }>;
  readonly peerId: PeerId;
  readonly chainId: number;
  private readonly log: Logger;
  private readonly reqResp: ReqResp;
  private readonly bootnodes: BootnodeDialer;
  private readonly handlers = new Map<string, { topic: Topic; handler: GossipTopicHandler }>();
  private readonly pubsub: GossipSub;
  private started = false;

  constructor(init: P2PNodeInit, libp2p: Libp2p<{ pubsub: GossipSub }>, log: Logger) {
    this.libp2p = libp2p;
    this.peerId = libp2p.peerId;
    this.chainId = init.chainId;
    this.log = log;
    this.pubsub = libp2p.services.pubsub;
    this.reqResp = new ReqResp(libp2p, { logger: log });
    this.bootnodes = new BootnodeDialer(libp2p, init.bootnodes, BOOTNODE_DIALER_DEFAULTS, { logger: log });
    this.pubsub.addEventListener("gossipsub:message", this.onGossip);
  }

  multiaddrs(): string[] {
    return this.libp2p.getMultiaddrs().map((ma) => ma.toString());
  }

  async start(): Promise<void> {
    if (this.started) return;
    await this.libp2p.start();
    this.started = true;
    for (const name of this.handlers.keys()) this.pubsub.subscribe(name);
    this.log.info({ peerId: this.peerId.toString(), multiaddrs: this.multiaddrs() }, "p2p listening");
    this.bootnodes.start();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.bootnodes.stop();
    this.reqResp.close();
    await this.libp2p.stop();
    this.log.info({}, "p2p stopped");
  }

  peers(): PeerId[] {
    return this.libp2p.getPeers();
  }

  topicPeers(topic: Topic): PeerId[] {
    return this.pubsub.getSubscribers(topicName(this.chainId, topic));
  }

  peerScore(peer: PeerId): number {
    const impl = this.pubsub as unknown as { getScore?: (id: string) => number };
    return impl.getScore?.(peer.toString()) ?? 0;
  }

  onPeer(event: PeerEvent, listener: (peer: PeerId) => void): () => void {
    const name = event === "connect" ? "peer:connect" : "peer:disconnect";
    const l = (evt: CustomEvent<PeerId>) => listener(evt.detail);
    this.libp2p.addEventListener(name, l);
    return () => this.libp2p.removeEventListener(name, l);
  }

  subscribe(topic: Topic, handler: GossipTopicHandler): void {
    const name = topicName(this.chainId, topic);
    this.handlers.set(name, { topic, handler });
    this.pubsub.topicValidators.set(name, async (from, msg) => {
      // Gossipsub hands out Buffers; give handlers plain Uint8Arrays (Buffer#slice shares memory
      // where Uint8Array#slice copies). The same object reaches onMessage.
      if (Buffer.isBuffer(msg.data))
        msg.data = new Uint8Array(msg.data.buffer, msg.data.byteOffset, msg.data.length);
      try {
        return VERDICT[await handler.validate(msg.data, from)];
      } catch (err) {
        // A validator that throws is our bug, not the peer's fault: drop without penalty.
        this.log.warn(
          { topic, peer: from.toString(), err: (err as Error).message },
          "gossip validator threw",
        );
        return TopicValidatorResult.Ignore;
      }
    });
    if (this.started) this.pubsub.subscribe(name);
  }

  unsubscribe(topic: Topic): void {
    const name = topicName(this.chainId, topic);
    if (this.started) this.pubsub.unsubscribe(name);
    this.pubsub.topicValidators.delete(name);
    this.handlers.delete(name);
  }

  async publish(topic: Topic, data: Uint8Array): Promise<number> {
    try {
      const { recipients } = await this.pubsub.publish(topicName(this.chainId, topic), data);
      if (recipients.length === 0) this.log.debug({ topic, bytes: data.length }, "published to no peers");
      return recipients.length;
    } catch (err) {
      this.log.warn({ topic, bytes: data.length, err: (err as Error).message }, "gossip publish failed");
      return 0;
    }
  }

  handle(proto: ReqProtocol, handler: ReqHandler, opts: ReqHandleOptions): Promise<void> {
    return this.reqResp.handle(protocolId(this.chainId, proto), handler, opts);
  }

  request(
    peer: PeerId | Multiaddr,
    proto: ReqProtocol,
    body: Uint8Array,
    opts: RequestOptions,
  ): Promise<ReqResult> {
    return this.reqResp.request(peer, protocolId(this.chainId, proto), body, opts);
  }

  requestStream(
    peer: PeerId | Multiaddr,
    proto: ReqProtocol,
    body: Uint8Array,
    opts: RequestStreamOptions,
  ): Promise<ReqStreamResult> {
    return this.reqResp.requestStream(peer, protocolId(this.chainId, proto), body, opts);
  }

  private readonly onGossip = (evt: CustomEvent<GossipsubMessage>): void => {
    const { msg, propagationSource } = evt.detail;
    const entry = this.handlers.get(msg.topic);
    if (entry === undefined) return;
    try {
      entry.handler.onMessage(msg.data, propagationSource);
    } catch (err) {
      this.log.error({ topic: entry.topic, err: (err as Error).message }, "gossip handler threw");
    }
  };
}
