import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type JsonRpcProvider, Transaction, Wallet, isError } from "ethers";
import {
  BaseError,
  concatHex,
  FeeCapTooLowError,
  type Hex,
  InsufficientFundsError,
  IntrinsicGasTooLowError,
  NonceTooHighError,
  NonceTooLowError,
  type PublicClient,
  type TransactionSerializable,
  createPublicClient,
  createWalletClient,
  http,
  keccak256,
  numberToHex,
  parseEther,
  parseGwei,
  parseTransaction,
  serializeTransaction,
  toRlp,
  trim,
} from "viem";
import { sign } from "viem/accounts";
import {
  DEV_CHAIN_ID,
  devAccount,
  devChain,
  devKeyAccount,
  devPrivateKey,
  ethersProvider,
  ethersWallet,
  freshAddress,
} from "./helpers/devChain.ts";
import { type RawReceipt, rpc, rpcRaw, waitFor } from "./helpers/rpcClient.ts";
import { SequencerProcess } from "./helpers/sequencerProcess.ts";

/**
 * Every pool rejection, reached the way a wallet reaches it: viem's `sendTransaction` must raise
 * its typed error (found with `err.walk()`), ethers its error code, and the raw response must be
 * JSON-RPC -32000 with geth's message (which is what both libraries match on).
 */

const FEES = { maxFeePerGas: parseGwei("10"), maxPriorityFeePerGas: parseGwei("0.001") };
/** RLP wants minimal big-endian integers: no leading zero bytes. */
const trimHex = (h: Hex): Hex => (BigInt(h) === 0n ? "0x" : trim(h));
/** secp256k1 group order: s > N/2 is the malleable twin EIP-2 forbids. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

let seq: SequencerProcess;
let pub: PublicClient;
let provider: JsonRpcProvider;

before(async () => {
  seq = await SequencerProcess.start();
  pub = createPublicClient({
    chain: devChain(seq.rpcUrl),
    transport: http(undefined, { retryCount: 0 }),
    pollingInterval: 50,
  });
  provider = ethersProvider(seq.rpcUrl);
});

after(async () => {
  provider?.destroy();
  await seq?.stop();
  await seq?.cleanup();
});

const walletOf = (i: number, url = seq.rpcUrl) =>
  createWalletClient({
    chain: devChain(url),
    transport: http(undefined, { retryCount: 0 }),
    account: devAccount(i),
  });

/** Signs an EIP-1559 transfer from dev account `i` (explicit fields: nothing is estimated). */
function signed(i: number, tx: Partial<TransactionSerializable> & { nonce: number }): Promise<Hex> {
  return devKeyAccount(i).signTransaction({
    chainId: DEV_CHAIN_ID,
    type: "eip1559",
    to: freshAddress(),
    value: 1n,
    gas: 21_000n,
    ...FEES,
    ...tx,
  } as TransactionSerializable);
}

/** The raw response to eth_sendRawTransaction must be -32000 with a message starting `prefix`. */
async function expectRawError(raw: Hex, prefix: string, url = seq.rpcUrl): Promise<string> {
  const r = await rpcRaw(url, "eth_sendRawTransaction", [raw]);
  assert.ok(r.error !== undefined, `expected an error for ${prefix}, got result ${JSON.stringify(r.result)}`);
  assert.equal(r.error.code, -32000);
  assert.ok(r.error.message.startsWith(prefix), `message "${r.error.message}" should start with "${prefix}"`);
  return r.error.message;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) =>
      assert.fail(
        `expected a rejection, got ${JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? String(x) : x))}`,
      ),
    (e: unknown) => e,
  );
}

/** viem: the thrown error's chain holds an instance of `type`; returns it. */
async function viemTyped<T extends BaseError>(
  p: Promise<unknown>,
  type: abstract new (...a: never[]) => T,
): Promise<T> {
  const err = await rejection(p);
  assert.ok(err instanceof BaseError, `expected a viem BaseError, got ${String(err)}`);
  const found = err.walk((e) => e instanceof type);
  assert.ok(found instanceof type, `expected ${type.name} in the error chain of: ${err.message}`);
  return found as T;
}

