import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ArchivePrefix, archiveKey, silentLogger, u64 } from "@staccato/common";
import { ClassicLevel } from "classic-level";
import { WitnessStore } from "../../src/storage/witnessStore.ts";

const dir = mkdtempSync(join(tmpdir(), "staccato-witness-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const witnessKey = (n: bigint) => archiveKey(ArchivePrefix.witness, u64(n));
const hash = (n: number) => new Uint8Array(32).fill(n);
const open = async (name: string) => {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, name), {
    keyEncoding: "view",
    valueEncoding: "view",
  });
  await db.open();
  return db;
};

/** A record of the old single-file witness log: [u32 length][u64 block][32-byte hash][compressed]. */
function oldRecord(n: number, body: Uint8Array): Buffer {
  const rec = Buffer.alloc(44 + body.length);
  rec.writeUInt32BE(40 + body.length, 0);
  rec.writeBigUInt64BE(BigInt(n), 4);
  rec.set(hash(n), 12);
  rec.set(body, 44);
  return rec;
}

describe("witness store / history database", () => {
  it("stores, serves and survives a reopen; unknown blocks have none", async () => {
    const db = await open("a");
    const s = await WitnessStore.open(db, join(dir, "none.log"), silentLogger());
    s.add(5n, hash(5), Promise.resolve(Uint8Array.of(1, 2, 3)));
    assert.equal(await s.has(5n), true);
    assert.deepEqual((await s.get(5n))?.compressed, Uint8Array.of(1, 2, 3));
    await s.close();
    const again = await WitnessStore.open(db, join(dir, "none.log"), silentLogger());
    const w = await again.get(5n);
    assert.deepEqual(w?.hash, hash(5));
    assert.deepEqual(w?.compressed, Uint8Array.of(1, 2, 3));
    assert.equal(await again.has(6n), false);
    assert.equal(await again.get(6n), undefined);
    await db.close();
  });

  it("written(n) resolves only once the witness is in the database (a snapshot of block n waits for it)", async () => {
    const db = await open("c");
    const s = await WitnessStore.open(db, join(dir, "none.log"), silentLogger());
    let finish!: (c: Uint8Array) => void;
    s.add(7n, hash(7), new Promise<Uint8Array>((r) => (finish = r)));
    let done = false;
    const written = s.written(7n).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(done, false, "still compressing");
    assert.equal(await db.get(witnessKey(7n)), undefined);
    finish(Uint8Array.of(4, 5));
    await written;
    const raw = await db.get(witnessKey(7n));
    assert.deepEqual(Uint8Array.from(raw!.subarray(32)), Uint8Array.of(4, 5));
    // A block with no witness on its way: nothing to wait for.
    await s.written(8n);
    await s.close();
    await db.close();
  });

  it("moves an old witnesses.log into the database once, dropping a torn last record", async () => {
    const file = join(dir, "witnesses.log");
    writeFileSync(file, Buffer.concat([oldRecord(1, Uint8Array.of(9)), oldRecord(2, Uint8Array.of(8, 8))]));
    appendFileSync(file, oldRecord(3, Uint8Array.of(7, 7, 7)).subarray(0, 20));
    const db = await open("b");
    const s = await WitnessStore.open(db, file, silentLogger());
    assert.equal(existsSync(file), false);
    assert.deepEqual((await s.get(1n))?.compressed, Uint8Array.of(9));
    assert.deepEqual((await s.get(2n))?.compressed, Uint8Array.of(8, 8));
    assert.deepEqual((await s.get(2n))?.hash, hash(2));
    assert.equal(await s.has(3n), false);
    await s.close();
    await db.close();
  });
});
