import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RLP } from "@ethereumjs/rlp";
import {
  createAccessList2930Tx,
  createFeeMarket1559Tx,
  createLegacyTx,
  createTxFromRLP,
} from "@ethereumjs/tx";
import { bytesToHex, concatBytes } from "@ethereumjs/util";
import { createEthCommon, keccak256, randomPrivateKey, signingKeyFromPrivate } from "@staccato/common";
import { TxRejectedError } from "../../src/txpool/txErrors.ts";
import { common, testPool } from "./poolFixtures.ts";

const keys = [randomPrivateKey(), randomPrivateKey(), randomPrivateKey()];
const addr = (i: number) => bytesToHex(signingKeyFromPrivate(keys[i]!).address);
const to = "0x000000000000000000000000000000000000dead";

function tx(
  sender: number,
  nonce: number,
  tip = 1_000_000n,
  maxFee = 10_000_000_000n,
  extra: Record<string, unknown> = {},
) {
  return createFeeMarket1559Tx(
    {
      to,
      value: 1n,
      gasLimit: 21000n,
      nonce: BigInt(nonce),
      maxFeePerGas: maxFee,
      maxPriorityFeePerGas: tip,
      ...extra,
    },
    { common },
  )
    .sign(keys[sender]!)
    .serialize();
}

const pool = testPool;

const rejects = (fn: () => unknown, reason: string) =>
  assert.throws(fn, (e: unknown) => e instanceof TxRejectedError && e.reason === reason);

describe("txpool / ordering", () => {
  it("first come first served, a sender's txs in nonce order, future nonces wait", () => {
    const p = pool();
    const a1 = p.add(tx(0, 1));
    const b0 = p.add(tx(1, 0));
    assert.equal(p.readyCount(), 1);
    const a0 = p.add(tx(0, 0));
    assert.equal(p.pendingNonce(addr(0)), 2n);
    assert.deepEqual([p.take(), p.take(), p.take(), p.take()], [b0, a0, a1, undefined]);
  });

  it("the priority lane runs ahead of bulk traffic", () => {
    const p = pool({ priorityFeeThreshold: 2_000_000_000n, prioritySenders: [addr(2)] });
    const bulk = [p.add(tx(0, 0)), p.add(tx(0, 1))];
    const byFee = p.add(tx(1, 0, 2_000_000_000n));
    const bySender = p.add(tx(2, 0));
    assert.deepEqual([p.take(), p.take(), p.take(), p.take()], [byFee, bySender, ...bulk]);
  });

  it("a replacement needs 10% more on fee cap and tip and takes the old one's place", () => {
    const p = pool();
    const old = p.add(tx(0, 0, 1_000_000_000n, 10_000_000_000n));
    rejects(() => p.add(tx(0, 0, 1_050_000_000n, 11_000_000_000n)), "underpriced");
    const repl = p.add(tx(0, 0, 1_100_000_000n, 11_000_000_000n));
    assert.equal(p.size, 1);
    assert.equal(p.get(old.hashHex), undefined);
    assert.equal(p.take(), repl);
  });

  it("a failed tx sends its sender's later txs back to waiting", () => {
    const nonces = new Map<string, bigint>();
    const p = pool({}, nonces);
    const t0 = p.add(tx(0, 0));
    p.add(tx(0, 1));
    assert.equal(p.take(), t0);
    p.dropFailed(t0);
    assert.equal(p.take(), undefined);
    const again = p.add(tx(0, 0, 2_000_000n));
    assert.equal(p.take(), again);
    assert.equal(p.take()?.nonce, 1n);
  });
});

