import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { JsonRpcProvider } from "ethers";
import {
  type Hex,
  type PublicClient,
  type TransactionReceipt,
  createPublicClient,
  createWalletClient,
  http,
  parseEther,
  parseGwei,
} from "viem";
import {
  DEV_BALANCE,
  DEV_CHAIN_ID,
  ZERO_HASH,
  devAccount,
  devChain,
  ethersProvider,
  ethersWallet,
  freshAddress,
} from "./helpers/devChain.ts";
import { type RawBlock, type RawReceipt, rpc, sealedReceipt } from "./helpers/rpcClient.ts";
import { SequencerProcess } from "./helpers/sequencerProcess.ts";

/**
 * A wallet's view of the sequencer: viem and ethers v6, unchanged, against the real process.
 * Every transfer is checked twice: as the preconfirmed receipt the library waits for, and once
 * its 1 s block seals, against the sealed receipt and the block found by its hash.
 */

let seq: SequencerProcess;
let pub: PublicClient;
let provider: JsonRpcProvider;

before(async () => {
  seq = await SequencerProcess.start();
  pub = createPublicClient({ chain: devChain(seq.rpcUrl), transport: http(), pollingInterval: 50 });
  provider = ethersProvider(seq.rpcUrl);
});

after(async () => {
  provider?.destroy();
  await seq?.stop();
  await seq?.cleanup();
});

const walletOf = (i: number) =>
  createWalletClient({ chain: devChain(seq.rpcUrl), transport: http(), account: devAccount(i) });

interface RawTx {
  hash: string;
  from: string;
  to: string | null;
  value: string;
  nonce: string;
  type: string;
  gas: string;
  gasPrice: string;
  maxFeePerGas?: string;
  maxPriorityFeePerGas?: string;
  blockHash: string | null;
  blockNumber: string | null;
  transactionIndex: string | null;
  accessList?: { address: string; storageKeys: string[] }[];
}

/**
 * The preconfirmed receipt must already carry the final numbers; the sealed one may only add the
 * block hash. Returns the sealed receipt.
 */
async function checkSealedMatches(preconfirmed: RawReceipt): Promise<RawReceipt> {
  const sealed = await sealedReceipt(seq.rpcUrl, preconfirmed.transactionHash);
  const { blockHash: _pre, ...preRest } = preconfirmed;
  const { blockHash, ...sealedRest } = sealed;
  if (preconfirmed.blockHash !== ZERO_HASH) assert.equal(preconfirmed.blockHash, blockHash);
  assert.deepEqual(
    sealedRest.logs.map((l) => ({ ...l, blockHash: ZERO_HASH })),
    preRest.logs.map((l) => ({ ...l, blockHash: ZERO_HASH })),
  );
  assert.deepEqual({ ...sealedRest, logs: [] }, { ...preRest, logs: [] });
  for (const l of sealed.logs) assert.equal(l.blockHash, blockHash);

  const block = await rpc<RawBlock>(seq.rpcUrl, "eth_getBlockByHash", [blockHash, false]);
  assert.ok(block !== null, "eth_getBlockByHash finds the receipt's block");
  assert.equal(block.hash, blockHash);
  assert.equal(block.number, sealed.blockNumber);
  assert.equal(block.transactions[Number(sealed.transactionIndex)], sealed.transactionHash);
  const byNumber = await rpc<RawBlock>(seq.rpcUrl, "eth_getBlockByNumber", [sealed.blockNumber, false]);
  assert.equal(byNumber.hash, blockHash);
  const full = await rpc<RawBlock>(seq.rpcUrl, "eth_getBlockByHash", [blockHash, true]);
  const tx = full.transactions[Number(sealed.transactionIndex)] as unknown as RawTx;
  assert.equal(tx.hash, sealed.transactionHash);
  assert.equal(tx.blockHash, blockHash);
  assert.equal(tx.blockNumber, sealed.blockNumber);
  assert.equal(tx.transactionIndex, sealed.transactionIndex);
  // The gas used by all transactions before it, plus its own.
  const receipts = await rpc<RawReceipt[]>(seq.rpcUrl, "eth_getBlockReceipts", [blockHash]);
  assert.deepEqual(receipts[Number(sealed.transactionIndex)], sealed);
  const before = receipts
    .slice(0, Number(sealed.transactionIndex))
    .reduce((n, r) => n + BigInt(r.gasUsed), 0n);
  assert.equal(BigInt(sealed.cumulativeGasUsed), before + BigInt(sealed.gasUsed));
  assert.equal(
    BigInt(full.gasUsed),
    receipts.reduce((n, r) => n + BigInt(r.gasUsed), 0n),
  );
  return sealed;
}