/** viem: the error chain carries a JSON-RPC -32000 whose details start with `prefix`. */
async function viemRpcError(p: Promise<unknown>, prefix: string): Promise<void> {
  const err = await rejection(p);
  assert.ok(err instanceof BaseError, `expected a viem BaseError, got ${String(err)}`);
  const rpcErr = err.walk((e) => (e as { code?: unknown }).code === -32000) as
    | (BaseError & { code: number })
    | null;
  assert.ok(rpcErr !== null, `no -32000 in the error chain of: ${err.message}`);
  assert.ok(rpcErr.details.startsWith(prefix), `details "${rpcErr.details}" should start with "${prefix}"`);
}

/** ethers: the error has `code` and, underneath, the node's -32000 message starting `prefix`. */
async function ethersCoded(p: Promise<unknown>, code: string, prefix: string): Promise<void> {
  const err = await rejection(p);
  assert.ok(isError(err, code as never), `expected ethers ${code}, got ${String(err)}`);
  const inner =
    (
      err as {
        info?: { error?: { code: number; message: string } };
        error?: { code: number; message: string };
      }
    ).info?.error ?? (err as { error?: { code: number; message: string } }).error;
  assert.equal(inner?.code, -32000);
  assert.ok(
    inner.message.startsWith(prefix),
    `node message "${inner.message}" should start with "${prefix}"`,
  );
}

const pendingNonce = async (i: number) =>
  pub.getTransactionCount({ address: devAccount(i).address, blockTag: "pending" });

async function sendSync(raw: Hex, url = seq.rpcUrl): Promise<RawReceipt> {
  return rpc<RawReceipt>(url, "eth_sendRawTransactionSync", [raw]);
}

describe("txpool errors / nonce", () => {
  it("nonce too low: viem NonceTooLowError, ethers NONCE_EXPIRED, -32000", async () => {
    const r = await sendSync(await signed(1, { nonce: 0 }));
    assert.equal(r.status, "0x1");
    assert.equal(await pendingNonce(1), 1);

    await viemTyped(
      walletOf(1).sendTransaction({ to: freshAddress(), value: 2n, nonce: 0, gas: 21_000n, ...FEES }),
      NonceTooLowError,
    );
    const w = ethersWallet(1, provider);
    await ethersCoded(
      w.sendTransaction({
        to: freshAddress(),
        value: 3n,
        nonce: 0,
        gasLimit: 21_000n,
        ...FEES,
        chainId: DEV_CHAIN_ID,
      }),
      "NONCE_EXPIRED",
      "nonce too low",
    );
    const msg = await expectRawError(await signed(1, { nonce: 0, value: 4n }), "nonce too low");
    assert.equal(msg, `nonce too low: address ${devAccount(1).address.toLowerCase()}, tx: 0 state: 1`);
  });

  it("nonce too high past the gap limit (64): viem NonceTooHighError; 64 ahead still queues", async () => {
    const next = await pendingNonce(2);
    assert.equal(next, 0);
    // Exactly at the limit: accepted into the queue (not executable yet).
    const queued = await signed(2, { nonce: 64 });
    assert.equal(await rpc(seq.rpcUrl, "eth_sendRawTransaction", [queued]), keccak256(queued));
    await viemTyped(
      walletOf(2).sendTransaction({ to: freshAddress(), value: 1n, nonce: 65, gas: 21_000n, ...FEES }),
      NonceTooHighError,
    );
    const w = ethersWallet(2, provider);
    await ethersCoded(
      w.sendTransaction({
        to: freshAddress(),
        value: 1n,
        nonce: 66,
        gasLimit: 21_000n,
        ...FEES,
        chainId: DEV_CHAIN_ID,
      }),
      "UNKNOWN_ERROR",
      "nonce too high",
    );
    const msg = await expectRawError(await signed(2, { nonce: 65 }), "nonce too high");
    assert.equal(msg, "nonce too high: nonce 65 is more than 64 past the next expected nonce 0");
    // The queued transaction is pending, not mined, and the pending nonce did not move.
    assert.equal(await rpc(seq.rpcUrl, "eth_getTransactionReceipt", [keccak256(queued)]), null);
    const byHash = (await rpc(seq.rpcUrl, "eth_getTransactionByHash", [keccak256(queued)])) as {
      hash: string;
      blockNumber: string | null;
      nonce: string;
    };
    assert.deepEqual([byHash.hash, byHash.blockNumber, byHash.nonce], [keccak256(queued), null, "0x40"]);
    assert.equal(await pendingNonce(2), 0);
  });

  it("already known: a duplicate of an executed or a queued transaction (viem maps it to NonceTooLowError)", async () => {
    const to = freshAddress();
    const raw = await signed(3, { nonce: 0, to });
    await sendSync(raw);
    assert.equal(await expectRawError(raw, "already known"), "already known");
    // viem signs deterministically: the same fields are the same transaction.
    await viemTyped(
      walletOf(3).sendTransaction({ to, value: 1n, nonce: 0, gas: 21_000n, ...FEES }),
      NonceTooLowError,
    );
    // ethers has no code for it: UNKNOWN_ERROR carrying the node's message.
    await ethersCoded(provider.broadcastTransaction(raw), "UNKNOWN_ERROR", "already known");

    const queued = await signed(3, { nonce: 5 });
    assert.equal(await rpc(seq.rpcUrl, "eth_sendRawTransaction", [queued]), keccak256(queued));
    assert.equal(await expectRawError(queued, "already known"), "already known");
  });
});

