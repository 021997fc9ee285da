import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RLP } from "@ethereumjs/rlp";
import {
  createAccessList2930Tx,
  createEOACode7702Tx,
  createFeeMarket1559Tx,
  createLegacyTx,
} from "@ethereumjs/tx";
import {
  type AccountDiff,
  DIFF_FLAG_CREATED,
  DIFF_FLAG_DELETED,
  DecodeError,
  type MiniBlock,
  type Receipt,
  STATE_DIFF_VERSION,
  type StateDiff,
  createEthCommon,
  decodeSignedMiniBlock,
  decodeStateDiff,
  encodeSignedMiniBlock,
  sealMiniBlockBytes,
  encodeStateDiff,
  keccak256,
  miniBlockDiffBytes,
  miniBlockHash,
} from "../../src/index.ts";
import { bytesOf, floatRng } from "../helpers/random.ts";

const pad32 = (a: Uint8Array) => {
  const out = new Uint8Array(32);
  out.set(a, 32 - a.length);
  return out;
};
const mappingSlot = (address: Uint8Array, n: number) => {
  const pre = new Uint8Array(64);
  pre.set(address, 12);
  pre[63] = n;
  return keccak256(pre);
};
const unpadded = (b: Uint8Array) => {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.slice(i);
};

/** An EIP-1559 transaction to `to` (unsigned: only its fields matter to the address book). */
function tx1559(to: Uint8Array | undefined, r: () => number): Uint8Array {
  return createFeeMarket1559Tx(
    {
      chainId: 1n,
      nonce: BigInt(Math.floor(r() * 1000)),
      maxFeePerGas: 10n,
      maxPriorityFeePerGas: 1n,
      gasLimit: 50_000n,
      to,
      value: BigInt(Math.floor(r() * 1e9)),
      data: bytesOf(r, Math.floor(r() * 80)),
    },
    { common: createEthCommon({ chainId: 1 }) },
  ).serialize();
}

function receiptWith(logs: Receipt["logs"]): Receipt {
  return {
    status: 1,
    cumulativeGasUsed: 1n,
    gasUsed: 1n,
    effectiveGasPrice: 1n,
    contractAddress: null,
    logs,
  };
}

/**
 * A random mini-block context (transactions to some of `pool`, ERC-20-style Transfer logs naming
 * others) and a random diff over `pool` and fresh addresses: created, deleted and updated
 * accounts, code, small slot numbers, mapping slots of known and unknown addresses, literal slots,
 * zero and full-width values.
 */