/** effectiveGasPrice from the transaction's own fee fields and its block's base fee. */
async function expectedGasPrice(tx: RawTx, blockNumber: string): Promise<bigint> {
  const block = await rpc<RawBlock>(seq.rpcUrl, "eth_getBlockByNumber", [blockNumber, false]);
  const baseFee = BigInt(block.baseFeePerGas);
  if (tx.maxFeePerGas === undefined) return BigInt(tx.gasPrice);
  const maxFee = BigInt(tx.maxFeePerGas);
  const tip = BigInt(tx.maxPriorityFeePerGas!);
  return baseFee + (tip < maxFee - baseFee ? tip : maxFee - baseFee);
}

/** Checks a viem receipt against the raw one and the transfer it should describe. */
function checkViemReceipt(
  r: TransactionReceipt,
  raw: RawReceipt,
  want: { from: Hex; to: Hex; type: string; gas: bigint },
) {
  assert.equal(r.status, "success");
  assert.equal(r.type, want.type);
  assert.equal(r.from, want.from.toLowerCase());
  assert.equal(r.to, want.to.toLowerCase());
  assert.equal(r.gasUsed, want.gas);
  assert.equal(r.contractAddress, null);
  assert.deepEqual(r.logs, []);
  assert.equal(r.blockNumber, BigInt(raw.blockNumber));
  assert.equal(r.transactionIndex, Number(raw.transactionIndex));
  assert.equal(r.cumulativeGasUsed, BigInt(raw.cumulativeGasUsed));
  assert.equal(r.effectiveGasPrice, BigInt(raw.effectiveGasPrice));
}

describe("wallet / chain and balances", () => {
  it("reports the dev chain id through viem, ethers, eth_chainId and net_version", async () => {
    assert.equal(await pub.getChainId(), DEV_CHAIN_ID);
    assert.equal((await provider.getNetwork()).chainId, BigInt(DEV_CHAIN_ID));
    assert.equal(await rpc(seq.rpcUrl, "eth_chainId"), `0x${DEV_CHAIN_ID.toString(16)}`);
    assert.equal(await rpc(seq.rpcUrl, "net_version"), String(DEV_CHAIN_ID));
  });

  it("shows the 20 prefunded dev accounts with 10,000 ETH and the 21st with nothing", async () => {
    // Accounts 10..19 are never used in this file, so their balances are still the genesis ones.
    for (let i = 10; i < 20; i++) {
      const a = devAccount(i).address;
      assert.equal(await pub.getBalance({ address: a }), DEV_BALANCE, `viem balance of dev account ${i}`);
      assert.equal(await provider.getBalance(a), DEV_BALANCE, `ethers balance of dev account ${i}`);
      assert.equal(await pub.getTransactionCount({ address: a }), 0);
    }
    assert.equal(await pub.getBalance({ address: devAccount(20).address }), 0n);
    assert.equal(await provider.getBalance(devAccount(20).address, "pending"), 0n);
  });

  it("serves a latest block with a base fee and a pending block", async () => {
    const latest = await pub.getBlock({ blockTag: "latest" });
    assert.equal(typeof latest.baseFeePerGas, "bigint");
    assert.ok(latest.baseFeePerGas! > 0n);
    const pending = await rpc<RawBlock>(seq.rpcUrl, "eth_getBlockByNumber", ["pending", false]);
    // The spec's Block shape: the hash is the preconfirmation placeholder until the block seals.
    assert.equal(pending.hash, ZERO_HASH);
    assert.equal(BigInt(pending.number), latest.number + 1n);
    const viemPending = await pub.getBlock({ blockTag: "pending" });
    assert.ok((viemPending.number ?? 0n) >= latest.number + 1n);
  });
});

