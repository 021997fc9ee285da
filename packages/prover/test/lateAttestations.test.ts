import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bytesToHex } from "@ethereumjs/util";
import { chainConfigToJson, devChainConfig, randomPrivateKey, signingKeyFromPrivate } from "@staccato/common";
import {
  FullnodeProcess,
  TempDirs,
  fullnodeArgs,
  rpc,
  waitFor,
} from "../../fullnode/test/helpers/fullnodeProcess.ts";
import { SequencerProcess } from "../../sequencer/test/helpers/sequencerProcess.ts";
import { ProverProcess } from "./helpers/proverProcess.ts";

interface AttestationsAnswer {
  finalized: boolean;
  attestations: { prover: string; verdict: string }[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Blocks final through the first prover before the sequencer stops. */
const BLOCKS = 30n;

/**
 * Issue 14: an attestation missed on gossip, for a block that is already final, used to be never
 * recorded by the sequencer. Two listed provers, quorum 1. Prover A, on the sequencer, makes
 * blocks 1…40 final. The sequencer stops; prover B, whose only peer is a full node, attests the
 * same blocks from DA meanwhile, so its attestations reach the full node and never the sequencer.
 * Restarted, the sequencer has every block final already: nothing made it ask for B's
 * attestations. Now it sweeps final blocks that lack a listed prover's attestation and fetches
 * them from its peers, and `staccato_getAttestations` shows both provers for every block.
 */
describe("attestations / one missed on gossip for a final block is still recorded", {
  timeout: 240_000,
}, () => {
  const dirs = new TempDirs();
  const seqKey = randomPrivateKey();
  const keys = [randomPrivateKey(), randomPrivateKey()];
  const addrs = keys.map((k) => bytesToHex(signingKeyFromPrivate(k).address));
  let seq: SequencerProcess;
  let fn: FullnodeProcess;
  const provers: ProverProcess[] = [];

  before(async () => {
    const dir = dirs.make();
    writeFileSync(join(dir, "sequencer.key"), bytesToHex(seqKey));
    writeFileSync(
      join(dir, "chain.json"),
      chainConfigToJson(
        devChainConfig({
          sequencer: bytesToHex(signingKeyFromPrivate(seqKey).address),
          provers: addrs,
          proverQuorum: 1,
        }),
      ),
    );
    for (const [i, k] of keys.entries()) writeFileSync(join(dir, `prover${i}.key`), bytesToHex(k));
    // A fixed libp2p port: the others find the sequencer again after its restart.
    const port = await freePort();
    seq = await SequencerProcess.start({
      dataDir: dir,
      args: ["--block-ms", "500", "--p2p-listen", `/ip4/127.0.0.1/tcp/${port}`],
    });
    // The fixed-port address (the helper also listens on an ephemeral port, new at each start).
    const bootnode = (seq.logs().find((l) => l.msg === "sequencer started")!.p2p as string[]).find((a) =>
      a.includes(`/tcp/${port}/`),
    )!;
    provers.push(
      await ProverProcess.start(
        ProverProcess.args({
          chain: join(dir, "chain.json"),
          keyFile: join(dir, "prover0.key"),
          dataDir: dirs.make(),
          bootnode,
          workers: 1,
        }),
      ),
    );
    const fnArgs = fullnodeArgs(seq, dirs.make());
    fnArgs[fnArgs.indexOf("--bootnodes") + 1] = bootnode;
    fn = await FullnodeProcess.start([...fnArgs, "--da", "none"]);
  });

  after(async () => {
    for (const p of provers) await p.kill("SIGKILL");
    await fn?.kill("SIGKILL");
    await seq?.cleanup();
    dirs.cleanup();
  });

  const attesters = async (url: string, n: bigint): Promise<string[]> =>
    (await rpc<AttestationsAnswer>(url, "staccato_getAttestations", [`0x${n.toString(16)}`])).attestations
      .map((a) => a.prover.toLowerCase())
      .sort();

  it("the sequencer fetches, for blocks final without it, the attestations a full node got", async (t) => {
    const dir = seq.dataDir;
    await waitFor(
      `block ${BLOCKS} final through prover A`,
      async () =>
        BigInt((await rpc<{ finalized: string }>(seq.rpcUrl, "staccato_finality")).finalized) >= BLOCKS,
      60_000,
    );
    await seq.stop();
    const last = BigInt(
      (await rpc<{ finalized: string }>(fn.rpcUrl, "staccato_finality").catch(() => ({ finalized: "0x0" })))
        .finalized,
    );
    const head = BigInt(await rpc<string>(fn.rpcUrl, "eth_blockNumber"));
    t.diagnostic(`sequencer stopped; the full node has ${head} blocks, ${last} final`);

    // Prover B: its only peer is the full node, its bundles come from the sequencer's DA dir.
    provers.push(
      await ProverProcess.start([
        ...ProverProcess.args({
          chain: join(dir, "chain.json"),
          keyFile: join(dir, "prover1.key"),
          dataDir: dirs.make(),
          bootnode: fn.p2pAddress(),
          workers: 1,
        }),
        "--da",
        "dir",
        "--da-dir",
        join(dir, "da"),
      ]),
    );
    // Prover A attested what it could fetch before the sequencer stopped; B attests every block.
    const onFullnode = new Map<bigint, string[]>();
    await waitFor(
      `prover B's attestations of blocks 1…${head} on the full node`,
      async () => {
        for (let n = 1n; n <= head; n++) {
          const got = await attesters(fn.rpcUrl, n);
          if (!got.includes(addrs[1]!)) return false;
          onFullnode.set(n, got);
        }
        return true;
      },
      90_000,
    );
    for (let n = 1n; n <= BLOCKS; n++) assert.deepEqual(onFullnode.get(n), [...addrs].sort(), `block ${n}`);

    seq = await seq.restart();
    // Already final: the restarted sequencer has only prover A's attestations of these blocks.
    assert.ok(
      BigInt((await rpc<{ finalized: string }>(seq.rpcUrl, "staccato_finality")).finalized) >= BLOCKS,
    );
    await waitFor(
      `every attestation the full node has of blocks 1…${head} on the restarted sequencer`,
      async () => {
        for (let n = 1n; n <= head; n++) {
          const got = await attesters(seq.rpcUrl, n);
          if (!onFullnode.get(n)!.every((p) => got.includes(p))) return false;
        }
        return true;
      },
      90_000,
    );
    const fetched = seq.logs().filter((l) => l.msg === "fetched attestations missed on gossip");
    assert.ok(fetched.length > 0, "the sweep says what it fetched");
    t.diagnostic(`fetched: ${JSON.stringify(fetched.map((l) => [l.added, l.from, l.to]))}`);
  });
});
