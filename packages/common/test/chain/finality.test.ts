import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { bytesToHex } from "@ethereumjs/util";
import {
  ChainStore,
  FinalityTracker,
  devChainConfig,
  encodeAttestation,
  keccak256,
  openChainBlock,
  signAttestation,
  signingKeyFromPrivate,
  silentLogger,
} from "../../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "staccato-finality-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const prover = keccak256(Uint8Array.of(7));
const config = devChainConfig({
  sequencer: bytesToHex(signingKeyFromPrivate(keccak256(Uint8Array.of(1))).address),
  provers: [bytesToHex(signingKeyFromPrivate(prover).address)],
  proverQuorum: 1,
});
const hashOf = (n: number) => keccak256(Uint8Array.of(n & 255, n >> 8));

/** A chain of `n` sealed blocks (hashes only: finality compares attested hashes with these). */
function chainOf(n: number): ChainStore {
  const chain = new ChainStore();
  for (let i = 0; i <= n; i++) {
    const b = openChainBlock({
      number: BigInt(i),
      timestamp: BigInt(i),
      baseFee: 1n,
      gasLimit: 1n,
      coinbase: new Uint8Array(20),
      prevRandao: new Uint8Array(32),
    });
    b.hash = hashOf(i);
    chain.addBlock(b);
  }
  return chain;
}

function attest(n: number) {
  return signAttestation(
    {
      blockNumber: BigInt(n),
      blockHash: hashOf(n),
      preStateRoot: new Uint8Array(32),
      postStateRoot: new Uint8Array(32),
      witnessHash: new Uint8Array(32),
      verdict: "valid",
      reason: "",
    },
    config.chainId,
    prover,
  );
}

describe("finality / attestations.log stays bounded", () => {
  it("rewrites the log with the kept attestations once most of it is pruned, and reloads them", () => {
    const chain = chainOf(300);
    const tracker = new FinalityTracker({
      config,
      chain: () => chain,
      logger: silentLogger(),
      dataDir: dir,
      keepBelowFinalized: 20n,
      logSlack: 0,
    });
    for (let n = 1; n <= 300; n++) {
      const a = attest(n);
      assert.equal(tracker.add(a, encodeAttestation(a)), true);
    }
    // Records were appended as they came; compactions kept the file near the window.
    const log = join(dir, "attestations.log");
    assert.equal(tracker.finalized(), 300n);
    tracker.close();
    const size = statSync(log).size;
    const one = attest(1);
    assert.ok(size < 60 * (4 + one.signature.length + 250), `log of ${size} bytes for a 20-block window`);
    // A new tracker on the same dir: the kept window, finality where it was.
    const again = new FinalityTracker({
      config,
      chain: () => chain,
      logger: silentLogger(),
      dataDir: dir,
      keepBelowFinalized: 20n,
      logSlack: 0,
    });
    assert.equal(again.finalized(), 300n);
    assert.equal(again.attestations(290n).length, 1);
    assert.equal(again.attestations(100n).length, 0, "pruned long ago");
    again.close();
    assert.ok(readFileSync(log).length <= size);
  });
});