describe("wallet / viem", () => {
  it("sends an EIP-1559 transfer, waits for it, and the sealed block agrees", async () => {
    const from = devAccount(1);
    const to = freshAddress();
    const value = parseEther("1.5");
    const before = await pub.getBalance({ address: from.address, blockTag: "pending" });
    const nonce = await pub.getTransactionCount({ address: from.address, blockTag: "pending" });
    const hash = await walletOf(1).sendTransaction({ to, value });
    const receipt = await pub.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    const raw = await rpc<RawReceipt>(seq.rpcUrl, "eth_getTransactionReceipt", [hash]);
    checkViemReceipt(receipt, raw, { from: from.address, to, type: "eip1559", gas: 21_000n });

    const tx = await rpc<RawTx>(seq.rpcUrl, "eth_getTransactionByHash", [hash]);
    assert.equal(tx.type, "0x2");
    assert.equal(BigInt(tx.nonce), BigInt(nonce));
    assert.equal(BigInt(tx.value), value);
    assert.equal(tx.blockNumber, raw.blockNumber);
    assert.equal(tx.transactionIndex, raw.transactionIndex);

    // Preconfirmed state: the recipient has the value, the sender paid value + gas.
    assert.equal(await pub.getBalance({ address: to, blockTag: "pending" }), value);
    const paid = value + receipt.gasUsed * receipt.effectiveGasPrice;
    assert.equal(await pub.getBalance({ address: from.address, blockTag: "pending" }), before - paid);
    assert.equal(await pub.getTransactionCount({ address: from.address, blockTag: "pending" }), nonce + 1);

    const sealed = await checkSealedMatches(raw);
    assert.equal(BigInt(sealed.effectiveGasPrice), await expectedGasPrice(tx, sealed.blockNumber));
    assert.equal(await pub.getBalance({ address: to }), value);
    assert.equal(await pub.getBalance({ address: from.address }), before - paid);
  });

  it("sends a legacy transfer at the suggested gas price", async () => {
    const from = devAccount(2);
    const to = freshAddress();
    const gasPrice = await pub.getGasPrice();
    const hash = await walletOf(2).sendTransaction({ to, value: 12345n, type: "legacy", gasPrice });
    const receipt = await pub.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    const raw = await rpc<RawReceipt>(seq.rpcUrl, "eth_getTransactionReceipt", [hash]);
    checkViemReceipt(receipt, raw, { from: from.address, to, type: "legacy", gas: 21_000n });
    assert.equal(receipt.effectiveGasPrice, gasPrice);
    const tx = await pub.getTransaction({ hash });
    assert.equal(tx.type, "legacy");
    assert.equal(tx.gasPrice, gasPrice);
    assert.equal(tx.chainId, DEV_CHAIN_ID); // EIP-155
    assert.equal(await pub.getBalance({ address: to, blockTag: "pending" }), 12345n);
    await checkSealedMatches(raw);
  });

  it("sends an EIP-2930 transaction with an access list (21,000 + 2,400 + 1,900 gas)", async () => {
    const from = devAccount(3);
    const to = freshAddress();
    const listed = freshAddress();
    const slot = `0x${"00".repeat(31)}07` as Hex;
    const hash = await walletOf(3).sendTransaction({
      to,
      value: 1n,
      type: "eip2930",
      gasPrice: parseGwei("2"),
      accessList: [{ address: listed, storageKeys: [slot] }],
    });
    const receipt = await pub.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    const raw = await rpc<RawReceipt>(seq.rpcUrl, "eth_getTransactionReceipt", [hash]);
    checkViemReceipt(receipt, raw, { from: from.address, to, type: "eip2930", gas: 25_300n });
    assert.equal(receipt.effectiveGasPrice, parseGwei("2"));
    const tx = await rpc<RawTx>(seq.rpcUrl, "eth_getTransactionByHash", [hash]);
    assert.equal(tx.type, "0x1");
    assert.deepEqual(tx.accessList, [{ address: listed.toLowerCase(), storageKeys: [slot] }]);
    await checkSealedMatches(raw);
  });
});

