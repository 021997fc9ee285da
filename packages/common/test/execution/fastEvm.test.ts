import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  createAccessList2930Tx,
  createFeeMarket1559Tx,
  createLegacyTx,
  type TypedTransaction,
} from "@ethereumjs/tx";
import { bigIntToBytes, bytesToHex } from "@ethereumjs/util";
import { executionBlock } from "../../src/chain/blockHeader.ts";
import { createEthCommon } from "../../src/chain/ethCommon.ts";
import { KECCAK256_NULL, keccak256 } from "../../src/crypto/keccak.ts";
import { signingKeyFromPrivate } from "../../src/crypto/secp256k1.ts";
import { type ExecutionEngine, Executor, type ExecutorOptions } from "../../src/execution/executor.ts";
import { MemoryState } from "../../src/state/memoryState.ts";
import { assertSameExecution } from "../helpers/engineComparison.ts";
import { rng } from "../helpers/random.ts";

/**
 * Differential fuzzing of the fast EVM against `runTx` (Prague rules): random contracts made of
 * storage, transient storage, logs, memory, calls of every kind (with value, into each other,
 * into precompiles and empty accounts), creations (CREATE and CREATE2, colliding ones included),
 * self-destructs, reverts and invalid opcodes, called by random transactions of every type. Two
 * copies of the same state, one executor per engine: outcome, receipt, bloom, state diff and the
 * keys read (the witness) must be identical after every transaction.
 */

const common = createEthCommon({ chainId: 4242 });
const keys = Array.from({ length: 4 }, (_, i) => signingKeyFromPrivate(keccak256(Uint8Array.of(9, i))));
const hex = (b: Uint8Array) => bytesToHex(b);
type Hex = `0x${string}`;
const CONTRACTS = Array.from({ length: 6 }, (_, i): Hex => `0x${"c0".repeat(19)}${(0xa0 + i).toString(16)}`);
const EMPTY_EXISTING: Hex = `0x${"e1".repeat(20)}`;
const PRECOMPILES = [1, 2, 3, 4, 5, 6, 7, 9].map(
  (n): Hex => `0x${"00".repeat(19)}${n.toString(16).padStart(2, "0")}`,
);

type R = ReturnType<typeof rng>;

/** PUSH of a value as the smallest PUSHn. */
function push(v: bigint | number): number[] {
  let x = BigInt(v);
  if (x === 0n) return [0x5f];
  const bytes: number[] = [];
  while (x > 0n) {
    bytes.unshift(Number(x & 0xffn));
    x >>= 8n;
  }
  return [0x5f + bytes.length, ...bytes];
}

const pick = <T>(r: R, xs: readonly T[]): T => xs[r.int(xs.length)]!;

/** A small value, zero, or a big one. */
function value(r: R): bigint {
  switch (r.int(4)) {
    case 0:
      return 0n;
    case 1:
      return BigInt(r.int(5));
    case 2:
      return BigInt(r.int(1 << 30));
    default:
      return (1n << 255n) + BigInt(r.int(1000));
  }
}

function target(r: R): bigint {
  const all = [
    ...CONTRACTS,
    ...CONTRACTS,
    ...PRECOMPILES,
    EMPTY_EXISTING,
    hex(keys[r.int(keys.length)]!.address),
  ];
  return r.int(10) === 0 ? BigInt(r.int(1 << 20)) : BigInt(pick(r, all));
}

/** Init code that deploys `runtime` (≤ 32 bytes), or reverts, or deploys 0xEF…, or runs out of gas. */
function initCode(r: R): number[] {
  const runtime = [...push(r.int(4)), 0x54, ...push(1), 0x01, ...push(r.int(4)), 0x55, 0x00].slice(0, 32);
  const k = r.int(6);
  if (k === 0) return [...push(0), ...push(0), 0xfd];
  if (k === 1) return [...push(0xef), ...push(0), 0x53, ...push(1), ...push(0), 0xf3];
  if (k === 2) return [0x5b, ...push(0), 0x56]; // loop until out of gas
  const word = BigInt(
    `0x${Buffer.from([...runtime, ...new Array(32 - runtime.length).fill(0)]).toString("hex")}`,
  );
  return [...push(word), ...push(0), 0x52, ...push(runtime.length), ...push(0), 0xf3];
}

