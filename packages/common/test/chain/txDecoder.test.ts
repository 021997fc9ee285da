import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Common, Hardfork, Mainnet } from "@ethereumjs/common";
import { RLP } from "@ethereumjs/rlp";
import {
  type TypedTransaction,
  createAccessList2930Tx,
  createFeeMarket1559Tx,
  createLegacyTx,
  createTxFromRLP,
} from "@ethereumjs/tx";
import { Address, bytesToHex } from "@ethereumjs/util";
import { createEthCommon } from "../../src/chain/ethCommon.ts";
import { type TxFields, TxDecoder, txFieldsOf, upfrontCost } from "../../src/chain/txFields.ts";
import { keccak256 } from "../../src/crypto/keccak.ts";
import { signingKeyFromPrivate } from "../../src/crypto/secp256k1.ts";
import { type Rng, rng } from "../helpers/random.ts";

/**
 * `TxDecoder` against `@ethereumjs/tx`, which stays the reference: on random valid transactions
 * of every type it decodes, every field, the intrinsic gas, the calldata floor and the up-front
 * cost agree; on mutilated bytes it either steps aside (null) or agrees, so it never accepts what
 * `createTxFromRLP` refuses.
 */

const common = createEthCommon({ chainId: 4242 });
const decoder = TxDecoder.create(common)!;
const key = signingKeyFromPrivate(keccak256(Uint8Array.of(1, 2, 3)));

function big(r: Rng, maxBytes: number): bigint {
  const n = r.int(maxBytes + 1);
  return n === 0 ? 0n : BigInt(bytesToHex(r.bytes(n)));
}

function data(r: Rng): Uint8Array {
  const d = r.bytes(r.int(4) === 0 ? 0 : r.int(300));
  // Plenty of zero bytes: they cost less, in intrinsic gas and in the floor.
  for (let i = 0; i < d.length; i++) if (r.int(3) === 0) d[i] = 0;
  return d;
}

function randomTx(r: Rng): TypedTransaction {
  const type = r.int(3);
  const create = r.int(5) === 0;
  const base = {
    nonce: big(r, 7),
    gasLimit: 21_000n + big(r, 4),
    to: create ? undefined : bytesToHex(r.bytes(20)),
    value: big(r, 20),
    data: data(r),
  };
  const accessList = Array.from({ length: r.int(3) }, () => ({
    address: bytesToHex(r.bytes(20)),
    storageKeys: Array.from({ length: r.int(3) }, () => bytesToHex(r.bytes(32))),
  }));
  let tx: TypedTransaction;
  if (type === 0) tx = createLegacyTx({ ...base, gasPrice: big(r, 12) }, { common });
  else if (type === 1)
    tx = createAccessList2930Tx({ ...base, gasPrice: big(r, 12), accessList, chainId: 4242n }, { common });
  else {
    const maxFeePerGas = big(r, 12);
    const tip = big(r, 12);
    tx = createFeeMarket1559Tx(
      {
        ...base,
        maxFeePerGas,
        maxPriorityFeePerGas: tip > maxFeePerGas ? maxFeePerGas : tip,
        accessList,
        chainId: 4242n,
      },
      { common },
    );
  }
  return tx.sign(key.privateKey);
}

/** The fields `TxDecoder` gives, and those of the same bytes decoded by `@ethereumjs/tx`. */
function same(raw: Uint8Array, decoded: TxFields, baseFees: bigint[]): void {
  const t = createTxFromRLP(raw, { common, freeze: false });
  // What txFieldsOf reads, but the sender: a mutilated transaction's signature may not recover.
  const ref = txFieldsOf(Object.assign(t, { getSenderAddress: () => new Address(new Uint8Array(20)) }));
  for (const f of ["type", "nonce", "gasLimit", "maxFee", "tip", "is1559", "value"] as const)
    assert.equal(decoded[f], ref[f], f);
  assert.deepEqual(decoded.to, ref.to, "to");
  assert.deepEqual(decoded.data, ref.data, "data");
  assert.deepEqual(
    decoded.accessList.map(([a, k]) => [a, [...k]]),
    ref.accessList.map(([a, k]) => [a, [...k]]),
    "accessList",
  );
  assert.equal(decoded.intrinsicGas, ref.intrinsicGas, "intrinsic gas");
  assert.equal(decoded.floorGas, ref.floorGas, "calldata floor");
  const typed = decoded.typed();
  for (const baseFee of baseFees) {
    if (baseFee <= decoded.maxFee) assert.equal(upfrontCost(decoded, baseFee), typed.getUpfrontCost(baseFee));
  }
}