describe("wallet / ethers", () => {
  it("sends an EIP-1559 transfer, tx.wait() resolves, and the sealed block agrees", async () => {
    const wallet = ethersWallet(4, provider);
    assert.equal(wallet.address, devAccount(4).address);
    const to = freshAddress();
    const value = 10n ** 17n;
    const before = await provider.getBalance(wallet.address, "pending");
    const nonce = await provider.getTransactionCount(wallet.address, "pending");
    const sent = await wallet.sendTransaction({ to, value });
    assert.equal(sent.type, 2);
    assert.equal(sent.nonce, nonce);
    const receipt = await sent.wait();
    assert.ok(receipt !== null);
    assert.equal(receipt.status, 1);
    assert.equal(receipt.hash, sent.hash);
    assert.equal(receipt.type, 2);
    assert.equal(receipt.from, wallet.address);
    assert.equal(receipt.to?.toLowerCase(), to.toLowerCase());
    assert.equal(receipt.gasUsed, 21_000n);
    assert.equal(receipt.logs.length, 0);
    const raw = await rpc<RawReceipt>(seq.rpcUrl, "eth_getTransactionReceipt", [sent.hash]);
    assert.equal(receipt.blockNumber, Number(raw.blockNumber));
    assert.equal(receipt.index, Number(raw.transactionIndex));
    assert.equal(receipt.cumulativeGasUsed, BigInt(raw.cumulativeGasUsed));

    assert.equal(await provider.getBalance(to, "pending"), value);
    assert.equal(
      await provider.getBalance(wallet.address, "pending"),
      before - value - receipt.gasUsed * receipt.gasPrice,
    );
    assert.equal(await provider.getTransactionCount(wallet.address, "pending"), nonce + 1);

    const sealed = await checkSealedMatches(raw);
    const fetched = await provider.getTransactionReceipt(sent.hash);
    assert.equal(fetched?.blockHash, sealed.blockHash);
    const block = await provider.getBlock(sealed.blockHash);
    assert.equal(block?.number, receipt.blockNumber);
    assert.ok(block?.transactions.includes(sent.hash));
    const tx = await rpc<RawTx>(seq.rpcUrl, "eth_getTransactionByHash", [sent.hash]);
    assert.equal(BigInt(sealed.effectiveGasPrice), await expectedGasPrice(tx, sealed.blockNumber));
  });

  it("sends a legacy (type 0) transfer", async () => {
    const wallet = ethersWallet(5, provider);
    const to = freshAddress();
    const gasPrice = (await provider.getFeeData()).gasPrice!;
    const sent = await wallet.sendTransaction({ to, value: 777n, type: 0, gasPrice });
    assert.equal(sent.type, 0);
    const receipt = await sent.wait();
    assert.ok(receipt !== null);
    assert.equal(receipt.status, 1);
    assert.equal(receipt.type, 0);
    assert.equal(receipt.gasUsed, 21_000n);
    assert.equal(receipt.gasPrice, gasPrice);
    const tx = await provider.getTransaction(sent.hash);
    assert.equal(tx?.chainId, BigInt(DEV_CHAIN_ID));
    assert.equal(tx?.gasPrice, gasPrice);
    assert.equal(await provider.getBalance(to, "pending"), 777n);
    await checkSealedMatches(await rpc<RawReceipt>(seq.rpcUrl, "eth_getTransactionReceipt", [sent.hash]));
  });

  it("sends an EIP-2930 (type 1) transaction with an access list", async () => {
    const wallet = ethersWallet(6, provider);
    const to = freshAddress();
    const listed = freshAddress();
    const sent = await wallet.sendTransaction({
      to,
      value: 3n,
      type: 1,
      gasPrice: 2n * 10n ** 9n,
      accessList: [{ address: listed, storageKeys: [`0x${"00".repeat(32)}`, `0x${"00".repeat(31)}01`] }],
    });
    assert.equal(sent.type, 1);
    const receipt = await sent.wait();
    assert.ok(receipt !== null);
    assert.equal(receipt.status, 1);
    assert.equal(receipt.type, 1);
    assert.equal(receipt.gasUsed, 21_000n + 2_400n + 2n * 1_900n);
    await checkSealedMatches(await rpc<RawReceipt>(seq.rpcUrl, "eth_getTransactionReceipt", [sent.hash]));
  });
});