describe("txpool errors / funds and gas", () => {
  it("insufficient funds for gas * price + value: viem InsufficientFundsError, ethers INSUFFICIENT_FUNDS", async () => {
    const value = parseEther("20000"); // twice the dev balance
    await viemTyped(
      walletOf(4).sendTransaction({ to: freshAddress(), value, gas: 21_000n, ...FEES }),
      InsufficientFundsError,
    );
    const w = ethersWallet(4, provider);
    await ethersCoded(
      w.sendTransaction({
        to: freshAddress(),
        value,
        nonce: 0,
        gasLimit: 21_000n,
        ...FEES,
        chainId: DEV_CHAIN_ID,
      }),
      "INSUFFICIENT_FUNDS",
      "insufficient funds for gas * price + value",
    );
    const msg = await expectRawError(
      await signed(4, { nonce: 0, value }),
      "insufficient funds for gas * price + value",
    );
    const balance = await pub.getBalance({ address: devAccount(4).address, blockTag: "pending" });
    const want = 21_000n * FEES.maxFeePerGas + value;
    assert.equal(
      msg,
      `insufficient funds for gas * price + value: address ${devAccount(4).address.toLowerCase()} have ${balance} want ${want}`,
    );

    // An account that never held anything, and only the gas is unaffordable.
    const empty = devAccount(20);
    assert.equal(await pub.getBalance({ address: empty.address }), 0n);
    await viemTyped(
      walletOf(20).sendTransaction({ to: freshAddress(), value: 0n, gas: 21_000n, ...FEES }),
      InsufficientFundsError,
    );
  });

  it("insufficient funds is also what a wallet sees when it lets the node estimate gas", async () => {
    // No gas given: viem asks eth_estimateGas first, with a value above the balance.
    await viemTyped(
      walletOf(4).sendTransaction({ to: freshAddress(), value: parseEther("20000") }),
      InsufficientFundsError,
    );
    const w = ethersWallet(4, provider);
    const err = await rejection(w.sendTransaction({ to: freshAddress(), value: parseEther("20000") }));
    assert.ok(isError(err, "INSUFFICIENT_FUNDS"), `expected INSUFFICIENT_FUNDS, got ${String(err)}`);
  });

  it("intrinsic gas too low: viem IntrinsicGasTooLowError", async () => {
    await viemTyped(
      walletOf(5).sendTransaction({ to: freshAddress(), value: 1n, gas: 20_999n, ...FEES }),
      IntrinsicGasTooLowError,
    );
    const w = ethersWallet(5, provider);
    await ethersCoded(
      w.sendTransaction({
        to: freshAddress(),
        value: 1n,
        nonce: 0,
        gasLimit: 20_000n,
        ...FEES,
        chainId: DEV_CHAIN_ID,
      }),
      "UNKNOWN_ERROR",
      "intrinsic gas too low",
    );
    const msg = await expectRawError(await signed(5, { nonce: 0, gas: 20_999n }), "intrinsic gas too low");
    assert.equal(msg, "intrinsic gas too low: gas 20999, minimum needed 21000");
    // Calldata counts, at Prague's EIP-7623 floor: 4 non-zero bytes are 16 tokens, 21,000 + 16 * 10.
    await expectRawError(
      await signed(5, { nonce: 0, gas: 21_000n, data: "0x01020304" }),
      "intrinsic gas too low: gas 21000, minimum needed 21160",
    );
  });

  it("max fee per gas less than block base fee: viem FeeCapTooLowError", async () => {
    const baseFee = (await pub.getBlock({ blockTag: "pending" })).baseFeePerGas!;
    assert.ok(baseFee > 1n);
    const low = { maxFeePerGas: 1n, maxPriorityFeePerGas: 0n };
    await viemTyped(
      walletOf(5).sendTransaction({ to: freshAddress(), value: 1n, gas: 21_000n, ...low }),
      FeeCapTooLowError,
    );
    const w = ethersWallet(5, provider);
    await ethersCoded(
      w.sendTransaction({
        to: freshAddress(),
        value: 1n,
        nonce: 0,
        gasLimit: 21_000n,
        ...low,
        chainId: DEV_CHAIN_ID,
      }),
      "UNKNOWN_ERROR",
      "max fee per gas less than block base fee",
    );
    await expectRawError(
      await signed(5, { nonce: 0, ...low }),
      `max fee per gas less than block base fee: maxFeePerGas: 1 baseFee: `,
    );
    // A legacy transaction's gas price is its fee cap.
    await expectRawError(
      await signed(5, {
        nonce: 0,
        type: "legacy",
        gasPrice: 1n,
        maxFeePerGas: undefined,
        maxPriorityFeePerGas: undefined,
      }),
      "max fee per gas less than block base fee",
    );
  });

  it("tip above fee cap and gas above the block gas limit are refused with -32000", async () => {
    // viem and ethers both refuse to sign a tip above the fee cap: encode and sign it by hand.
    const fields = [
      numberToHex(DEV_CHAIN_ID),
      "0x",
      numberToHex(parseGwei("3")),
      numberToHex(parseGwei("2")),
      numberToHex(21_000),
      freshAddress(),
      "0x01",
      "0x",
      [],
    ] as const;
    const unsignedPayload = concatHex(["0x02", toRlp(fields as unknown as Hex[])]);
    const sig = await sign({ hash: keccak256(unsignedPayload), privateKey: devPrivateKey(5) });
    const tipAbove = concatHex([
      "0x02",
      toRlp([
        ...(fields as unknown as Hex[]),
        sig.yParity === 0 ? "0x" : "0x01",
        trimHex(sig.r),
        trimHex(sig.s),
      ]),
    ]);
    await expectRawError(tipAbove, "max priority fee per gas higher than max fee per gas");
    const gasLimit = BigInt((await pub.getBlock({ blockTag: "pending" })).gasLimit);
    await expectRawError(
      await signed(5, { nonce: 0, gas: gasLimit + 1n, maxFeePerGas: 1_000_000_000n }),
      "exceeds block gas limit",
    );
  });
});