/** One random snippet of code. */
function snippet(r: R, depthBudget: number): number[] {
  switch (r.int(depthBudget > 0 ? 24 : 17)) {
    case 0:
    case 1:
      return [...push(value(r)), ...push(r.int(4)), 0x55];
    case 2:
      return [...push(r.int(4)), 0x54, ...push(r.int(4)), 0x55];
    case 3:
      return [
        ...push(value(r)),
        ...push(r.int(3)),
        0x5d,
        ...push(r.int(3)),
        0x5c,
        ...push(4 + r.int(2)),
        0x55,
      ];
    case 4: {
      const n = r.int(5);
      const topics = Array.from({ length: n }, () => push(value(r))).flat();
      return [...topics, ...push(r.int(70)), ...push(r.int(64)), 0xa0 + n];
    }
    case 5:
      return [...push(value(r)), ...push(r.int(200)), 0x52];
    case 6:
      return [...push(r.int(40)), ...push(r.int(64)), 0x20, ...push(6), 0x55];
    case 7:
      return [...push(target(r)), pick(r, [0x31, 0x3b, 0x3f]), ...push(7), 0x55];
    case 8:
      return [...push(r.int(50)), ...push(r.int(40)), ...push(r.int(64)), ...push(target(r)), 0x3c];
    case 9:
      return [...push(r.int(40)), ...push(r.int(8)), ...push(r.int(64)), 0x3e];
    case 10:
      return [0x3d, ...push(8), 0x55];
    case 11: {
      const op = pick(
        r,
        [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0a, 0x0b, 0x10, 0x12, 0x1a, 0x1b, 0x1c, 0x1d],
      );
      return [...push(value(r)), ...push(value(r)), op, ...push(9), 0x55];
    }
    case 12:
      return [
        pick(
          r,
          [0x30, 0x32, 0x33, 0x34, 0x36, 0x38, 0x3a, 0x41, 0x42, 0x43, 0x45, 0x46, 0x47, 0x48, 0x59, 0x5a],
        ),
        ...push(10),
        0x55,
      ];
    case 13:
      return [...push(r.int(4)), ...push(0), ...push(r.int(40)), 0x5e];
    case 14:
      return r.int(3) === 0 ? [...push(r.int(32)), ...push(r.int(32)), pick(r, [0xfd, 0xf3])] : [0x58, 0x50];
    case 15:
      return r.int(4) === 0 ? [0xfe] : [...push(value(r)), 0x50];
    case 16:
      return [...push(0), 0x35, ...push(11), 0x55];
    case 17:
    case 18:
    case 19: {
      // A call of any kind, its success flag stored.
      const op = pick(r, [0xf1, 0xf1, 0xf2, 0xf4, 0xfa]);
      const gas = pick(r, [0n, 2300n, BigInt(r.int(60_000)), (1n << 64n) - 1n]);
      const withValue = op === 0xf1 || op === 0xf2;
      return [
        ...push(r.int(64)),
        ...push(r.int(64)),
        ...push(r.int(64)),
        ...push(r.int(32)),
        ...(withValue ? push(r.int(3) === 0 ? BigInt(r.int(1000)) : 0n) : []),
        ...push(target(r)),
        ...push(gas),
        op,
        ...push(12 + r.int(3)),
        0x55,
      ];
    }
    case 20:
    case 21: {
      // CREATE or CREATE2 of random init code written to memory.
      const init = initCode(r);
      const writes: number[] = [];
      for (let i = 0; i < init.length; i++) writes.push(...push(init[i]!), ...push(i), 0x53);
      const salt = r.int(3);
      const create =
        r.int(2) === 0
          ? [...push(salt), ...push(init.length), ...push(0), ...push(r.int(3)), 0xf5]
          : [...push(init.length), ...push(0), ...push(r.int(3)), 0xf0];
      return [...writes, ...create, 0x80, ...push(15), 0x55, 0x3b, ...push(16), 0x55];
    }
    default:
      return [...push(target(r)), 0xff];
  }
}

