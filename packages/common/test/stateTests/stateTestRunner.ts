/**
 * Runs Ethereum's filled state tests (`ethereum/tests` GeneralStateTests, Cancun expectations)
 * through the project's `Executor`: the pre-state goes into a `MemoryState`, the transaction
 * (`txbytes` of each post entry) runs on the chosen engine, and the post-state root (the project's
 * `StateTrie`, fed the state diffs) and the logs hash are compared with the expectation.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { createBlock } from "@ethereumjs/block";
import { Common, Hardfork, Mainnet } from "@ethereumjs/common";
import { RLP } from "@ethereumjs/rlp";
import { type TypedTransaction, createTxFromRLP } from "@ethereumjs/tx";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import { KECCAK256_NULL, keccak256 } from "../../src/crypto/keccak.ts";
import { ecrecover } from "../../src/crypto/secp256k1.ts";
import { type ExecutionEngine, Executor } from "../../src/execution/executor.ts";
import { MemoryState } from "../../src/state/memoryState.ts";
import { StateTrie } from "../../src/trie/stateTrie.ts";
import type { Log } from "../../src/types/chain.ts";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../../..");

/**
 * `../shared/ethereum-tests/GeneralStateTests` relative to the repository root (where CI keeps
 * it), or `$ETHEREUM_TESTS_DIR/GeneralStateTests`. Throws a clear error when it is missing.
 */
export function stateTestsDir(): string {
  const base = process.env.ETHEREUM_TESTS_DIR ?? join(REPO_ROOT, "..", "shared", "ethereum-tests");
  const dir = join(base, "GeneralStateTests");
  if (!existsSync(dir))
    throw new Error(
      `Ethereum state tests not found at ${dir}: put ethereum/tests at ../shared/ethereum-tests (relative to the repository root) or set ETHEREUM_TESTS_DIR`,
    );
  return dir;
}

/** Every *.json under the directory, sorted (deterministic order). */
export function listTestFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith(".json")) out.push(p);
    }
  };
  walk(dir);
  return out;
}

interface JsonAccount {
  balance: string;
  code: string;
  nonce: string;
  storage: Record<string, string>;
}
interface JsonPost {
  hash: string;
  logs: string;
  txbytes: string;
  expectException?: string;
  indexes: { data: number; gas: number; value: number };
}
interface JsonTest {
  env: Record<string, string>;
  pre: Record<string, JsonAccount>;
  post: Record<string, JsonPost[]>;
}

export type CaseVerdict = "pass" | "fail" | "skip";
export interface CaseResult {
  /** file path relative to GeneralStateTests, test name, post index. */
  id: string;
  verdict: CaseVerdict;
  /** The fast engine handed the transaction to runTx (reasons). */
  fallbacks: string[];
  reason?: string;
}

const FORK = "Cancun";

/**
 * Files not run, with the reason. Both engines call the same `@ethereumjs/evm` precompile code, so
 * these say nothing about the fast EVM that other cases do not.
 */
const SKIP_FILES: Record<string, string> = {
  "stTimeConsuming/CALLBlake2f_MaxRounds.json":
    "2^32-1 BLAKE2 rounds in @ethereumjs/evm's JavaScript BLAKE2F precompile: hours on either engine",
};
let common: Common | null = null;
function cancunCommon(): Common {
  if (common === null)
    common = new Common({
      chain: Mainnet,
      hardfork: Hardfork.Cancun,
      customCrypto: { keccak256, ecrecover },
    });
  return common;
}

/** Geth's and retesteth's BLOCKHASH in state tests: keccak256 of the number's decimal string. */
const testBlockHash = (n: bigint): Uint8Array => keccak256(new TextEncoder().encode(n.toString()));

const big = (h: string | undefined): bigint => (h === undefined || h === "0x" ? 0n : BigInt(h));
const hexKey = (h: string): string => `0x${BigInt(h).toString(16).padStart(64, "0")}`;
const unpadded = (v: bigint): Uint8Array => {
  if (v === 0n) return new Uint8Array(0);
  let s = v.toString(16);
  if (s.length & 1) s = `0${s}`;
  return hexToBytes(`0x${s}`);
};

/**
 * The cases of one file, on one engine (`only`: just the cases with these ids). `compileAfter`
 * goes to the fast engine (`ExecutorOptions.compileAfter`): 0 runs all code through the block
 * compiler, Infinity through the interpreter alone.
 */
export async function runFile(
  path: string,
  engine: ExecutionEngine,
  root: string,
  only?: (id: string) => boolean,
  compileAfter?: number,
): Promise<CaseResult[]> {
  const json = JSON.parse(readFileSync(path, "utf8")) as Record<string, JsonTest>;
  const results: CaseResult[] = [];
  const rel = relative(root, path);
  const skip = SKIP_FILES[rel.split(sep).join("/")];
  for (const [name, test] of Object.entries(json)) {
    const posts = test.post[FORK];
    if (posts === undefined) continue;
    for (let i = 0; i < posts.length; i++) {
      const id = `${rel} ${name} #${i}`;
      if (only !== undefined && !only(id)) continue;
      if (skip !== undefined) {
        results.push({ id, verdict: "skip", fallbacks: [], reason: skip });
        continue;
      }
      try {
        results.push({ id, ...(await runPost(test, posts[i]!, engine, compileAfter)) });
      } catch (err) {
        results.push({
          id,
          verdict: "fail",
          fallbacks: [],
          reason: `threw: ${(err as Error).message.split("\n")[0]}`,
        });
      }
    }
  }
  return results;
}