describe("txpool / validation", () => {
  it("rejects with the conventional reasons", () => {
    const nonces = new Map([[addr(0), 5n]]);
    const p = pool({ nonceGapLimit: 3, maxPoolSize: 3 }, nonces);
    rejects(() => p.add(tx(0, 4)), "nonceTooLow");
    rejects(() => p.add(tx(0, 9)), "nonceTooHigh");
    rejects(() => p.add(tx(0, 5, 1n, 10n)), "feeCapTooLow");
    rejects(() => p.add(tx(0, 5, 1n, 10_000_000_000n, { gasLimit: 20000n })), "intrinsicGasTooLow");
    rejects(() => p.add(tx(0, 5, 1n, 10_000_000_000n, { gasLimit: 40_000_000n })), "gasLimitTooHigh");
    rejects(() => p.add(tx(0, 5, 1n, 10_000_000_000n, { value: 10n ** 22n })), "insufficientFunds");
    rejects(() => p.add(new Uint8Array(200 * 1024)), "oversized");
    rejects(() => p.add(Uint8Array.of(1, 2, 3)), "malformed");
    const other = createEthCommon({ chainId: 1 });
    const foreign = createLegacyTx(
      { to, gasLimit: 21000n, gasPrice: 10n ** 10n, nonce: 5n },
      { common: other },
    )
      .sign(keys[0]!)
      .serialize();
    rejects(() => p.add(foreign), "wrongChainId");
    const ok = tx(0, 5);
    p.add(ok);
    rejects(() => p.add(ok), "alreadyKnown");
    p.add(tx(1, 0));
    p.add(tx(2, 0));
    rejects(() => p.add(tx(1, 1)), "poolFull");
  });

  it("a full pool takes an executable tx in place of a waiting one", () => {
    const p = pool({ maxPoolSize: 3 });
    p.add(tx(0, 1));
    p.add(tx(0, 2));
    p.add(tx(1, 5));
    rejects(() => p.add(tx(2, 3)), "poolFull"); // another waiting tx: refused
    const runnable = p.add(tx(2, 0)); // runs now: evicts a waiting one
    assert.equal(p.size, 3);
    assert.equal(p.take(), runnable);
  });

  it("an invalid signature is an invalid sender", () => {
    const raw = tx(0, 0);
    raw.fill(0xff, raw.length - 32); // s above secp256k1n/2
    rejects(() => pool().add(raw), "badSignature");
  });
});

describe("txpool / hashes", () => {
  it("a transaction's hash is the one ethereumjs computes, for every type the pool takes", () => {
    const p = pool();
    const accessList = [
      { address: to as `0x${string}`, storageKeys: [`0x${"00".repeat(31)}01` as `0x${string}`] },
    ];
    const fees = { maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 0n };
    const raws = [
      createLegacyTx({ to, gasLimit: 21000n, gasPrice: 10n ** 10n, nonce: 0n, value: 0n }, { common }),
      createAccessList2930Tx(
        { to, gasLimit: 30000n, gasPrice: 10n ** 10n, nonce: 1n, accessList, chainId: 21364n },
        { common },
      ),
      createFeeMarket1559Tx({ to, gasLimit: 21000n, nonce: 2n, value: 10n ** 18n, ...fees }, { common }),
      // A contract creation (no recipient) with data and an access list.
      createFeeMarket1559Tx(
        { gasLimit: 100_000n, nonce: 3n, data: "0x6001600055", accessList, ...fees },
        { common },
      ),
    ].map((t) => t.sign(keys[0]!).serialize());
    for (const raw of raws) {
      const slow = createTxFromRLP(raw, { common }).hash();
      const admitted = p.add(raw);
      assert.deepEqual(admitted.hash, slow);
      assert.equal(admitted.hashHex, bytesToHex(keccak256(raw)));
    }
  });

  it("a non-canonical encoding is refused, never admitted under a hash of other bytes", () => {
    const raw = tx(0, 5);
    const fields = RLP.decode(raw.subarray(1)) as Uint8Array[];
    // The nonce with a leading zero byte.
    const padded = [...fields];
    padded[1] = Uint8Array.of(0, 5);
    rejects(() => pool().add(concatBytes(Uint8Array.of(2), RLP.encode(padded))), "malformed");
    // The list's length in a longer form than needed (a leading zero in the length).
    const body = raw.subarray(1);
    assert.equal(body[0], 0xf8); // a one-byte length: rewrite it as two bytes
    const longForm = concatBytes(Uint8Array.of(2, 0xf9, 0), body.subarray(1));
    rejects(() => pool().add(longForm), "malformed");
    // The nonce, one byte below 0x80, given a length prefix (0x81 0x05 for 0x05).
    assert.deepEqual([...body.subarray(2, 6)], [0x82, 0x53, 0x74, 5]); // chain id 21364, nonce 5
    const prefixed = concatBytes(
      Uint8Array.of(2, 0xf8, body[1]! + 1),
      body.subarray(2, 5),
      Uint8Array.of(0x81, 5),
      body.subarray(6),
    );
    rejects(() => pool().add(prefixed), "malformed");
    // The untouched encoding is admitted: the three refusals are for the encodings alone.
    assert.equal(pool().add(raw).hashHex, bytesToHex(keccak256(raw)));
  });
});