function contract(r: R): Uint8Array {
  const out: number[] = [];
  const n = 2 + r.int(8);
  for (let i = 0; i < n; i++) out.push(...snippet(r, 1));
  // Most contracts end normally; a random byte tail sometimes.
  if (r.int(6) === 0) out.push(...Array.from(r.bytes(4)));
  return Uint8Array.from(out);
}

async function setup(engine: ExecutionEngine, seed: number, compileAfter?: number) {
  const r = rng(seed * 7919);
  const state = new MemoryState();
  for (const k of keys)
    state.writeAccount(hex(k.address), { nonce: 0n, balance: 10n ** 24n, codeHash: KECCAK256_NULL });
  state.writeAccount(EMPTY_EXISTING, { nonce: 0n, balance: 0n, codeHash: KECCAK256_NULL });
  for (const c of CONTRACTS) {
    state.writeAccount(c, { nonce: 1n, balance: BigInt(r.int(5000)), codeHash: KECCAK256_NULL });
    state.writeCode(c, contract(r));
    state.writeSlot(c, `0x${"00".repeat(31)}01`, Uint8Array.of(7));
  }
  state.takeDiff();
  const fallbacks: string[] = [];
  const executor = await Executor.create(common, state, async () => undefined, {
    engine,
    syncBlockHash: () => undefined,
    onFallback: (reason) => fallbacks.push(reason),
    compileAfter,
  });
  executor.takeReads();
  return { state, executor, fallbacks };
}

// Each seed twice: interpreted only, and with every block of code compiled (blockCompiler.ts).
const VARIANTS = [
  { name: "interpreted", compileAfter: Number.POSITIVE_INFINITY },
  { name: "compiled", compileAfter: 0 },
] as const;

describe("fast EVM / differential fuzzing against runTx", () => {
  for (const seed of [1, 2, 3, 4, 5, 6])
    for (const variant of VARIANTS)
      it(`random contracts and transactions give identical outcomes, diffs and reads (seed ${seed}, ${variant.name})`, async () => {
        const r = rng(seed);
        const fast = await setup("fast", seed, variant.compileAfter);
        const ref = await setup("reference", seed);
        const nonces = keys.map(() => 0n);
        let ran = 0;
        let contractCalls = 0;
        for (let blockNo = 1n; blockNo <= 6n; blockNo++) {
          const baseFee = pick(r, [0n, 7n]);
          const env = {
            number: blockNo,
            timestamp: 1_700_000_000n + blockNo,
            baseFee,
            gasLimit: 30_000_000n,
            coinbase: r.int(3) === 0 ? keys[0]!.address : new Uint8Array(20).fill(0xcb),
            prevRandao: keccak256(Uint8Array.of(Number(blockNo))),
          };
          const block = executionBlock(env, common);
          let gasUsed = 0n;
          for (let i = 0; i < 25; i++) {
            const s = r.int(keys.length);
            const k = keys[s]!;
            const kind = r.int(10);
            const to: Hex | undefined =
              kind === 0 ? undefined : kind === 1 ? pick(r, PRECOMPILES) : pick(r, CONTRACTS);
            const data =
              to === undefined
                ? Uint8Array.from([...contract(r), 0x00].slice(0, 200))
                : kind === 1
                  ? r.bytes(r.int(130))
                  : r.bytes(r.int(3) * 16);
            const nonce = r.int(20) === 0 ? nonces[s]! + 1n : nonces[s]!;
            const gasLimit = pick(r, [60_000n, 250_000n, 1_000_000n, 22_000n]);
            const value = r.int(3) === 0 ? BigInt(r.int(10_000)) : 0n;
            const fee = baseFee + BigInt(r.int(3));
            let tx: TypedTransaction;
            switch (r.int(3)) {
              case 0:
                tx = createLegacyTx({ nonce, gasPrice: fee + 1n, gasLimit, to, value, data }, { common });
                break;
              case 1:
                tx = createAccessList2930Tx(
                  {
                    chainId: 4242n,
                    nonce,
                    gasPrice: fee + 1n,
                    gasLimit,
                    to,
                    value,
                    data,
                    accessList:
                      to === undefined || r.int(2) === 0
                        ? []
                        : [{ address: to, storageKeys: [`0x${"00".repeat(31)}0${r.int(4)}`] }],
                  },
                  { common },
                );
                break;
              default:
                tx = createFeeMarket1559Tx(
                  {
                    chainId: 4242n,
                    nonce,
                    maxFeePerGas: fee + 2n,
                    maxPriorityFeePerGas: 1n,
                    gasLimit,
                    to,
                    value,
                    data,
                  },
                  { common },
                );
            }
            const signed = tx.sign(k.privateKey);
            const a = await fast.executor.execute(signed, block, gasUsed);
            const b = await ref.executor.execute(signed, block, gasUsed);
            assertSameExecution(
              `seed ${seed}, block ${blockNo}, tx ${i} (to ${to ?? "create"})`,
              a,
              fast,
              b,
              ref,
            );
            if (a.ok) {
              gasUsed = a.receipt.cumulativeGasUsed;
              nonces[s]!++;
              ran++;
              if (to !== undefined && CONTRACTS.includes(to)) contractCalls++;
            }
          }
        }
        // The comparison means something only if most transactions ran on the fast engine.
        assert.ok(ran > 80, `only ${ran} transactions ran`);
        assert.ok(contractCalls > 50, `only ${contractCalls} contract calls`);
        assert.ok(
          fast.fallbacks.length < ran / 10,
          `fell back ${fast.fallbacks.length} times: ${fast.fallbacks}`,
        );
      });
});

