import type { Hex } from "viem";
import { log } from "./report.ts";
import { METHOD_NOT_FOUND, RpcClient, RpcError, toHex } from "./rpc.ts";
import type { Key, SignedTx, Signer, UnsignedTx } from "./signer.ts";
import { type Target, sleep } from "./targets.ts";

/** What the bench knows about one running target's chain, plus local nonce bookkeeping. */

export interface Receipt {
  transactionHash: Hex;
  contractAddress?: Hex | null;
  blockNumber: Hex;
  status: Hex;
  gasUsed: Hex;
}

export interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

const GWEI = 1_000_000_000n;

export class Chain {
  private readonly nonces = new Map<Hex, number>();

  private constructor(
    readonly target: Target,
    readonly rpc: RpcClient,
    readonly chainId: bigint,
    readonly blockGasLimit: bigint,
  ) {}

  static async connect(target: Target): Promise<Chain> {
    const rpc = new RpcClient(target.rpcUrl, { maxSockets: 8 });
    const chainId = BigInt(await rpc.call<Hex>("eth_chainId"));
    const latest = await rpc.call<{ gasLimit: Hex } | null>("eth_getBlockByNumber", ["latest", false]);
    if (latest === null) throw new Error("eth_getBlockByNumber(latest) returned null");
    const chain = new Chain(target, rpc, chainId, BigInt(latest.gasLimit));
    log(`${target.name}: chain id ${chainId}, block gas limit ${chain.blockGasLimit}`);
    return chain;
  }

  close(): void {
    this.rpc.close();
  }

  /** Throws when the target process is gone, so a dead target fails fast with its last output. */
  assertAlive(): void {
    const reason = this.target.exitReason();
    if (reason !== null) throw new Error(reason);
  }

  async blockNumber(): Promise<number> {
    return Number(await this.rpc.call<Hex>("eth_blockNumber"));
  }

  async balance(address: Hex): Promise<bigint> {
    return BigInt(await this.rpc.call<Hex>("eth_getBalance", [address, "latest"]));
  }

  /**
   * Fees valid for a run that will put `totalGas` on chain: maxFee = 2 x baseFee x (9/8)^blocks
   * + tip, where `blocks` is how many full blocks the run can fill. EIP-1559 raises the base fee
   * by up to 12.5% per full block, so a plain 2 x baseFee stops being valid after ~6 full
   * blocks and the rest of the load would sit in the pool forever. Same rule on every target.
   */
  async fees(totalGas: bigint): Promise<Fees> {
    const latest = await this.rpc.call<{ baseFeePerGas?: Hex }>("eth_getBlockByNumber", ["latest", false]);
    const baseFee =
      latest.baseFeePerGas !== undefined
        ? BigInt(latest.baseFeePerGas)
        : BigInt(await this.rpc.call<Hex>("eth_gasPrice"));
    let tip = GWEI;
    try {
      tip = BigInt(await this.rpc.call<Hex>("eth_maxPriorityFeePerGas"));
    } catch (err) {
      if (!(err instanceof RpcError && err.code === METHOD_NOT_FOUND)) throw err;
    }
    const fullBlocks = Number(totalGas / this.blockGasLimit) + 2;
    let headroom = 2n * baseFee;
    for (let i = 0; i < Math.min(fullBlocks, 60); i++) headroom = (headroom * 9n) / 8n + 1n;
    return { maxFeePerGas: headroom + tip, maxPriorityFeePerGas: tip };
  }

  /** Reserves `count` consecutive nonces of `key`. Fresh keys start at the chain's count. */
  async reserveNonces(key: Key, count: number): Promise<number> {
    let next = this.nonces.get(key.address);
    if (next === undefined) {
      next = Number(await this.rpc.call<Hex>("eth_getTransactionCount", [key.address, "pending"]));
    }
    this.nonces.set(key.address, next + count);
    return next;
  }

  /** Drops the local nonce of `key` (or of every key): the next reservation re-reads it. */
  forgetNonce(key?: Key): void {
    if (key === undefined) this.nonces.clear();
    else this.nonces.delete(key.address);
  }

  /**
   * Signs, sends and waits for a handful of setup transactions (not timed). Every one must
   * succeed.
   */
  async setupTxs(
    signer: Signer,
    items: { key: Key; tx: Omit<UnsignedTx, "nonce" | "maxFeePerGas" | "maxPriorityFeePerGas"> }[],
  ): Promise<Receipt[]> {
    const fees = await this.fees(items.reduce((g, i) => g + i.tx.gas, 0n));
    const signed: SignedTx[] = [];
    for (const { key, tx } of items) {
      const nonce = await this.reserveNonces(key, 1);
      const [s] = await signer.sign([{ ...tx, nonce, ...fees }], key, this.chainId);
      signed.push(s!);
    }
    const hashes = await this.rpc.batchOk<Hex>(
      signed.map((s) => ({ method: "eth_sendRawTransaction", params: [s.raw] })),
    );
    hashes.forEach((h, i) => {
      if (h.toLowerCase() !== signed[i]!.hash)
        throw new Error(`setup tx hash mismatch: ${h} vs ${signed[i]!.hash}`);
    });
    const receipts = await this.waitReceipts(hashes, 60_000);
    for (const r of receipts) {
      if (r.status !== "0x1") throw new Error(`setup tx ${r.transactionHash} failed (status ${r.status})`);
    }
    // A receipt can precede its block (Staccato serves receipts from sealed mini-blocks while
    // "latest" state moves once per block): wait until "latest" reads see the setup.
    await this.waitForBlock(Math.max(...receipts.map((r) => Number(r.blockNumber))), 30_000);
    return receipts;
  }

  /** Polls until every hash has a receipt (untimed paths only). */
  async waitReceipts(all: readonly Hex[], timeoutMs: number): Promise<Receipt[]> {
    const hashes = [...new Set(all)];
    const found = new Map<Hex, Receipt>();
    const deadline = Date.now() + timeoutMs;
    while (found.size < hashes.length) {
      this.assertAlive();
      const missing = hashes.filter((h) => !found.has(h)).slice(0, 500);
      const res = await this.rpc.batchOk<Receipt | null>(
        missing.map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })),
      );
      res.forEach((r, i) => {
        if (r !== null) found.set(missing[i]!, r);
      });
      if (found.size === hashes.length) break;
      if (Date.now() > deadline) {
        throw new Error(
          `${hashes.length - found.size} of ${hashes.length} receipts missing after ${timeoutMs} ms`,
        );
      }
      await sleep(50);
    }
    return all.map((h) => found.get(h)!);
  }

  async waitForBlock(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.blockNumber()) < n) {
      if (Date.now() > deadline) throw new Error(`block ${n} not produced within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** Transactions in blocks (from, to], read with eth_getBlockByNumber. */
  async countTxs(fromExclusive: number, toInclusive: number): Promise<number> {
    let total = 0;
    for (let start = fromExclusive + 1; start <= toInclusive; start += 50) {
      const end = Math.min(toInclusive, start + 49);
      const calls = [];
      for (let n = start; n <= end; n++)
        calls.push({ method: "eth_getBlockByNumber", params: [toHex(n), false] });
      const blocks = await this.rpc.batchOk<{ transactions: unknown[] } | null>(calls);
      blocks.forEach((b, i) => {
        if (b === null) throw new Error(`block ${start + i} missing`);
        total += b.transactions.length;
      });
    }
    return total;
  }
}