function randomCase(seed: number): { diff: StateDiff; txs: Uint8Array[]; receipts: Receipt[] } {
  const r = floatRng(seed);
  const pool = Array.from({ length: 1 + Math.floor(r() * 12) }, () => bytesOf(r, 20));
  const pick = () => pool[Math.floor(r() * pool.length)]!;
  const txCount = Math.floor(r() * 6);
  const txs: Uint8Array[] = [];
  const receipts: Receipt[] = [];
  for (let i = 0; i < txCount; i++) {
    txs.push(tx1559(r() < 0.1 ? undefined : pick(), r));
    const logs = Array.from({ length: Math.floor(r() * 3) }, () => ({
      address: pick(),
      topics: [bytesOf(r, 32), pad32(pick()), r() < 0.5 ? pad32(pick()) : bytesOf(r, 32)],
      data: bytesOf(r, 32),
    }));
    receipts.push(receiptWith(logs));
  }
  const diff: StateDiff = [];
  const used = new Set<string>();
  const accounts = Math.floor(r() * 10);
  for (let i = 0; i < accounts; i++) {
    const address = r() < 0.6 ? pick() : bytesOf(r, 20);
    const key = Buffer.from(address).toString("hex");
    if (used.has(key)) continue;
    used.add(key);
    const kind = r();
    if (kind < 0.1) {
      diff.push({ address, flags: DIFF_FLAG_DELETED, storage: [] });
      continue;
    }
    const d: AccountDiff = { address, flags: kind < 0.25 ? DIFF_FLAG_CREATED : 0, storage: [] };
    if (r() < 0.6) d.nonce = r() < 0.1 ? 2n ** 64n - 1n : BigInt(Math.floor(r() * 100_000));
    if (r() < 0.7) {
      const b = r();
      d.balance =
        b < 0.1 ? 0n : b < 0.2 ? 2n ** 256n - 1n : BigInt(`0x${Buffer.from(bytesOf(r, 12)).toString("hex")}`);
    }
    if (r() < 0.15) d.code = bytesOf(r, Math.floor(r() * 300));
    const slots = new Set<string>();
    for (let k = Math.floor(r() * 6); k > 0; k--) {
      const s = r();
      const slot =
        s < 0.05
          ? new Uint8Array(32)
          : s < 0.2
            ? pad32(Uint8Array.of(Math.floor(r() * 256), 1 + Math.floor(r() * 255)))
            : s < 0.6
              ? mappingSlot(pick(), Math.floor(r() * 20))
              : s < 0.7
                ? mappingSlot(bytesOf(r, 20), 0)
                : bytesOf(r, 32);
      const sk = Buffer.from(slot).toString("hex");
      if (slots.has(sk)) continue;
      slots.add(sk);
      const v = r();
      const value =
        v < 0.2
          ? new Uint8Array(0)
          : v < 0.3
            ? bytesOf(r, 32)
            : unpadded(bytesOf(r, 1 + Math.floor(r() * 16)));
      d.storage.push([slot, value]);
    }
    diff.push(d);
  }
  return { diff, txs, receipts };
}

describe("state diff codec / round trip", () => {
  it("decodes exactly what was encoded, over 3,000 random diffs and contexts", () => {
    for (let seed = 1; seed <= 3000; seed++) {
      const { diff, txs, receipts } = randomCase(seed);
      const bytes = encodeStateDiff(diff, txs, receipts);
      assert.equal(bytes[0], STATE_DIFF_VERSION);
      assert.deepEqual(decodeStateDiff(bytes, txs, receipts), diff, `seed ${seed}`);
    }
  });

  it("refers to addresses of the mini-block's transactions and logs instead of repeating them", () => {
    const r = floatRng(7);
    const [to, from, recipient, token] = [bytesOf(r, 20), bytesOf(r, 20), bytesOf(r, 20), bytesOf(r, 20)];
    const txs = [tx1559(to, r), tx1559(token, r)];
    const receipts = [
      receiptWith([]),
      receiptWith([
        { address: token, topics: [bytesOf(r, 32), pad32(from), pad32(recipient)], data: bytesOf(r, 32) },
      ]),
    ];
    const diff: StateDiff = [
      { address: from, flags: 0, nonce: 5n, balance: 10n ** 18n, storage: [] },
      { address: to, flags: 0, balance: 1n, storage: [] },
      {
        address: token,
        flags: 0,
        storage: [
          [mappingSlot(from, 0), Uint8Array.of(9)],
          [mappingSlot(recipient, 0), Uint8Array.of(1)],
          [pad32(Uint8Array.of(8)), Uint8Array.of(2)],
        ],
      },
    ];
    const bytes = encodeStateDiff(diff, txs, receipts);
    assert.deepEqual(decodeStateDiff(bytes, txs, receipts), diff);
    // No address and no slot key is spelled out: 3 accounts, 3 slots, values, counts, flags.
    assert.ok(bytes.length < 40, `${bytes.length} bytes`);
    // Without the context every address is literal.
    const alone = encodeStateDiff(diff, [], []);
    assert.ok(alone.length > bytes.length + 3 * 20, `${alone.length} vs ${bytes.length}`);
    assert.deepEqual(decodeStateDiff(alone, [], []), diff);
  });

  it("finds `to` in legacy, EIP-2930, EIP-1559 and EIP-7702 transactions; creations have none", () => {
    const r = floatRng(11);
    const common = createEthCommon({ chainId: 1 });
    const to = bytesOf(r, 20);
    const base = { nonce: 1n, gasLimit: 30_000n, value: 1n, data: Uint8Array.of(1, 2, 3) };
    const fee = { maxFeePerGas: 10n, maxPriorityFeePerGas: 1n, chainId: 1n };
    const txs = [
      createLegacyTx({ ...base, gasPrice: 10n, to }, { common }).serialize(),
      createAccessList2930Tx(
        { ...base, gasPrice: 10n, to: bytesOf(r, 20), chainId: 1n },
        { common },
      ).serialize(),
      createFeeMarket1559Tx({ ...base, ...fee, to: bytesOf(r, 20) }, { common }).serialize(),
      createEOACode7702Tx(
        {
          ...base,
          ...fee,
          to: bytesOf(r, 20),
          authorizationList: [
            [
              Uint8Array.of(1),
              bytesOf(r, 20),
              Uint8Array.of(1),
              new Uint8Array(0),
              Uint8Array.of(1),
              Uint8Array.of(1),
            ],
          ],
        },
        { common },
      ).serialize(),
      createFeeMarket1559Tx({ ...base, ...fee }, { common }).serialize(),
    ];
    const receipts = txs.map(() => receiptWith([]));
    const tos = [
      to,
      ...txs.slice(1, 4).map((t) => RLP.decode(t.subarray(1))[t[0] === 1 ? 4 : 5] as Uint8Array),
    ];
    const diff: StateDiff = tos.map((address) => ({ address, flags: 0, balance: 1n, storage: [] }));
    const bytes = encodeStateDiff(diff, txs, receipts);
    // Version, count, four one-byte references, four flags, four balances: no literal address.
    assert.equal(bytes.length, 2 + 4 + 4 + 8);
    assert.deepEqual(decodeStateDiff(bytes, txs, receipts), diff);
  });

  it("an empty diff is two bytes", () => {
    assert.deepEqual(encodeStateDiff([], [], []), Uint8Array.of(STATE_DIFF_VERSION, 0));
    assert.deepEqual(decodeStateDiff(Uint8Array.of(STATE_DIFF_VERSION, 0), [], []), []);
  });
});