/**
 * For the hand-written cases: one state and executor per engine (fast first, then reference),
 * the first key funded and each `[address, code]` deployed, reads taken; `fallbacks` collects
 * what the executor handed to `runTx`.
 */
async function engineSides(
  codes: readonly (readonly [string, readonly number[]])[],
  options: Omit<ExecutorOptions, "engine" | "onFallback"> = {},
): Promise<{ state: MemoryState; executor: Executor; fallbacks: string[] }[]> {
  return Promise.all(
    (["fast", "reference"] as const).map(async (engine) => {
      const state = new MemoryState();
      state.writeAccount(hex(keys[0]!.address), { nonce: 0n, balance: 10n ** 24n, codeHash: KECCAK256_NULL });
      for (const [a, code] of codes) state.writeCode(a, Uint8Array.from(code));
      state.takeDiff();
      const fallbacks: string[] = [];
      const executor = await Executor.create(
        common,
        state,
        async (n) => keccak256(Uint8Array.of(Number(n))),
        {
          ...options,
          engine,
          onFallback: (r) => fallbacks.push(r),
        },
      );
      executor.takeReads();
      return { state, executor, fallbacks };
    }),
  );
}

/** The block the hand-written cases run in. */
const caseBlock = executionBlock(
  {
    number: 5n,
    timestamp: 1_700_000_000n,
    baseFee: 7n,
    gasLimit: 30_000_000n,
    coinbase: new Uint8Array(20).fill(0xcb),
    prevRandao: new Uint8Array(32),
  },
  common,
);

/** A call from the first key, no value or data, 200,000 gas. */
const callTx = (nonce: bigint, to: Hex): TypedTransaction =>
  createFeeMarket1559Tx(
    { chainId: 4242n, nonce, maxFeePerGas: 100n, maxPriorityFeePerGas: 1n, gasLimit: 200_000n, to },
    { common },
  ).sign(keys[0]!.privateKey);