describe("chain / transaction decoder", () => {
  it("decodes random legacy, EIP-2930 and EIP-1559 transactions exactly as @ethereumjs/tx does", () => {
    const r = rng(7);
    for (let i = 0; i < 600; i++) {
      const tx = randomTx(r);
      const raw = tx.serialize();
      const d = decoder.decode(raw);
      assert.ok(d !== null, `transaction ${i} (type ${tx.type}) decoded`);
      // The signing hash built from the raw bytes, and the sender recovered with it.
      assert.equal(bytesToHex(d.signingHash()), bytesToHex(tx.getHashedMessageToSign()), `transaction ${i}`);
      assert.deepEqual(d.recoverSender(), key.address);
      // The same from a view into a larger buffer (as the sender workers receive them).
      const padded = new Uint8Array(raw.length + 9);
      padded.set(raw, 5);
      const view = decoder.decode(padded.subarray(5, 5 + raw.length))!;
      assert.equal(bytesToHex(view.signingHash()), bytesToHex(tx.getHashedMessageToSign()));
      d.setSender(key.address);
      assert.deepEqual(d.sender, tx.getSenderAddress().bytes);
      same(raw, d, [0n, 7n, 10n ** 9n, d.maxFee]);
      // The ethereumjs object it builds on demand is the same transaction, its sender pinned.
      assert.equal(bytesToHex(d.typed().hash()), bytesToHex(tx.hash()));
      assert.equal(d.typed().getSenderAddress().toString(), tx.getSenderAddress().toString());
    }
  });

  it("never accepts bytes @ethereumjs/tx refuses: mutilated transactions decode the same or not at all", () => {
    const r = rng(11);
    let agreed = 0;
    let steppedAside = 0;
    for (let i = 0; i < 3000; i++) {
      const raw = Uint8Array.from(randomTx(r).serialize());
      const how = r.int(4);
      let bad: Uint8Array;
      if (how === 0) {
        bad = raw.slice();
        bad[r.int(bad.length)] ^= 1 << r.int(8);
      } else if (how === 1) bad = raw.subarray(0, r.int(raw.length));
      else if (how === 2) bad = Uint8Array.from([...raw, r.int(256)]);
      else {
        bad = raw.slice();
        bad[r.int(bad.length)] = r.int(256);
      }
      const d = decoder.decode(bad);
      let ok = true;
      try {
        const t = createTxFromRLP(bad, { common });
        if (!t.isSigned()) ok = false;
      } catch {
        ok = false;
      }
      if (d === null) {
        steppedAside++;
        continue;
      }
      assert.ok(ok, `decoded bytes @ethereumjs/tx refuses: ${bytesToHex(bad)}`);
      same(bad, d, [0n, 10n ** 9n]);
      // A changed field changes the signer: both ways recover the same one, or neither does.
      const t = createTxFromRLP(bad, { common });
      let want: string | null;
      try {
        want = bytesToHex(t.getSenderAddress().bytes);
      } catch {
        want = null;
      }
      let got: string | null;
      try {
        got = bytesToHex(d.recoverSender());
      } catch {
        got = null;
      }
      assert.equal(got, want, `sender of ${bytesToHex(bad)}`);
      agreed++;
    }
    // Flipped bits in a value or in the data still make a valid transaction, decoded both ways.
    assert.ok(agreed > 300, `only ${agreed} mutilated transactions were still valid`);
    assert.ok(steppedAside > 1000);
  });

  it("steps aside for what it does not take: other types, unprotected legacy, high s, leading zeros, a wrong chain", () => {
    const tx = createFeeMarket1559Tx(
      { nonce: 1n, gasLimit: 50_000n, maxFeePerGas: 10n, maxPriorityFeePerGas: 1n, chainId: 4242n },
      { common },
    ).sign(key.privateKey);
    const fields = RLP.decode(tx.serialize().subarray(1)) as Uint8Array[];
    const reencode = (at: number, v: Uint8Array, type = 2) =>
      Uint8Array.from([type, ...RLP.encode(fields.map((f, i) => (i === at ? v : f)))]);
    assert.ok(decoder.decode(tx.serialize()) !== null);
    // s above n/2 (EIP-2).
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(bytesToHex(fields[11]!));
    assert.equal(decoder.decode(reencode(11, hexBytes(n - s))), null);
    // A leading zero in the nonce; another chain; a nonce of 2^64 - 1 (EIP-2681).
    assert.equal(decoder.decode(reencode(1, Uint8Array.of(0, 1))), null);
    assert.equal(decoder.decode(reencode(0, Uint8Array.of(1))), null);
    assert.equal(decoder.decode(reencode(1, hexBytes((1n << 64n) - 1n))), null);
    // yParity 2; a tip above the fee cap; a type 3 and a type 4 envelope.
    assert.equal(decoder.decode(reencode(9, Uint8Array.of(2))), null);
    assert.equal(decoder.decode(reencode(2, Uint8Array.of(11))), null);
    assert.equal(decoder.decode(reencode(0, fields[0]!, 3)), null);
    assert.equal(decoder.decode(reencode(0, fields[0]!, 4)), null);
    // Legacy without EIP-155 (v = 27): valid, but left to @ethereumjs/tx.
    const legacy = createLegacyTx({ nonce: 0n, gasLimit: 21_000n, gasPrice: 10n }, { common }).sign(
      key.privateKey,
    );
    const lf = RLP.decode(legacy.serialize()) as Uint8Array[];
    assert.ok(decoder.decode(legacy.serialize()) !== null);
    assert.equal(decoder.decode(RLP.encode(lf.map((f, i) => (i === 6 ? Uint8Array.of(27) : f)))), null);
    // EIP-155 for another chain.
    assert.equal(decoder.decode(RLP.encode(lf.map((f, i) => (i === 6 ? Uint8Array.of(37) : f)))), null);
    assert.equal(decoder.decode(new Uint8Array(0)), null);
  });

  it("is not used under rules it does not model", () => {
    assert.equal(TxDecoder.create(new Common({ chain: Mainnet, hardfork: Hardfork.Berlin })), null);
  });
});

function hexBytes(v: bigint): Uint8Array {
  const h = v.toString(16);
  return Uint8Array.from(Buffer.from(h.length % 2 ? `0${h}` : h, "hex"));
}
