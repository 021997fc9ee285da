import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createFeeMarket1559Tx } from "@ethereumjs/tx";
import { bytesToHex } from "@ethereumjs/util";
import { createLogger, randomPrivateKey, signingKeyFromPrivate } from "@staccato/common";
import {
  PoolJournalError,
  readPoolJournal,
  restorePoolJournal,
  savePoolJournal,
  writePoolJournal,
} from "../../src/txpool/poolJournal.ts";
import { common, testPool } from "./poolFixtures.ts";

const keys = [randomPrivateKey(), randomPrivateKey()];
const addr = (i: number) => bytesToHex(signingKeyFromPrivate(keys[i]!).address);
const dir = mkdtempSync(join(tmpdir(), "pool-journal-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const log = createLogger({ name: "test", level: "silent" });

const tx = (sender: number, nonce: number) =>
  createFeeMarket1559Tx(
    {
      to: "0x000000000000000000000000000000000000dead",
      value: 1n,
      gasLimit: 21000n,
      nonce: BigInt(nonce),
      maxFeePerGas: 10_000_000_000n,
      maxPriorityFeePerGas: 1_000_000n,
    },
    { common },
  )
    .sign(keys[sender]!)
    .serialize();

const pool = (nonces: Map<string, bigint>, opts: Record<string, unknown> = {}) => testPool(opts, nonces);

describe("txpool / journal", () => {
  it("reads back what it wrote, byte for byte, in order", () => {
    const path = join(dir, "roundtrip.journal");
    const raws = [tx(0, 0), tx(1, 3), tx(0, 1)];
    writePoolJournal(path, raws);
    assert.deepEqual(readPoolJournal(path), raws);
    assert.equal(readPoolJournal(join(dir, "absent.journal")), null);
  });

  it("refuses a torn or altered file whole", () => {
    const path = join(dir, "bad.journal");
    writePoolJournal(path, [tx(0, 0), tx(0, 1)]);
    const good = readFileSync(path);
    writeFileSync(path, good.subarray(0, good.length - 7));
    assert.throws(() => readPoolJournal(path), PoolJournalError);
    const flipped = Buffer.from(good);
    flipped[10] = flipped[10]! ^ 0xff;
    writeFileSync(path, flipped);
    assert.throws(() => readPoolJournal(path), /does not match its checksum/);
    writeFileSync(path, Buffer.alloc(5));
    assert.throws(() => readPoolJournal(path), /truncated/);
  });

  it("keeps ready and waiting transactions at a stop and admits them all again at the start", () => {
    const path = join(dir, "stop.journal");
    const nonces = new Map<string, bigint>();
    const before = pool(nonces);
    // Sender 0's nonce 2 arrives before 0 and 1 (it waits for them); sender 1 waits for nonce 0.
    const sent = [tx(0, 2), tx(1, 1), tx(0, 0), tx(0, 1), tx(1, 2)];
    for (const raw of sent) before.add(raw);
    assert.equal(before.readyCount(), 3);
    savePoolJournal(path, before, log, true);

    const again = pool(nonces);
    restorePoolJournal(path, again, log);
    assert.equal(existsSync(path), false, "the journal is removed once read");
    assert.equal(again.size, sent.length);
    assert.equal(again.readyCount(), 3);
    // Each sender's transactions come back in nonce order, senders interleaved as they arrived.
    assert.deepEqual(
      again.pooled().map((p) => [p.sender, p.nonce]),
      [
        [addr(0), 0n],
        [addr(1), 1n],
        [addr(0), 1n],
        [addr(0), 2n],
        [addr(1), 2n],
      ],
    );
  });

  it("admits a sender's whole nonce run even when a put-back reordered the pool near the gap limit", () => {
    const path = join(dir, "gap.journal");
    const nonces = new Map<string, bigint>();
    const before = pool(nonces, { nonceGapLimit: 2 });
    for (let n = 0; n < 4; n++) before.add(tx(0, n));
    const first = before.take()!;
    before.putBack(first); // nonce 0 is now last in arrival order
    savePoolJournal(path, before, log, true);
    const again = pool(nonces, { nonceGapLimit: 2 });
    restorePoolJournal(path, again, log);
    assert.equal(again.size, 4);
    assert.equal(again.readyCount(), 4);
  });

  it("leaves out what the chain included meanwhile, and starts with a corrupt journal", () => {
    const path = join(dir, "stale.journal");
    const before = pool(new Map());
    for (let n = 0; n < 3; n++) before.add(tx(0, n));
    savePoolJournal(path, before, log, true);
    const again = pool(new Map([[addr(0), 2n]]));
    restorePoolJournal(path, again, log);
    assert.equal(again.size, 1, "nonces 0 and 1 are too low now");

    writeFileSync(path, Buffer.from("not a journal at all, but long enough to have a checksum"));
    const fresh = pool(new Map());
    restorePoolJournal(path, fresh, log);
    assert.equal(fresh.size, 0);
    assert.equal(existsSync(path), false);
  });

  it("writes nothing with --no-txpool-journal, or with an empty pool", () => {
    const path = join(dir, "off.journal");
    const p = pool(new Map());
    savePoolJournal(path, p, log, true);
    assert.equal(existsSync(path), false);
    p.add(tx(0, 0));
    savePoolJournal(path, p, log, false);
    assert.equal(existsSync(path), false);
  });
});
