import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import {
  type Attestation,
  type FinalityTracker,
  type Logger,
  attestationGossip,
  serveAttestations,
  syncAttestations,
  decodeWitnessRequest,
  encodeBundle,
  type MemoryState,
  type P2PNode,
  type P2POptions,
  type ReqHandleOptions,
  createP2PNode,
  decodeNumberRequest,
  decodeRangeRequest,
  encodeBlockSeal,
  encodeEnvelopeAsync,
  type DaPointer,
  encodeDaPointer,
  serveDaHead,
} from "@staccato/common";
import type { StateHistory } from "@staccato/common";
import type { ChainBlock, ChainStore } from "@staccato/common";
import { encodeSnapshot, snapshotPoint } from "../storage/snapshot.ts";
import type { WitnessStore } from "../storage/witnessStore.ts";

/** Most mini-blocks one `mini-blocks-by-range` request returns. */
export const MAX_MINI_BLOCKS_PER_REQUEST = 512;
/** Snapshot stream chunk size. */
const SNAPSHOT_CHUNK = 256 * 1024;

const limits = (maxResponseBytes: number, perSecond: number): ReqHandleOptions => ({
  maxRequestBytes: 256,
  maxResponseBytes,
  rateLimit: { perPeerPerSecond: perSecond, burst: perSecond * 2 },
  timeoutMs: 30_000,
});

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
    if (deps.serveHistory !== false) await serveHistory(node, deps);
    else await refuseHistory(node);
    node.subscribe("attestation", attestationGossip(deps.finality, log, deps.onAttestation));
    await serveAttestations(node, deps.finality);
    if (deps.daHead !== undefined) await serveDaHead(node, deps.daHead);

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
   */
  private publish(
    topic: "miniBlock" | "block" | "daPointer",
    payload: Uint8Array,
    what: string,
  ): Promise<number> {
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

/** The history protocols (DESIGN §4): mini-blocks-by-range, block-by-number, witness-by-number, state-snapshot. */
async function serveHistory(
  node: P2PNode,
  deps: {
    chain: ChainStore;
    state: MemoryState;
    history: StateHistory;
    witnesses: WitnessStore | null;
  },
): Promise<void> {
  const { chain } = deps;

  // mini-blocks-by-range: RLP [from, count] → one chunk per mini-block (its signed encoding).
  await node.handle(
    "miniBlocksByRange",
    async (body) => {
      const req = attempt(() => decodeRangeRequest(body));
      if (req === null) return { code: "invalid", message: "expected RLP [from, count]" };
      const first = await chain.getMiniBlock(req.from);
      if (first === undefined) {
        return { code: "unavailable", message: `mini-block ${req.from} is not known yet` };
      }
      return (async function* () {
        yield first;
        const end = req.from + BigInt(Math.min(req.count, MAX_MINI_BLOCKS_PER_REQUEST));
        for (let n = req.from + 1n; n < end; n++) {
          const encoded = await chain.getMiniBlock(n);
          if (encoded === undefined) return;
          yield encoded;
        }
      })();
    },
    limits(64 * 1024 * 1024, 20),
  );

  // block-by-number: RLP [number] → the block's seal (header, mini-block hashes, signature).
  await node.handle(
    "blockByNumber",
    async (body) => {
      const n = attempt(() => decodeNumberRequest(body));
      if (n === null) return { code: "invalid", message: "expected RLP [number]" };
      const b = await chain.getSealedBlock(n);
      if (b === undefined || n === 0n) return { code: "unavailable", message: `block ${n} is not sealed` };
      return blockSealBytes(b);
    },
    limits(1024 * 1024, 1000),
  );

  // witness-by-number: RLP [number, hash or empty] → the block bundle a prover verifies: the
  // signed seal, the raw transactions, the compressed witness (DESIGN §3, §5).
  const witnesses = deps.witnesses;
  if (witnesses !== null) {
    await node.handle(
      "witnessByNumber",
      async (body) => {
        const req = attempt(() => decodeWitnessRequest(body));
        if (req === null) return { code: "invalid", message: "expected RLP [number, hash]" };
        const b = await chain.getSealedBlock(req.number);
        if (b === undefined || req.number === 0n)
          return { code: "unavailable", message: `block ${req.number} is not sealed` };
        if (req.hash !== null && !equalsBytes(req.hash, b.hash!))
          return { code: "unavailable", message: `block ${req.number} here is ${bytesToHex(b.hash!)}` };
        const w = await witnesses.get(req.number);
        if (w === undefined) return { code: "unavailable", message: `no witness for block ${req.number}` };
        return encodeBundle(
          blockSealBytes(b),
          b.txs.map((t) => t.raw),
          w.compressed,
        );
      },
      limits(512 * 1024 * 1024, 100),
    );
  }

  // state-snapshot: the whole state at the newest sealed block, streamed; the first chunk names
  // the block and its state root, so the joiner can verify what it rebuilt.
  await node.handle(
    "stateSnapshot",
    () => {
      const b = chain.latest;
      const data = encodeSnapshot(snapshotPoint(chain, b), deps.history.addresses(), deps.history.latest);
      return (async function* () {
        for (let off = 0; off < data.length; off += SNAPSHOT_CHUNK)
          yield data.subarray(off, off + SNAPSHOT_CHUNK);
      })();
    },
    { ...limits(4 * 1024 * 1024 * 1024, 1), maxRequestBytes: 16, timeoutMs: 300_000 },
  );
}

/**
 * With `--no-serve-history` the history protocols answer `unavailable` with the reason, rather
 * than not existing: a peer sees at once that it must catch up from DA, and does not take the
 * sequencer for a broken peer.
 */
async function refuseHistory(node: P2PNode): Promise<void> {
  const refuse = () => ({
    code: "unavailable" as const,
    message: "this sequencer does not serve history (--no-serve-history): read it from DA",
  });
  for (const proto of ["miniBlocksByRange", "blockByNumber", "witnessByNumber", "stateSnapshot"] as const)
    await node.handle(proto, refuse, limits(1024, 10));
}

export function blockSealBytes(b: ChainBlock): Uint8Array {
  return encodeBlockSeal({
    header: b.header!.serialize(),
    hash: b.hash!,
    miniBlockHashes: b.miniBlocks.map((m) => m.hash),
    signature: b.signature!,
  });
}

function attempt<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch {
    return null;
  }
}