describe("txpool errors / replacement", () => {
  it("replacement transaction underpriced below a 10% bump; 10% replaces; the replacement is what runs", async () => {
    const i = 6;
    const to = freshAddress();
    // Nonce 1 waits in the queue for nonce 0, so it can be replaced.
    const original = await signed(i, { nonce: 1, to, value: 100n });
    await rpc(seq.rpcUrl, "eth_sendRawTransaction", [original]);

    const bump = (pct: bigint) => ({
      maxFeePerGas: (FEES.maxFeePerGas * (100n + pct)) / 100n,
      maxPriorityFeePerGas: (FEES.maxPriorityFeePerGas * (100n + pct)) / 100n,
    });
    const w = ethersWallet(i, provider);
    await ethersCoded(
      w.sendTransaction({ to, value: 200n, nonce: 1, gasLimit: 21_000n, ...bump(5n), chainId: DEV_CHAIN_ID }),
      "REPLACEMENT_UNDERPRICED",
      "replacement transaction underpriced",
    );
    await viemRpcError(
      walletOf(i).sendTransaction({ to, value: 300n, nonce: 1, gas: 21_000n, ...bump(9n) }),
      "replacement transaction underpriced",
    );
    // A higher fee cap alone is not enough: the tip must rise 10% too.
    await expectRawError(
      await signed(i, {
        nonce: 1,
        to,
        value: 400n,
        maxFeePerGas: FEES.maxFeePerGas * 2n,
        maxPriorityFeePerGas: FEES.maxPriorityFeePerGas,
      }),
      "replacement transaction underpriced",
    );

    const replacement = await signed(i, { nonce: 1, to, value: 500n, ...bump(10n) });
    assert.equal(await rpc(seq.rpcUrl, "eth_sendRawTransaction", [replacement]), keccak256(replacement));
    assert.equal(await rpc(seq.rpcUrl, "eth_getTransactionByHash", [keccak256(original)]), null);

    // Fill the gap: nonce 0 runs, then the replacement, never the original.
    await sendSync(await signed(i, { nonce: 0 }));
    const r = await waitFor("the replacement's receipt", () =>
      rpc<RawReceipt | null>(seq.rpcUrl, "eth_getTransactionReceipt", [keccak256(replacement)]),
    );
    assert.equal(r.status, "0x1");
    assert.equal(await rpc(seq.rpcUrl, "eth_getTransactionReceipt", [keccak256(original)]), null);
    assert.equal(await pub.getBalance({ address: to, blockTag: "pending" }), 500n);
    assert.equal(await pendingNonce(i), 2);
  });
});