describe("state diff codec / hostile input", () => {
  const expectDecodeError = (bytes: Uint8Array, txs: Uint8Array[] = [], receipts: Receipt[] = []) => {
    try {
      decodeStateDiff(bytes, txs, receipts);
    } catch (err) {
      assert.ok(err instanceof DecodeError, `not a DecodeError: ${(err as Error)?.stack}`);
      return;
    }
    assert.fail(`decoded ${Buffer.from(bytes).toString("hex")}`);
  };

  it("rejects an unknown version, unknown flags and trailing bytes", () => {
    expectDecodeError(Uint8Array.of(2, 0));
    expectDecodeError(Uint8Array.of(0, 0));
    expectDecodeError(new Uint8Array(0));
    const one = encodeStateDiff(
      [{ address: new Uint8Array(20).fill(1), flags: 0, nonce: 1n, storage: [] }],
      [],
      [],
    );
    const badFlags = one.slice();
    badFlags[3] = 0x80;
    expectDecodeError(badFlags);
    expectDecodeError(Uint8Array.of(...one, 0));
  });

  it("refuses huge counts before allocating anything", () => {
    // 2^35 accounts, then 2^28 slots for one account, each claimed in a few bytes.
    expectDecodeError(Uint8Array.of(STATE_DIFF_VERSION, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01));
    expectDecodeError(Uint8Array.of(STATE_DIFF_VERSION, 0xff, 0xff, 0xff, 0x7f));
    const slots = Uint8Array.of(
      STATE_DIFF_VERSION,
      1,
      0,
      32,
      0x80,
      0x80,
      0x80,
      0x80,
      0x01,
      ...new Uint8Array(20),
    );
    expectDecodeError(slots);
    // A code length past the end.
    expectDecodeError(Uint8Array.of(STATE_DIFF_VERSION, 1, 0, 16, 0xff, 0xff, 0x03, ...new Uint8Array(20)));
  });

  it("every truncation and every single-byte corruption of real encodings decodes or throws DecodeError", () => {
    for (let seed = 1; seed <= 150; seed++) {
      const { diff, txs, receipts } = randomCase(seed);
      const bytes = encodeStateDiff(diff, txs, receipts);
      for (let cut = 0; cut < bytes.length; cut++) expectDecodeError(bytes.subarray(0, cut), txs, receipts);
      const r = floatRng(seed);
      for (let k = 0; k < 40; k++) {
        const bad = bytes.slice();
        bad[Math.floor(r() * bad.length)] = Math.floor(r() * 256);
        try {
          decodeStateDiff(bad, txs, receipts);
        } catch (err) {
          assert.ok(err instanceof DecodeError, `seed ${seed}: ${(err as Error)?.stack}`);
        }
      }
    }
  });

  it("random garbage never throws anything but DecodeError", () => {
    const r = floatRng(99);
    const { txs, receipts } = randomCase(5);
    for (let i = 0; i < 20_000; i++) {
      const bad = bytesOf(r, Math.floor(r() * 64));
      if (bad.length > 0 && r() < 0.8) bad[0] = STATE_DIFF_VERSION;
      try {
        decodeStateDiff(bad, txs, receipts);
      } catch (err) {
        assert.ok(
          err instanceof DecodeError,
          `${Buffer.from(bad).toString("hex")}: ${(err as Error)?.stack}`,
        );
      }
    }
  });
});

