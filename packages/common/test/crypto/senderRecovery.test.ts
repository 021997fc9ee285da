import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createFeeMarket1559Tx, createLegacyTx } from "@ethereumjs/tx";
import { bytesToHex } from "@ethereumjs/util";
import { createEthCommon } from "../../src/chain/ethCommon.ts";
import { randomPrivateKey, signingKeyFromPrivate } from "../../src/crypto/secp256k1.ts";
import { LONE_INLINE_MAX, SenderRecoveryPool } from "../../src/crypto/senderRecovery.ts";

const CHAIN_ID = 777;
const common = createEthCommon({ chainId: CHAIN_ID });

function signed(kind: "legacy" | "1559", key: Uint8Array, nonce: number): Uint8Array {
  const to = `0x${"11".repeat(20)}` as const;
  const tx =
    kind === "legacy"
      ? createLegacyTx({ nonce, gasPrice: 10n, gasLimit: 21_000n, to, value: 1n }, { common })
      : createFeeMarket1559Tx(
          {
            chainId: BigInt(CHAIN_ID),
            nonce,
            maxFeePerGas: 10n,
            maxPriorityFeePerGas: 1n,
            gasLimit: 21_000n,
            to,
          },
          { common },
        );
  return tx.sign(key).serialize();
}

describe("SenderRecoveryPool", () => {
  const pools: SenderRecoveryPool[] = [];
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  for (const size of [1, 3]) {
    it(`recovers a batch's senders in order on ${size} worker(s), null for what has no sender`, async () => {
      const pool = new SenderRecoveryPool(size, CHAIN_ID);
      pools.push(pool);
      const keys = Array.from({ length: 5 }, () => signingKeyFromPrivate(randomPrivateKey()));
      const raws: Uint8Array[] = [];
      const want: (string | null)[] = [];
      for (let i = 0; i < 40; i++) {
        const k = keys[i % keys.length]!;
        raws.push(signed(i % 2 === 0 ? "legacy" : "1559", k.privateKey, i));
        want.push(bytesToHex(k.address));
      }
      // A flipped signature byte (recovers no key, or another one), garbage, a wrong chain id.
      const tampered = signed("1559", keys[0]!.privateKey, 99);
      tampered[tampered.length - 2]! ^= 0xff;
      raws.push(Uint8Array.of(0x02, 0xc0, 0x01));
      want.push(null);
      const other = createEthCommon({ chainId: CHAIN_ID + 1 });
      raws.push(
        createLegacyTx({ nonce: 0, gasPrice: 10n, gasLimit: 21_000n }, { common: other })
          .sign(keys[0]!.privateKey)
          .serialize(),
      );
      want.push(null);
      // One turn of the event loop: one message per worker.
      const got = await Promise.all(raws.map((r) => pool.recover(r)));
      assert.deepEqual(
        got.map((a) => (a === null ? null : bytesToHex(a))),
        want,
      );
      const t = await pool.recover(tampered);
      assert.notEqual(t === null ? null : bytesToHex(t), bytesToHex(keys[0]!.address));
    });
  }

  it("answers in the order the calls were made, though a worker with less to do finishes first", async () => {
    const pool = new SenderRecoveryPool(2, CHAIN_ID);
    pools.push(pool);
    const key = signingKeyFromPrivate(randomPrivateKey());
    // Both workers loaded first (one request each), so neither is still starting below.
    await Promise.all(
      [signed("1559", key.privateKey, 99), signed("1559", key.privateKey, 98)].map((r) => pool.recover(r)),
    );
    // One turn: the first half (48 valid, ~75 µs of ecrecover each) goes to one worker, the second
    // (undecodable, answered at once) to the other, which answers long before the first.
    const raws = [
      ...Array.from({ length: 48 }, (_, i) => signed("1559", key.privateKey, i)),
      ...Array.from({ length: 48 }, () => Uint8Array.of(0x02, 0xc0, 0x01)),
    ];
    const order: number[] = [];
    const got = await Promise.all(
      raws.map((r, i) =>
        pool.recover(r).then((a) => {
          order.push(i);
          return a;
        }),
      ),
    );
    assert.deepEqual(
      order,
      raws.map((_, i) => i),
    );
    assert.equal(got.filter((a) => a !== null).length, 48);
  });

  /** Each of `raws` as a single request from its own callback of one phase, as requests read from many connections are. */
  function lone(pool: SenderRecoveryPool, raws: Uint8Array[]): Promise<(Uint8Array | null)[]> {
    return new Promise((resolve) => {
      const answers: Promise<Uint8Array | null>[] = [];
      for (const raw of raws) setImmediate(() => answers.push(pool.recover(raw)));
      setImmediate(() => resolve(Promise.all(answers)));
    });
  }

  it("leaves a few single requests read in one poll to the caller when no worker is busy", async () => {
    const pool = new SenderRecoveryPool(2, CHAIN_ID);
    pools.push(pool);
    const keys = Array.from({ length: 21 }, () => signingKeyFromPrivate(randomPrivateKey()));
    const got = await lone(
      pool,
      keys.map((k, i) => signed(i % 2 ? "legacy" : "1559", k.privateKey, i)),
    );
    assert.deepEqual(
      got,
      keys.map(() => null),
    );
  });

  it("sends more single requests than that to the workers, each its own sender", async () => {
    const pool = new SenderRecoveryPool(2, CHAIN_ID);
    pools.push(pool);
    const keys = Array.from({ length: LONE_INLINE_MAX + 9 }, () => signingKeyFromPrivate(randomPrivateKey()));
    const got = await lone(
      pool,
      keys.map((k, i) => signed(i % 2 ? "legacy" : "1559", k.privateKey, i)),
    );
    assert.deepEqual(
      got.map((a) => (a === null ? null : bytesToHex(a))),
      keys.map((k) => bytesToHex(k.address)),
    );
  });

  it("sends single requests to the workers behind a batch still being recovered, and answers in order", async () => {
    const pool = new SenderRecoveryPool(1, CHAIN_ID);
    pools.push(pool);
    const key = signingKeyFromPrivate(randomPrivateKey());
    const batch = Array.from({ length: 40 }, (_, i) => signed("1559", key.privateKey, i));
    const singles = Array.from({ length: 3 }, (_, i) => signed("legacy", key.privateKey, 40 + i));
    const order: string[] = [];
    const tag = (p: Promise<Uint8Array | null>, what: string) =>
      p.then((a) => {
        order.push(what);
        return a;
      });
    // The batch leaves at the end of this turn; the singles arrive in the next phase, before it is back.
    const batchDone = Promise.all(batch.map((r, i) => tag(pool.recover(r), `b${i}`)));
    const singlesDone = lone(pool, singles).then((got) => {
      order.push("singles");
      return got;
    });
    const [b, s] = await Promise.all([batchDone, singlesDone]);
    assert.ok(b.every((a) => a !== null && bytesToHex(a) === bytesToHex(key.address)));
    assert.ok(s.every((a) => a !== null && bytesToHex(a) === bytesToHex(key.address)));
    assert.equal(order.at(-1), "singles");
  });

  it("answers null after close instead of hanging", async () => {
    const pool = new SenderRecoveryPool(1, CHAIN_ID);
    const k = signingKeyFromPrivate(randomPrivateKey());
    const pending = pool.recover(signed("legacy", k.privateKey, 0));
    await pool.close();
    const r = await pending;
    assert.ok(r === null || bytesToHex(r) === bytesToHex(k.address));
    assert.equal(await pool.recover(signed("legacy", k.privateKey, 1)), null);
  });
});