/** One case again (by id), e.g. on the other engine. */
export async function runCase(
  path: string,
  id: string,
  engine: ExecutionEngine,
  root: string,
  compileAfter?: number,
): Promise<CaseResult | null> {
  return (await runFile(path, engine, root, (x) => x === id, compileAfter))[0] ?? null;
}

/** Blob transactions and the point-evaluation precompile need a KZG library neither engine has here. */
const needsKzg = (msg: string): boolean => /kzg/i.test(msg);

async function runPost(
  test: JsonTest,
  post: JsonPost,
  engine: ExecutionEngine,
  compileAfter: number | undefined,
): Promise<Omit<CaseResult, "id">> {
  const c = cancunCommon();
  const state = new MemoryState();
  for (const [addr, a] of Object.entries(test.pre)) {
    const key = addr.toLowerCase();
    state.writeAccount(key, { nonce: big(a.nonce), balance: big(a.balance), codeHash: KECCAK256_NULL });
    if (a.code !== "0x" && a.code !== "") state.writeCode(key, hexToBytes(a.code as `0x${string}`));
    for (const [k, v] of Object.entries(a.storage)) {
      const value = big(v);
      if (value !== 0n) state.writeSlot(key, hexKey(k), unpadded(value));
    }
  }
  const trie = new StateTrie();
  trie.add(state.takeDiff().diff);
  await trie.commit();

  const env = test.env;
  const block = createBlock(
    {
      header: {
        number: big(env.currentNumber),
        timestamp: big(env.currentTimestamp),
        coinbase: env.currentCoinbase as `0x${string}`,
        gasLimit: big(env.currentGasLimit),
        baseFeePerGas: big(env.currentBaseFee),
        mixHash: (env.currentRandom ?? `0x${"00".repeat(32)}`) as `0x${string}`,
        difficulty: 0n,
        excessBlobGas: big(env.currentExcessBlobGas),
        blobGasUsed: 0n,
        parentBeaconBlockRoot: new Uint8Array(32),
        withdrawalsRoot: KECCAK256_NULL,
      },
    },
    { common: c, skipConsensusFormatValidation: true },
  );
  const fallbacks: string[] = [];
  const ex = await Executor.create(c, state, async (n) => testBlockHash(n), {
    engine,
    plainTransfers: false,
    syncBlockHash: testBlockHash,
    onFallback: (r) => fallbacks.push(r),
    compileAfter,
  });

  let logs: Log[] = [];
  let tx: TypedTransaction | null = null;
  try {
    tx = createTxFromRLP(hexToBytes(post.txbytes as `0x${string}`), { common: c });
    if (!tx.isSigned() || !tx.isValid()) tx = null;
  } catch (err) {
    if (needsKzg((err as Error).message))
      return { verdict: "skip", fallbacks, reason: "blob transaction: needs a KZG library" };
    tx = null;
  }
  let executed = false;
  if (tx !== null) {
    const out = await ex.execute(tx, block, 0n);
    if (out.ok) {
      executed = true;
      logs = out.receipt.logs;
    } else if (needsKzg(out.reason)) {
      return { verdict: "skip", fallbacks, reason: "point evaluation: needs a KZG library" };
    }
  }
  if (!executed) {
    // Like geth's state-test runner: the coinbase gets a zero reward, so an empty one is removed.
    const cb = bytesToHex(block.header.coinbase.bytes);
    const acc = state.account(cb);
    if (
      acc !== undefined &&
      acc.nonce === 0n &&
      acc.balance === 0n &&
      bytesToHex(acc.codeHash) === bytesToHex(KECCAK256_NULL)
    )
      state.removeAccount(cb);
  }
  trie.add(state.takeDiff().diff);
  const root = bytesToHex(await trie.commit());
  const logsHash = bytesToHex(keccak256(RLP.encode(logs.map((l) => [l.address, l.topics, l.data]))));
  const problems: string[] = [];
  if (post.expectException !== undefined && executed)
    problems.push(`expected exception ${post.expectException}, tx ran`);
  if (post.expectException === undefined && !executed) problems.push("tx rejected, expected to run");
  if (root !== post.hash) problems.push(`state root ${root} != ${post.hash}`);
  if (logsHash !== post.logs) problems.push(`logs hash ${logsHash} != ${post.logs}`);
  return problems.length === 0
    ? { verdict: "pass", fallbacks }
    : { verdict: "fail", fallbacks, reason: problems.join("; ") };
}
