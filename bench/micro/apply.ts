/**
 * The full node's apply of a mini-block of plain ETH transfers against the sequencer's sealing of
 * it, on one thread, per transaction: the same pieces the two daemons time for their
 * `staccato_fullnode_apply_seconds` and `staccato_sequencer_execution_seconds_total` metrics.
 * - seal: execute each transfer (plain-transfer shortcut), take the diff and pre-image, record the
 *   latest view, hash and sign the mini-block (no pool, no write-ahead log, no trie worker);
 * - apply: apply the diff, record the latest view, the chain-store entries (transaction hashes,
 *   blooms) and add them to the chain store (no store write, no trie worker).
 * Mini-blocks of TXS transfers (10: 1,000 tx/s at 10 ms), N transfers a round, median of ROUNDS.
 * The full node gets each mini-block as decoded from its wire encoding (decoding is not timed).
 * Asserts that the replica ends in the sequencer's state.
 * Run: node --import tsx bench/micro/apply.ts   (env N, TXS, ROUNDS)
 */
import type { TypedTransaction } from "@ethereumjs/tx";
import { bytesToHex } from "@ethereumjs/util";
import {
  ChainStore,
  decodeSignedMiniBlock,
  encodeSignedMiniBlock,
  Executor,
  keccak256,
  type MemoryState,
  miniBlockEntries,
  miniBlockHash,
  openChainBlock,
  type SignedMiniBlock,
  SigningDomain,
  signingKeyFromPrivate,
  signPayload,
  StateHistory,
} from "@staccato/common";
import { CHAIN_ID, block, blockEnv, common, fundedState, freshTransfers, senderKeys } from "./fixtures.ts";

const N = Number(process.env.N ?? 20_000);
const TXS = Number(process.env.TXS ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const sequencerKey = signingKeyFromPrivate(keccak256(Uint8Array.of(9)));
const senders = senderKeys(32);

/** The sequencer's side: execute, diff, latest view, hash and sign, one mini-block at a time. */
async function seal(
  txs: TypedTransaction[],
): Promise<{ us: number; mbs: SignedMiniBlock[]; state: MemoryState }> {
  const state = fundedState(senders);
  const latest = new StateHistory(state, 0n);
  const ex = await Executor.create(common, state, async () => undefined);
  const mbs: SignedMiniBlock[] = [];
  let gas = 0n;
  let parentHash: Uint8Array = new Uint8Array(32);
  const t0 = performance.now();
  for (let i = 0; i < txs.length; i += TXS) {
    const receipts = [];
    const raws = [];
    for (const tx of txs.slice(i, i + TXS)) {
      const out = await ex.execute(tx, block, gas);
      if (!out.ok) throw new Error(`transfer failed: ${out.reason}`);
      gas = out.receipt.cumulativeGasUsed;
      receipts.push(out.receipt);
      raws.push(tx.serialize());
    }
    ex.takeReads();
    const { diff, pre } = state.takeDiff();
    latest.add(1n, pre);
    const mb = {
      number: BigInt(mbs.length + 1),
      blockNumber: 1n,
      index: mbs.length,
      parentHash,
      timestampUs: 0n,
      firstTxIndex: i,
      firstLogIndex: 0,
      txs: raws,
      receipts,
      diff,
    };
    const hash = miniBlockHash(mb);
    mbs.push({
      ...mb,
      hash,
      signature: signPayload(SigningDomain.miniBlock, CHAIN_ID, hash, sequencerKey.privateKey),
    });
    parentHash = hash;
  }
  return { us: ((performance.now() - t0) * 1000) / txs.length, mbs, state };
}

/** The full node's side, for mini-blocks received with their wire encoding. */
function apply(mbs: { mb: SignedMiniBlock; encoded: Uint8Array }[]): { us: number; state: MemoryState } {
  const state = fundedState(senders);
  const latest = new StateHistory(state, 0n);
  const chain = new ChainStore(1n);
  const b = openChainBlock(blockEnv);
  chain.addBlock(b);
  const t0 = performance.now();
  for (const { mb, encoded } of mbs) {
    state.applyDiff(mb.diff, true);
    latest.add(b.number, state.takePreImage());
    const { entries, logIndex } = miniBlockEntries(mb, b.number, common);
    b.gasUsed = mb.receipts.at(-1)?.cumulativeGasUsed ?? b.gasUsed;
    b.txCount += entries.length;
    b.miniBlockCount++;
    b.logCount = logIndex;
    chain.addMiniBlock(b, { number: mb.number, hash: mb.hash, encoded }, entries);
  }
  return { us: ((performance.now() - t0) * 1000) / (mbs.length * TXS), state };
}

const accounts = (s: MemoryState) =>
  JSON.stringify(
    [...s.addresses()].sort().map((a) => [a, s.account(a)]),
    (_, v) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? bytesToHex(v) : v),
  );

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sealed: number[] = [];
const applied: number[] = [];
for (let r = -1; r < ROUNDS; r++) {
  const s = await seal(freshTransfers(senders, N, r + 1));
  // As a full node gets them: decoded from the wire encoding (raw transactions are views into it).
  const a = apply(
    s.mbs.map((mb) => {
      const encoded = encodeSignedMiniBlock(mb);
      return { mb: decodeSignedMiniBlock(encoded), encoded };
    }),
  );
  if (accounts(a.state) !== accounts(s.state)) throw new Error(`round ${r}: the replica's state differs`);
  if (r < 0) continue; // warm-up
  sealed.push(s.us);
  applied.push(a.us);
}
const emit = (name: string, value: number, unit: string) =>
  process.stdout.write(`${JSON.stringify({ name, value: Math.round(value * 100) / 100, unit })}\n`);
emit("seal_eth_transfer_us", median(sealed), "us/tx");
emit("apply_eth_transfer_us", median(applied), "us/tx");
emit("apply_vs_seal_ratio", median(sealed) / median(applied), "x");