describe("txpool errors / malformed transactions", () => {
  it("wrong chain id: a transaction signed for chain 1 is refused (typed and legacy EIP-155)", async () => {
    const acct = devKeyAccount(7);
    const typed = await acct.signTransaction({
      chainId: 1,
      type: "eip1559",
      to: freshAddress(),
      value: 1n,
      gas: 21_000n,
      nonce: 0,
      ...FEES,
    });
    const legacy = await acct.signTransaction({
      chainId: 1,
      type: "legacy",
      to: freshAddress(),
      value: 1n,
      gas: 21_000n,
      nonce: 0,
      gasPrice: parseGwei("10"),
    });
    for (const raw of [typed, legacy]) {
      assert.equal(
        await expectRawError(raw, "invalid chain id for signer"),
        `invalid chain id for signer: expected ${DEV_CHAIN_ID}`,
      );
      await viemRpcError(
        pub.sendRawTransaction({ serializedTransaction: raw }),
        "invalid chain id for signer",
      );
    }
    const w = new Wallet(devPrivateKey(7));
    const ethersSigned = await w.signTransaction({
      to: freshAddress(),
      value: 1n,
      nonce: 0,
      gasLimit: 21_000n,
      ...FEES,
      chainId: 1,
      type: 2,
    });
    await ethersCoded(
      provider.broadcastTransaction(ethersSigned),
      "UNKNOWN_ERROR",
      "invalid chain id for signer",
    );
    assert.equal(await pendingNonce(7), 0);
  });

  it("bad signature: high-s (EIP-2), r = 0 and an unsigned transaction are refused as invalid sender", async () => {
    const raw = await signed(7, { nonce: 0 });
    const tx = parseTransaction(raw);
    const s = BigInt(tx.s!);
    const highS = serializeTransaction({ ...tx, type: "eip1559" } as TransactionSerializable, {
      r: tx.r!,
      s: `0x${(SECP256K1_N - s).toString(16).padStart(64, "0")}`,
      yParity: tx.yParity === 0 ? 1 : 0,
    });
    const zeroR = serializeTransaction({ ...tx, type: "eip1559" } as TransactionSerializable, {
      r: `0x${"00".repeat(32)}`,
      s: tx.s!,
      yParity: tx.yParity!,
    });
    const unsigned = serializeTransaction({
      ...tx,
      type: "eip1559",
      r: undefined,
      s: undefined,
      v: undefined,
      yParity: undefined,
    } as TransactionSerializable);
    for (const bad of [highS, zeroR, unsigned]) {
      await expectRawError(bad, "invalid sender");
      await viemRpcError(pub.sendRawTransaction({ serializedTransaction: bad }), "invalid sender");
      const err = await rejection(provider.send("eth_sendRawTransaction", [bad]));
      assert.ok(isError(err, "UNKNOWN_ERROR"), `expected ethers UNKNOWN_ERROR, got ${String(err)}`);
    }
    // The untampered transaction is fine.
    assert.equal((await sendSync(raw)).status, "0x1");
  });

  it("oversized transaction: more than 128 KiB is refused before decoding", async () => {
    const data = `0x${"ab".repeat(128 * 1024)}` as Hex;
    const gas = 6_000_000n;
    const raw = await signed(8, { nonce: 0, data, gas });
    assert.ok((raw.length - 2) / 2 > 128 * 1024);
    const msg = await expectRawError(raw, "oversized data");
    assert.equal(msg, `oversized data: ${(raw.length - 2) / 2} bytes, limit 131072`);
    await viemRpcError(
      walletOf(8).sendTransaction({ to: freshAddress(), value: 1n, data, gas, ...FEES, nonce: 0 }),
      "oversized data",
    );
    const w = ethersWallet(8, provider);
    await ethersCoded(
      w.sendTransaction({
        to: freshAddress(),
        value: 1n,
        data,
        nonce: 0,
        gasLimit: gas,
        ...FEES,
        chainId: DEV_CHAIN_ID,
      }),
      "UNKNOWN_ERROR",
      "oversized data",
    );
    // Just under the limit is accepted.
    const fits = await signed(8, { nonce: 0, data: `0x${"ab".repeat(120 * 1024)}`, gas });
    assert.equal((await sendSync(fits)).status, "0x1");
  });

  it("garbage that is not a transaction is refused with -32000", async () => {
    await expectRawError("0xdeadbeef", "invalid transaction");
    await expectRawError("0x", "invalid transaction");
    const r = await rpcRaw(seq.rpcUrl, "eth_sendRawTransaction", ["0xabc"]);
    assert.equal(r.error?.code, -32602);
    assert.equal(
      r.error?.message,
      "invalid params: param 0 (transaction): expected 0x-prefixed even-length hex",
    );
  });
});