describe("state diff codec / inside a mini-block", () => {
  it("the decoded mini-block hashes as the encoder hashed it and re-encodes to the same bytes", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const { diff, txs, receipts } = randomCase(seed);
      const r = floatRng(seed);
      const mb: MiniBlock = {
        number: BigInt(seed),
        blockNumber: BigInt(seed >> 2),
        index: seed % 5,
        parentHash: bytesOf(r, 32),
        timestampUs: 1_700_000_000_000_000n + BigInt(seed),
        firstTxIndex: seed % 7,
        firstLogIndex: seed % 11,
        txs,
        receipts,
        diff,
      };
      const hash = miniBlockHash(mb);
      const encoded = encodeSignedMiniBlock({ ...mb, hash, signature: bytesOf(r, 65) });
      const back = decodeSignedMiniBlock(encoded);
      assert.deepEqual(back.hash, hash, `seed ${seed}`);
      assert.deepEqual(back.diff, diff);
      assert.deepEqual(miniBlockDiffBytes(back), miniBlockDiffBytes(mb));
      assert.deepEqual(encodeSignedMiniBlock(back), encoded);
      // Sealing encodes the body once, and gives the same hash and bytes.
      const sealed = sealMiniBlockBytes(mb, () => back.signature);
      assert.deepEqual(sealed.hash, hash);
      assert.deepEqual(sealed.encoded, encoded);
    }
  });

  it("a mini-block whose diff does not decode is refused", () => {
    const { diff, txs, receipts } = randomCase(3);
    const mb: MiniBlock = {
      number: 1n,
      blockNumber: 1n,
      index: 0,
      parentHash: new Uint8Array(32),
      timestampUs: 1n,
      firstTxIndex: 0,
      firstLogIndex: 0,
      txs,
      receipts,
      diff,
    };
    const f = RLP.decode(
      encodeSignedMiniBlock({ ...mb, hash: miniBlockHash(mb), signature: new Uint8Array(65) }),
    );
    (f as Uint8Array[])[9] = Uint8Array.of(STATE_DIFF_VERSION, 5);
    assert.throws(() => decodeSignedMiniBlock(RLP.encode(f)), DecodeError);
    (f as unknown[])[9] = [];
    assert.throws(() => decodeSignedMiniBlock(RLP.encode(f as Uint8Array[])), DecodeError);
  });
});
