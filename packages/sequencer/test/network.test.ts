import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bytesToHex } from "@ethereumjs/util";
import {
  type P2PNode,
  type SignedMiniBlock,
  SigningDomain,
  createP2PNode,
  decodeBlockSeal,
  decodeEnvelope,
  decodeSignedMiniBlock,
  encodeNumberRequest,
  encodeRangeRequest,
  recoverPayloadSigner,
  silentLogger,
} from "@staccato/common";
import { http, createPublicClient, createWalletClient, parseEther } from "viem";
import { DEV_CHAIN_ID, devAccount, devChain } from "./helpers/devChain.ts";
import { SequencerProcess } from "./helpers/sequencerProcess.ts";

/** A bare libp2p peer, as a full node would be, listening to the real sequencer process. */
describe("sequencer / p2p gossip and req/resp", () => {
  let seq: SequencerProcess;
  let peer: P2PNode;
  let sequencerAddress: string;
  const dir = mkdtempSync(join(tmpdir(), "staccato-peer-"));
  const miniBlocks: SignedMiniBlock[] = [];
  const blocks: { hash: string; miniBlocks: number }[] = [];

  before(async () => {
    seq = await SequencerProcess.start();
    const started = seq.logs().find((l) => l.msg === "sequencer started")!;
    sequencerAddress = started.sequencer as string;
    const boot = (started.p2p as string[])[0]!;
    peer = await createP2PNode(
      {
        listen: ["/ip4/127.0.0.1/tcp/0"],
        announce: [],
        bootnodes: [boot],
        keyFile: join(dir, "p2p.key"),
        maxGossipBytes: 8 << 20,
        maxOutboundBufferBytes: 32 << 20,
        heartbeatMs: 700,
        chainId: DEV_CHAIN_ID,
      },
      { logger: silentLogger() },
    );
    peer.subscribe("miniBlock", {
      validate: () => "accept",
      onMessage: (d) => miniBlocks.push(decodeSignedMiniBlock(decodeEnvelope(d, 16 << 20))),
    });
    peer.subscribe("block", {
      validate: () => "accept",
      onMessage: (d) => {
        const b = decodeBlockSeal(decodeEnvelope(d, 16 << 20));
        blocks.push({ hash: bytesToHex(b.hash), miniBlocks: b.miniBlockHashes.length });
      },
    });
    await peer.start();
    const deadline = Date.now() + 15_000;
    while (peer.topicPeers("miniBlock").length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
  });

  after(async () => {
    await peer?.stop();
    await seq?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("publishes each mini-block, signed by the chain's sequencer, and each block", async () => {
    const url = seq.rpcUrl;
    const chain = devChain(url);
    const wallet = createWalletClient({ chain, transport: http(url), account: devAccount(0) });
    const client = createPublicClient({ chain, transport: http(url) });
    const hashes: string[] = [];
    for (let i = 0; i < 3; i++) {
      hashes.push(await wallet.sendTransaction({ to: devAccount(5).address, value: parseEther("0.01") }));
    }
    const receipt = await client.waitForTransactionReceipt({
      hash: hashes[2] as `0x${string}`,
      pollingInterval: 20,
    });
    const deadline = Date.now() + 5_000;
    while (miniBlocks.reduce((n, m) => n + m.txs.length, 0) < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(
      miniBlocks.reduce((n, m) => n + m.txs.length, 0),
      3,
    );
    for (const m of miniBlocks) {
      const signer = bytesToHex(
        recoverPayloadSigner(SigningDomain.miniBlock, DEV_CHAIN_ID, m.hash, m.signature),
      );
      assert.equal(signer, sequencerAddress);
      // A signature for a mini-block does not verify as a block: the domains differ.
      assert.notEqual(
        bytesToHex(recoverPayloadSigner(SigningDomain.block, DEV_CHAIN_ID, m.hash, m.signature)),
        sequencerAddress,
      );
    }
    assert.equal(miniBlocks.at(-1)!.blockNumber, receipt.blockNumber);
    // The receipt comes at the mini-block's seal: its block may seal (and be gossiped) later.
    const blockDeadline = Date.now() + 5_000;
    let sealedHash: string | null = null;
    while (Date.now() < blockDeadline) {
      sealedHash = await client.getBlock({ blockNumber: receipt.blockNumber }).then(
        (b) => b.hash,
        () => null,
      );
      if (sealedHash !== null && blocks.some((b) => b.hash === sealedHash)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.notEqual(sealedHash, null, `block ${receipt.blockNumber} sealed`);
    assert.ok(
      blocks.some((b) => b.hash === sealedHash && b.miniBlocks > 0),
      "the sealed block was gossiped",
    );
  });

  it("serves mini-blocks by range and blocks by number", async () => {
    const seqPeer = peer.peers()[0]!;
    const r = await peer.requestStream(seqPeer, "miniBlocksByRange", encodeRangeRequest(1n, 100), {
      timeoutMs: 5000,
      maxChunkBytes: 1 << 20,
    });
    assert.equal(r.code, "ok");
    const got: SignedMiniBlock[] = [];
    if (r.code === "ok") for await (const c of r.chunks) got.push(decodeSignedMiniBlock(c));
    assert.deepEqual(
      got.map((m) => m.number),
      miniBlocks.map((m) => m.number),
    );
    assert.deepEqual(
      got.map((m) => bytesToHex(m.hash)),
      miniBlocks.map((m) => bytesToHex(m.hash)),
    );

    const b = await peer.request(seqPeer, "blockByNumber", encodeNumberRequest(miniBlocks[0]!.blockNumber), {
      timeoutMs: 5000,
      maxResponseBytes: 1 << 20,
    });
    assert.equal(b.code, "ok");
    const seal = decodeBlockSeal(b.body);
    assert.deepEqual(seal.miniBlockHashes.map(bytesToHex)[0], bytesToHex(miniBlocks[0]!.hash));

    const missing = await peer.request(seqPeer, "blockByNumber", encodeNumberRequest(10n ** 9n), {
      timeoutMs: 5000,
      maxResponseBytes: 1 << 20,
    });
    assert.equal(missing.code, "unavailable");
    const garbage = await peer.request(seqPeer, "miniBlocksByRange", Uint8Array.of(0xff, 0x01), {
      timeoutMs: 5000,
      maxResponseBytes: 1 << 20,
    });
    assert.equal(garbage.code, "invalid");
    assert.equal(
      await (
        await fetch(seq.rpcUrl, { method: "POST", body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}' })
      ).status,
      200,
    );
  });
});
