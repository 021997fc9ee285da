import {
  type Attestation,
  type FinalityTracker,
  type Logger,
  attestationGossip,
  blockSealBytes,
  syncAttestations,
  type MemoryState,
  type P2PNode,
  type P2POptions,
  createP2PNode,
  encodeEnvelopeAsync,
  type DaPointer,
  encodeDaPointer,
  serveProtocols,
} from "@staccato/common";
import type { StateHistory } from "@staccato/common";
import type { ChainBlock, ChainStore } from "@staccato/common";
import type { WitnessStore } from "../storage/witnessStore.ts";
import { sequencerReqServices } from "./reqresp/index.ts";

/**
 * The sequencer's side of the network (DESIGN §4): it publishes every sealed mini-block and block
 * on gossip, serves history and block witnesses by request/response, and records the provers'
 * attestations it hears.
 */
export class SequencerNetwork {
  private constructor(
    private readonly node: P2PNode,
    private readonly log: Logger,
  ) {}

  static async start(
    opts: P2POptions & { chainId: number },
    deps: {
      chain: ChainStore;
      state: MemoryState;
      history: StateHistory;
      logger: Logger;
      witnesses: WitnessStore | null;
      finality: FinalityTracker;
      onAttestation?: (a: Attestation) => void;
      /** Off: history is not served by request, and peers catch up from DA. */
      serveHistory?: boolean;
      /** The newest block published to DA, served as `da-head`. */
      daHead?: () => DaPointer | null;
    },
  ): Promise<SequencerNetwork> {
    const log = deps.logger.child({ module: "network" });
    const node = await createP2PNode(opts, { logger: deps.logger });
    await serveProtocols(node, sequencerReqServices({ ...deps, serveHistory: deps.serveHistory !== false }));
    node.subscribe("attestation", attestationGossip(deps.finality, log, deps.onAttestation));

    await node.start();
    log.info(
      {
        peerId: node.peerId.toString(),
        multiaddrs: node.multiaddrs(),
        serveHistory: deps.serveHistory !== false,
      },
      "sequencer p2p started",
    );
    const net = new SequencerNetwork(node, log);
    net.stopSync = syncAttestations(node, deps.finality, log);
    return net;
  }

  get peerId(): string {
    return this.node.peerId.toString();
  }

  multiaddrs(): string[] {
    return this.node.multiaddrs();
  }

  peerCount(): number {
    return this.node.peers().length;
  }

  /** Publishes a sealed mini-block (its signed encoding) at once. */
  publishMiniBlock(encoded: Uint8Array): void {
    void this.publish("miniBlock", encoded, "mini-block");
  }

  /** Publishes a sealed block: its header and the hashes of its mini-blocks, signed. */
  publishBlock(b: ChainBlock): void {
    void this.publish("block", blockSealBytes(b), "block");
  }

  /** Gossips the sequencer's signed word that a block is in DA; resolves to the recipients. */
  publishDaPointer(p: DaPointer): Promise<number> {
    return this.publish("daPointer", encodeDaPointer(p), "DA pointer");
  }

  /** Messages being compressed or published, in the order they were given. */
  private sending: Promise<unknown> = Promise.resolve();

  /**
   * Compresses on libuv's thread pool (not on the thread that executes transactions), starting
   * at once, and publishes in the order the messages were given: a block never overtakes its
   * mini-blocks. Never rejects (0 recipients on failure).
   *
   * While no peer subscribes to the topic, nothing is compressed or sent: gossipsub would reach
   * no one (it floods to the topic's subscribers only), and a sequencer without peers spent ~10 µs
   * of its execution thread and as much of the thread pool per swap on it. A peer that subscribes
   * later gets the next messages, and catches up on the ones before by request or from DA.
   */
  private publish(
    topic: "miniBlock" | "block" | "daPointer",
    payload: Uint8Array,
    what: string,
  ): Promise<number> {
    if (this.node.topicPeers(topic).length === 0) return Promise.resolve(0);
    const envelope = encodeEnvelopeAsync(payload);
    const sent = this.sending
      .then(() => envelope)
      .then((env) => this.node.publish(topic, env))
      .catch((err: unknown) => {
        this.log.debug({ err }, `${what} publish failed`);
        return 0;
      });
    this.sending = sent;
    return sent;
  }

  private stopSync: () => void = () => {};

  async stop(): Promise<void> {
    this.stopSync();
    await this.sending;
    await this.node.stop();
  }
}
