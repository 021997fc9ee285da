import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { loadChainConfig, signingKeyFromPrivate } from "@staccato/common";
import {
  DevnetInitError,
  devnetSequencerPeerKey,
  initDevnet,
  peerIdOfKeyFile,
  removeDevnet,
} from "../../src/init.ts";
import { devnetLayout, planTopology } from "../../src/layout.ts";

const REPO_ROOT = join(import.meta.dirname, "..", "..", "..", "..");
const tmp = mkdtempSync(join(tmpdir(), "staccato-devnet-init-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const addressOfKeyFile = (path: string) => {
  const hex = readFileSync(path, "utf8").trim().replace(/^0x/, "");
  return `0x${Buffer.from(signingKeyFromPrivate(Buffer.from(hex, "hex")).address).toString("hex")}`;
};

describe("devnet / init", () => {
  it("writes a chain config naming the generated sequencer and prover keys, keys readable by their owner only", async () => {
    const layout = devnetLayout(join(tmp, "a"));
    const { created, config } = await initDevnet(layout, { provers: undefined, proverQuorum: undefined });
    assert.equal(created, true);
    assert.deepEqual(loadChainConfig(layout.chainFile), config);
    assert.equal(config.chainId, 21364);
    assert.equal(config.proverQuorum, 2);
    assert.equal(config.sequencer, addressOfKeyFile(join(layout.dataDir("sequencer"), "sequencer.key")));
    assert.deepEqual(config.provers, [
      addressOfKeyFile(join(layout.dataDir("prover-1"), "prover.key")),
      addressOfKeyFile(join(layout.dataDir("prover-2"), "prover.key")),
    ]);
    assert.ok(config.alloc["0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"].balance > 0n);
    for (const f of ["sequencer/sequencer.key", "sequencer/p2p.key", "prover-1/prover.key"])
      assert.equal(statSync(join(layout.root, f)).mode & 0o777, 0o600, f);
  });

  it("resumes an existing devnet unchanged and refuses another prover count without --fresh", async () => {
    const layout = devnetLayout(join(tmp, "b"));
    const first = await initDevnet(layout, { provers: 1, proverQuorum: 1 });
    const again = await initDevnet(layout, { provers: undefined, proverQuorum: undefined });
    assert.equal(again.created, false);
    assert.deepEqual(again.config, first.config);
    await assert.rejects(initDevnet(layout, { provers: 3, proverQuorum: undefined }), DevnetInitError);
    await assert.rejects(initDevnet(layout, { provers: 1, proverQuorum: 0 }), /--prover-quorum 1/);
    removeDevnet(layout);
    const fresh = await initDevnet(layout, { provers: 0, proverQuorum: undefined });
    assert.equal(fresh.created, true);
    assert.deepEqual(fresh.config.provers, []);
    assert.equal(fresh.config.proverQuorum, 0);
  });

  it("never deletes a directory that is not a devnet's", () => {
    const dir = join(tmp, "not-a-devnet");
    mkdirSync(dir);
    writeFileSync(join(dir, "precious.txt"), "keep me");
    assert.throws(() => removeDevnet(devnetLayout(dir)), /not a devnet data dir/);
    assert.equal(readFileSync(join(dir, "precious.txt"), "utf8"), "keep me");
  });

  it("gives the sequencer the fixed devnet peer id that docker-compose.yml dials", async () => {
    const layout = devnetLayout(join(tmp, "c"));
    await initDevnet(layout, { provers: 0, proverQuorum: 0 });
    const id = peerIdFromPrivateKey(await devnetSequencerPeerKey()).toString();
    assert.equal(peerIdOfKeyFile(join(layout.dataDir("sequencer"), "p2p.key")), id);
    const compose = readFileSync(join(REPO_ROOT, "docker-compose.yml"), "utf8");
    const dialed = [...compose.matchAll(/--bootnodes=\S+\/p2p\/(\w+)/g)].map((m) => m[1]);
    assert.ok(dialed.length >= 2);
    for (const d of dialed) assert.equal(d, id);
  });
});

describe("devnet / ports", () => {
  it("gives the sequencer the base ports, full node i the RPC port base + i, provers the ones after", () => {
    const plan = planTopology(2, 2, { rpcPort: 8545, p2pPort: 9000, metricsPort: 9545 });
    assert.deepEqual(
      plan.map((d) => [d.name, d.rpcPort, d.p2pPort, d.metricsPort]),
      [
        ["sequencer", 8545, 9000, 9545],
        ["prover-1", 8548, 9001, 9546],
        ["prover-2", 8549, 9002, 9547],
        ["fullnode-1", 8546, 9003, 9548],
        ["fullnode-2", 8547, 9004, 9549],
      ],
    );
  });
});