describe("fast EVM / a transaction handed to runTx mid-way", () => {
  it("leaves no trace: same results as runTx, the fallback counted, pooled memory clean for the next transaction", async () => {
    const A = `0x${"a1".repeat(20)}`;
    const B = `0x${"b1".repeat(20)}`;
    const C = `0x${"c1".repeat(20)}`;
    const D = `0x${"d1".repeat(20)}`;
    const callTo = (addr: string) => [0x5f, 0x5f, 0x5f, 0x5f, 0x5f, ...push(BigInt(addr)), 0x5a, 0xf1, 0x50];
    // B writes memory and storage, then asks for the previous block's hash: the fast path cannot
    // read it without waiting (syncBlockHash answers null) and abandons the transaction.
    const codeB = [
      ...push(0xdeadn),
      0x5f,
      0x52,
      ...push(7),
      ...push(3),
      0x55,
      ...push(1),
      0x43,
      0x03,
      0x40,
      0x5f,
      0x55,
      0x00,
    ];
    const codeA = [...push(0xbeefn), 0x5f, 0x52, ...push(5), ...push(4), 0x55, ...callTo(B), 0x00];
    // C stores what it finds in memory (it must be zero) and MSIZE; D calls C one frame deeper.
    const codeC = [0x5f, 0x51, 0x5f, 0x55, 0x59, ...push(1), 0x55, 0x00];
    const codeD = [...callTo(C), 0x00];
    const sides = await engineSides(
      [
        [A, codeA],
        [B, codeB],
        [C, codeC],
        [D, codeD],
      ],
      { syncBlockHash: () => null },
    );
    let nonce = 0n;
    for (const to of [A, C, D, A, D] as Hex[]) {
      const tx = callTx(nonce++, to);
      const outs = [];
      for (const side of sides) outs.push(await side.executor.execute(tx, caseBlock, 0n));
      assertSameExecution(`call to ${to}`, outs[0]!, sides[0]!, outs[1]!, sides[1]!);
      assert.equal(outs[0]!.ok && outs[0]!.receipt.status, 1);
    }
    assert.deepEqual(sides[0]!.fallbacks, [
      "block hash not available synchronously",
      "block hash not available synchronously",
    ]);
    // C found zeroed memory both times (slot 0 stays empty) and MSIZE 32.
    assert.equal(sides[0]!.state.slot(C, `0x${"00".repeat(32)}`), undefined);
    assert.deepEqual(sides[0]!.state.slot(C, `0x${"00".repeat(31)}01`), Uint8Array.of(32));
  });
});

describe("fast EVM / a call's input after the call", () => {
  it("return data of the identity precompile is what was sent, though the caller then overwrites that memory", async () => {
    // A CALL's input is a view of the caller's memory (no copy); the identity precompile answers
    // its input as its output, so the fast path must hand precompiles a copy.
    const E = `0x${"e7".repeat(20)}`;
    const sent = BigInt(`0x${"a5".repeat(32)}`);
    const code = [
      ...push(sent),
      0x5f,
      0x52, // mem[0..32] = sent
      0x5f, // retSize 0
      ...push(64), // retOffset
      ...push(32), // argsSize
      0x5f, // argsOffset
      0x5f, // value
      ...push(4), // identity
      0x5a, // gas
      0xf1,
      0x50, // CALL, result dropped
      ...push(BigInt(`0x${"5b".repeat(32)}`)),
      0x5f,
      0x52, // mem[0..32] overwritten
      ...push(32), // size
      0x5f, // offset in the return data
      ...push(32), // destOffset
      0x3e, // RETURNDATACOPY to mem[32..64]
      ...push(32),
      0x51,
      0x5f,
      0x55, // slot 0 = mem[32..64]
      0x00,
    ];
    const sides = await engineSides([[E, code]]);
    const tx = callTx(0n, E as Hex);
    const outs = [];
    for (const side of sides) outs.push(await side.executor.execute(tx, caseBlock, 0n));
    assert.equal(outs[0]!.ok && outs[0]!.receipt.status, 1);
    assert.deepEqual(sides[0]!.state.slot(E, `0x${"00".repeat(32)}`), bigIntToBytes(sent));
    assertSameExecution("identity call", outs[0]!, sides[0]!, outs[1]!, sides[1]!);
  });
});
