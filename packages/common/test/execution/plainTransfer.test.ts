import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  createAccessList2930Tx,
  createFeeMarket1559Tx,
  createLegacyTx,
  type TypedTransaction,
} from "@ethereumjs/tx";
import { bytesToHex, createAddressFromString } from "@ethereumjs/util";
import { executionBlock } from "../../src/chain/blockHeader.ts";
import { createEthCommon } from "../../src/chain/ethCommon.ts";
import { KECCAK256_NULL, keccak256 } from "../../src/crypto/keccak.ts";
import { signingKeyFromPrivate } from "../../src/crypto/secp256k1.ts";
import { Executor } from "../../src/execution/executor.ts";
import { MemoryState } from "../../src/state/memoryState.ts";
import { assertSameExecution } from "../helpers/engineComparison.ts";
import { rng } from "../helpers/random.ts";

/**
 * The plain-transfer shortcut against `runTx`: the same random transactions on two copies of the
 * same state, one executor with the shortcut and one without. Outcomes, receipts, state diffs and
 * the keys read (the witness) must be identical, transaction by transaction.
 */

const common = createEthCommon({ chainId: 4242 });
const keys = Array.from({ length: 6 }, (_, i) => signingKeyFromPrivate(keccak256(Uint8Array.of(7, i))));
const hex = (b: Uint8Array) => bytesToHex(b);
const EMPTY_EXISTING = `0x${"e1".repeat(20)}`;
const CONTRACT = `0x${"c0".repeat(20)}`;
const DELEGATED = `0x${"d7".repeat(20)}`;
const PRECOMPILE = `0x${"00".repeat(19)}04`;

function genesis(state: MemoryState): void {
  for (const [i, k] of keys.entries()) {
    state.writeAccount(hex(k.address), {
      nonce: 0n,
      // The last sender is nearly broke: its transfers fail the balance checks.
      balance: i === keys.length - 1 ? 30_000n : 10n ** 24n,
      codeHash: KECCAK256_NULL,
    });
  }
  // An account that exists but is empty: EIP-161 removes it when a transaction touches it.
  state.writeAccount(EMPTY_EXISTING, { nonce: 0n, balance: 0n, codeHash: KECCAK256_NULL });
}

async function setup(plainTransfers: boolean) {
  const state = new MemoryState();
  genesis(state);
  // A contract (STOP), and an EIP-7702 delegation designator: calls to either run code.
  await state.putCode(createAddressFromString(CONTRACT), Uint8Array.of(0x00));
  await state.putCode(
    createAddressFromString(DELEGATED),
    Uint8Array.from([0xef, 0x01, 0x00, ...new Uint8Array(20).fill(0xc0)]),
  );
  state.takeDiff();
  const executor = await Executor.create(common, state, async () => undefined, { plainTransfers });
  executor.takeReads();
  return { state, executor };
}

describe("plain ETH transfers: the shortcut against runTx", () => {
  for (const seed of [1, 2, 3]) {
    it(`gives the same outcomes, receipts, diffs and reads (seed ${seed})`, async () => {
      const r = rng(seed);
      const fast = await setup(true);
      const full = await setup(false);
      const nonces = keys.map(() => 0n);
      let shortcuts = 0;
      let compared = 0;
      for (let blockNo = 1n; blockNo <= 12n; blockNo++) {
        // A new existing-but-empty account each block (the previous one was funded or removed).
        const empty = `0x${blockNo.toString(16).padStart(2, "0")}${"e1".repeat(19)}`;
        for (const side of [fast, full]) {
          side.state.writeAccount(empty, { nonce: 0n, balance: 0n, codeHash: KECCAK256_NULL });
          side.state.takeDiff();
        }
        const coinbases = [
          `0x${"cb".repeat(20)}`,
          EMPTY_EXISTING,
          empty,
          hex(keys[r.int(keys.length)]!.address),
          `0x${hex(r.bytes(20)).slice(2)}`,
        ];
        const baseFee = [0n, 7n, 1_000_000_000n][r.int(3)]!;
        const env = {
          number: blockNo,
          timestamp: 1_700_000_000n + blockNo,
          baseFee,
          gasLimit: 30_000_000n,
          coinbase: Uint8Array.from(Buffer.from(coinbases[r.int(coinbases.length)]!.slice(2), "hex")),
          prevRandao: new Uint8Array(32),
        };
        const block = executionBlock(env, common);
        let gasUsed = 0n;
        for (let i = 0; i < 40; i++) {
          const s = r.int(keys.length);
          const k = keys[s]!;
          const tos = [
            hex(keys[(s + 1 + r.int(keys.length - 1)) % keys.length]!.address),
            hex(keys[(s + 1 + r.int(keys.length - 1)) % keys.length]!.address),
            `0x${hex(r.bytes(20)).slice(2)}`,
            EMPTY_EXISTING,
            empty,
            empty,
            CONTRACT,
            DELEGATED,
            PRECOMPILE,
            hex(k.address),
            hex(env.coinbase),
          ];
          const to = tos[r.int(tos.length)]! as `0x${string}`;
          const value = [0n, 1n, 10n ** 18n, 10n ** 30n][r.int(4)]!;
          const nonce = r.int(10) === 0 ? nonces[s]! + 1n : nonces[s]!;
          const gasLimit = [21_000n, 50_000n, 20_999n][r.int(3)]!;
          const data = r.int(8) === 0 ? Uint8Array.of(1) : new Uint8Array(0);
          const fee = [baseFee, baseFee + 3n, baseFee === 0n ? 0n : baseFee - 1n, 2_000_000_000n][r.int(4)]!;
          const tip = [0n, 1n, 5_000_000_000n][r.int(3)]!;
          let tx: TypedTransaction;
          switch (r.int(4)) {
            case 0:
              tx = createLegacyTx({ nonce, gasPrice: fee, gasLimit, to, value, data }, { common });
              break;
            case 1:
              tx = createAccessList2930Tx(
                {
                  chainId: 4242n,
                  nonce,
                  gasPrice: fee,
                  gasLimit: gasLimit + 2_400n,
                  to,
                  value,
                  data,
                  accessList: r.int(2) === 0 ? [] : [{ address: to, storageKeys: [] }],
                },
                { common },
              );
              break;
            default:
              tx = createFeeMarket1559Tx(
                {
                  chainId: 4242n,
                  nonce,
                  maxFeePerGas: fee,
                  maxPriorityFeePerGas: tip < fee ? tip : fee,
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
          const b = await full.executor.execute(signed, block, gasUsed);
          assertSameExecution(`seed ${seed}, block ${blockNo}, tx ${i}`, a, fast, b, full);
          compared++;
          if (a.ok) {
            gasUsed = a.receipt.cumulativeGasUsed;
            nonces[s]!++;
            if (data.length === 0 && to !== CONTRACT && to !== DELEGATED && to !== PRECOMPILE) shortcuts++;
          }
        }
      }
      // The comparison means something only if many transfers took the shortcut.
      assert.ok(shortcuts > 60, `only ${shortcuts} of ${compared} transactions were plain transfers`);
    });
  }
});
