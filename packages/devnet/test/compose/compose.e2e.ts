/**
 * Run by .ci/compose-test.sh against `docker-compose up` (not part of `npm test`: it needs the
 * containers). Talks to the published ports only, as a user on the host would.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { http, type Hash, createPublicClient, createWalletClient, defineChain, parseEther } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { DEV_CHAIN_ID, DEV_MNEMONIC } from "@staccato/common";
import { waitFor } from "../helpers/devnetProcess.ts";

const SEQUENCER = process.env.STACCATO_COMPOSE_SEQUENCER ?? "http://127.0.0.1:8545";
const FULLNODES = (
  process.env.STACCATO_COMPOSE_FULLNODES ?? "http://127.0.0.1:8546,http://127.0.0.1:8547"
).split(",");
const chain = defineChain({
  id: DEV_CHAIN_ID,
  name: "Staccato devnet",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [SEQUENCER] } },
});
const client = (url: string) => createPublicClient({ chain, transport: http(url) });

describe("compose / the containers' published ports", () => {
  const sequencer = client(SEQUENCER);
  const recipients = [1, 2, 3].map((i) => mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 10 + i }).address);
  let hashes: Hash[] = [];
  let lastBlock = 0n;

  it("takes transactions through the sequencer's port (viem)", async () => {
    assert.equal(await sequencer.getChainId(), DEV_CHAIN_ID);
    const before = await Promise.all(recipients.map((a) => sequencer.getBalance({ address: a })));
    hashes = [];
    for (let i = 0; i < recipients.length; i++) {
      const wallet = createWalletClient({
        chain,
        account: mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i + 1 }),
        transport: http(SEQUENCER),
      });
      hashes.push(await wallet.sendTransaction({ to: recipients[i], value: parseEther(`${i + 1}`) }));
    }
    for (const hash of hashes) {
      const r = await sequencer.waitForTransactionReceipt({ hash, pollingInterval: 100 });
      assert.equal(r.status, "success");
      if (r.blockNumber > lastBlock) lastBlock = r.blockNumber;
    }
    // receipts come with the mini-block; "latest" state is the sealed block's
    await waitFor("the sequencer to seal the last transaction's block", async () =>
      (await sequencer.getBlockNumber()) >= lastBlock ? true : undefined,
    );
    const after = await Promise.all(recipients.map((a) => sequencer.getBalance({ address: a })));
    for (let i = 0; i < recipients.length; i++) assert.equal(after[i] - before[i], parseEther(`${i + 1}`));
  });

  it("serves the same transactions, blocks and state roots from both full nodes' ports", async () => {
    for (const url of FULLNODES) {
      const node = client(url);
      await waitFor(`${url} to reach block ${lastBlock}`, async () =>
        (await node.getBlockNumber()) >= lastBlock ? true : undefined,
      );
      for (const hash of hashes) {
        const mine = await node.getTransactionReceipt({ hash });
        const theirs = await sequencer.getTransactionReceipt({ hash });
        assert.equal(mine.blockHash, theirs.blockHash, `${url}: receipt of ${hash}`);
        const [a, b] = await Promise.all([
          node.getBlock({ blockNumber: mine.blockNumber }),
          sequencer.getBlock({ blockNumber: mine.blockNumber }),
        ]);
        assert.equal(a.stateRoot, b.stateRoot, `${url}: state root of block ${mine.blockNumber}`);
        assert.equal(a.hash, b.hash);
      }
      const latest = await node.getBlock({ blockNumber: lastBlock });
      assert.equal(latest.stateRoot, (await sequencer.getBlock({ blockNumber: lastBlock })).stateRoot);
      for (let i = 0; i < recipients.length; i++)
        assert.equal(
          await node.getBalance({ address: recipients[i] }),
          await sequencer.getBalance({ address: recipients[i] }),
          `${url}: balance of ${recipients[i]}`,
        );
    }
  });

  it("finalizes blocks through the provers' attestations", async () => {
    for (const url of [SEQUENCER, ...FULLNODES]) {
      const node = client(url);
      const finalized = await waitFor(
        `${url} to finalize block ${lastBlock}`,
        async () => {
          const b = await node.getBlock({ blockTag: "finalized" });
          return b.number >= lastBlock && b.number > 0n ? b : undefined;
        },
        120_000,
      );
      assert.ok(finalized.number > 0n);
    }
    // ... and it is the two provers' attestations that did it (the chain's quorum is 2 of 2)
    const status = (await sequencer.request({
      method: "staccato_getAttestations" as never,
      params: [`0x${lastBlock.toString(16)}`] as never,
    })) as { finalized: boolean; quorum: number; attestations: { prover: string; verdict: string }[] };
    assert.equal(status.quorum, 2);
    assert.equal(status.finalized, true);
    const provers = new Set(status.attestations.filter((a) => a.verdict === "valid").map((a) => a.prover));
    assert.ok(provers.size >= 2, JSON.stringify(status));
  });

  it("publishes every block to the shared DA volume", async () => {
    const health = await waitFor(
      `the sequencer to publish block ${lastBlock} to DA`,
      async () => {
        const h = (await (await fetch(new URL("/health", SEQUENCER))).json()) as {
          da?: { ok: boolean; store: string; publishedBlock: number };
        };
        return h.da !== undefined && h.da.publishedBlock >= Number(lastBlock) ? h.da : undefined;
      },
      60_000,
    );
    assert.equal(health.ok, true);
    assert.equal(health.store, "dir /da");
  });
});