describe("txpool errors / pool full", () => {
  let small: SequencerProcess;

  before(async () => {
    small = await SequencerProcess.start({ args: ["--txpool-max", "5"] });
  });

  after(async () => {
    await small?.stop();
    await small?.cleanup();
  });

  it("txpool is full for another waiting tx once 5 future-nonce transactions wait; a replacement is still accepted", async () => {
    for (let n = 1; n <= 5; n++) {
      const raw = await signed(1, { nonce: n });
      assert.equal(await rpc(small.rpcUrl, "eth_sendRawTransaction", [raw]), keccak256(raw));
    }
    const status = await rpc<{ poolSize: number; readyTxs: number }>(small.rpcUrl, "staccato_status");
    assert.equal(status.poolSize, 5);
    assert.equal(status.readyTxs, 0);

    await expectRawError(await signed(2, { nonce: 1 }), "txpool is full", small.rpcUrl);
    await viemRpcError(
      walletOf(2, small.rpcUrl).sendTransaction({
        to: freshAddress(),
        value: 1n,
        nonce: 1,
        gas: 21_000n,
        ...FEES,
      }),
      "txpool is full",
    );
    const p = ethersProvider(small.rpcUrl);
    try {
      await ethersCoded(
        ethersWallet(3, p).sendTransaction({
          to: freshAddress(),
          value: 1n,
          nonce: 1,
          gasLimit: 21_000n,
          ...FEES,
          chainId: DEV_CHAIN_ID,
        }),
        "UNKNOWN_ERROR",
        "txpool is full",
      );
    } finally {
      p.destroy();
    }
    // Replacing a pooled transaction does not grow the pool.
    const replacement = await signed(1, {
      nonce: 3,
      maxFeePerGas: FEES.maxFeePerGas * 2n,
      maxPriorityFeePerGas: FEES.maxPriorityFeePerGas * 2n,
    });
    assert.equal(await rpc(small.rpcUrl, "eth_sendRawTransaction", [replacement]), keccak256(replacement));
    assert.equal((await rpc<{ poolSize: number }>(small.rpcUrl, "staccato_status")).poolSize, 5);
    // The process is healthy and the parsed transaction is what the pool holds.
    const pooled = await rpc<{ nonce: string; blockNumber: null }>(small.rpcUrl, "eth_getTransactionByHash", [
      keccak256(replacement),
    ]);
    assert.equal(pooled.nonce, "0x3");
    assert.equal(pooled.blockNumber, null);
    assert.equal(Transaction.from(replacement).nonce, 3);
  });

  it("a full pool still takes a transaction that can run now, evicting a waiting one", async () => {
    const runnable = await signed(4, { nonce: 0 });
    assert.equal(await rpc(small.rpcUrl, "eth_sendRawTransaction", [runnable]), keccak256(runnable));
    const receipt = await waitFor("the runnable tx's receipt", () =>
      rpc<RawReceipt | null>(small.rpcUrl, "eth_getTransactionReceipt", [keccak256(runnable)]),
    );
    assert.equal(receipt.status, "0x1");
    assert.equal((await rpc<{ poolSize: number }>(small.rpcUrl, "staccato_status")).poolSize, 4);
  });
});

describe("txpool errors / metrics", () => {
  it("every refusal above is counted in staccato_txpool_rejected_total by reason", async () => {
    const text = await (await fetch(seq.metricsUrl)).text();
    const count = (reason: string) => {
      const m = text.match(
        new RegExp(`^staccato_txpool_rejected_total\\{reason="${reason}"[^}]*\\} (\\d+)`, "m"),
      );
      return m === null ? 0 : Number(m[1]);
    };
    // viem, ethers and a raw request each sent one of these in the nonce test.
    const lines = text.match(/^staccato_txpool_rejected_total.*$/gm)?.join("\n");
    assert.ok(count("nonceTooLow") >= 3, `nonceTooLow ${count("nonceTooLow")}:\n${lines}`);
    for (const reason of [
      "nonceTooHigh",
      "insufficientFunds",
      "intrinsicGasTooLow",
      "feeCapTooLow",
      "underpriced",
    ])
      assert.ok(
        count(reason) >= 1,
        `${reason}: ${count(reason)}\n${text.match(/^staccato_txpool_rejected.*$/gm)}`,
      );
  });
});
