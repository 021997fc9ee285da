import {
  DaHeadPoller,
  type DaPointer,
  type DaReader,
  type Logger,
  type P2PNode,
  type P2POptions,
  type SignedObjects,
  createP2PNode,
  daPointerGossip,
  type ReqServices,
  serveProtocols,
} from "@staccato/common";
import type { Follower } from "../chain/follower.ts";
import type { FullnodeMetrics } from "../node/metrics.ts";
import { CatchUp } from "../sync/catchUp.ts";
import type { DaSync } from "../sync/daSync.ts";
import { blockGossip, miniBlockGossip } from "./fullnodeGossip.ts";

/**
 * With DA configured, peers are asked for their `da-head` when no DA pointer has been heard for
 * this long, and soon after a peer connects.
 */
const DA_HEAD_POLL = { everyMs: 2_000, quietMs: 2_000, afterConnectMs: 200 };

/** What the network needs for DA: the pointers' reader, and the filler when DA is configured. */
export interface FullnodeDa {
  reader: DaReader;
  /** Null with `--da none`: pointers are still followed and `da-head` served, nothing read. */
  sync: DaSync | null;
}

/**
 * The full node's network: gossip in (the topics' checks from common plus the node's own windows,
 * `fullnodeGossip.ts`), catch-up through request/response when it is behind (`CatchUp`), and the
 * DA pointers: followed by gossip, served as `da-head`, and, with DA configured, asked of peers
 * (`DaHeadPoller`) so a fresh node that no gossip reaches learns what DA holds.
 */
export class FullnodeNetwork {
  private constructor(
    readonly node: P2PNode,
    private follower: Follower,
    private readonly catchUp: CatchUp,
    /** Null without DA configured. */
    private readonly daHead: DaHeadPoller | null,
    private readonly da: FullnodeDa,
    private readonly metrics: FullnodeMetrics | null,
  ) {}

  static async start(
    opts: P2POptions & { chainId: number },
    deps: {
      follower: Follower;
      signed: SignedObjects;
      da: FullnodeDa;
      metrics: FullnodeMetrics | null;
      logger: Logger;
      /** What the node serves by request (`fullnodeReqServices`). */
      services: ReqServices;
    },
  ): Promise<FullnodeNetwork> {
    const log = deps.logger.child({ module: "sync" });
    const node = await createP2PNode(opts, { logger: deps.logger });
    const catchUp = new CatchUp(node, deps.follower, {
      signed: deps.signed,
      daSync: deps.da.sync,
      metrics: deps.metrics,
      log,
    });
    const { reader } = deps.da;
    const daHead =
      deps.da.sync === null
        ? null
        : new DaHeadPoller(DA_HEAD_POLL, { node, reader, log, onNew: (p) => net.heardOfDaPointer(p) });
    const net = new FullnodeNetwork(node, deps.follower, catchUp, daHead, deps.da, deps.metrics);
    const gossip = {
      follower: () => net.follower,
      signed: deps.signed,
      metrics: deps.metrics,
      log,
      afterMessage: () => {
        if (net.follower.wants().behind) catchUp.kick();
      },
      onSeal: () => catchUp.sealByGossip(),
    };
    node.subscribe("miniBlock", miniBlockGossip(gossip));
    node.subscribe("block", blockGossip(gossip));
    // Every node follows the DA pointers and serves the newest as `da-head`, so one that joins
    // after the sequencer stopped serving history (or stopped) learns from any peer what is in DA.
    node.subscribe(
      "daPointer",
      daPointerGossip(reader, log, (p) => net.heardOfDaPointer(p)),
    );
    await serveProtocols(node, deps.services);
    node.onPeer("connect", () => catchUp.kick());
    await node.start();
    catchUp.start(200);
    daHead?.start();
    return net;
  }

  /** After a re-sync the node follows with a rebuilt follower. */
  setFollower(f: Follower): void {
    this.follower = f;
    this.catchUp.setFollower(f);
    f.heardOfSealedBlock(this.da.reader.headNumber);
  }

  /** Runs a catch-up pass soon. */
  kickSync(): void {
    this.catchUp.kick();
  }

  async stop(): Promise<void> {
    this.catchUp.stop();
    this.daHead?.stop();
    await this.node.stop();
  }

  /** A checked DA pointer newer than any known (gossip or a peer's `da-head`): that block is sealed. */
  private heardOfDaPointer(p: DaPointer): void {
    this.daHead?.heard();
    this.metrics?.daHead.set(Number(p.number));
    this.follower.heardOfSealedBlock(p.number);
    if (this.follower.wants().behind) this.catchUp.kick();
  }
}
