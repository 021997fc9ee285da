import assert from "node:assert/strict";
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  WalCorruptError,
  WalRecordType,
  WriteAheadLog,
  migrateSingleFileWal,
  readWal,
  readWalDir,
} from "../../src/storage/wal.ts";

const dir = mkdtempSync(join(tmpdir(), "staccato-wal-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes three records into a fresh log; returns its one segment file. */
async function writeThree(path: string): Promise<void> {
  const segDir = `${path}.d`;
  const wal = await WriteAheadLog.open(segDir, 0, "always");
  await wal.append(WalRecordType.blockOpen, Uint8Array.of(1, 2, 3), 1n);
  await wal.append(WalRecordType.miniBlock, new Uint8Array(1000).fill(7));
  await wal.append(WalRecordType.blockSeal, Uint8Array.of(9));
  await wal.close();
  writeFileSync(path, readFileSync(join(segDir, "000000000001.wal")));
}

describe("write-ahead log / torn tail", () => {
  it("reads back every record in order", async () => {
    const path = join(dir, "a.wal");
    await writeThree(path);
    const r = readWal(path);
    assert.deepEqual(
      r.records.map((x) => [x.type, x.payload.length]),
      [
        [1, 3],
        [2, 1000],
        [3, 1],
      ],
    );
    assert.equal(r.droppedBytes, 0);
    assert.equal(r.validBytes, statSync(path).size);
  });

  it("drops a record cut short mid-write, and appends after the last good one", async () => {
    const path = join(dir, "b.wal");
    await writeThree(path);
    const full = statSync(path).size;
    truncateSync(path, full - 1); // the seal record loses its last byte
    const r = readWal(path);
    assert.equal(r.records.length, 2);
    assert.ok(r.droppedBytes > 0);
    const segDir = join(dir, "b.d2");
    migrateSingleFileWal(path, segDir);
    const wal = await WriteAheadLog.open(segDir, r.validBytes, "always");
    await wal.append(WalRecordType.blockSeal, Uint8Array.of(4, 4));
    await wal.close();
    const again = readWalDir(segDir);
    assert.deepEqual(
      again.records.map((x) => x.type),
      [1, 2, 3],
    );
    assert.deepEqual(again.records[2]!.payload, Uint8Array.of(4, 4));
  });

  it("drops garbage and a record whose checksum does not hold", async () => {
    const path = join(dir, "c.wal");
    await writeThree(path);
    appendFileSync(path, Buffer.from("garbage that is not a record at all"));
    assert.equal(readWal(path).records.length, 3);
    const bytes = readFileSync(path);
    bytes[20] ^= 0xff; // inside the second record's payload
    const flipped = join(dir, "d.wal");
    appendFileSync(flipped, bytes);
    const r = readWal(flipped);
    assert.equal(r.records.length, 1);
  });

  it("a missing file is an empty log", () => {
    assert.deepEqual(readWal(join(dir, "none.wal")), { records: [], validBytes: 0, droppedBytes: 0 });
  });
});

describe("write-ahead log / segments", () => {
  /** Blocks `from..to`, each an opening, a 4 KB mini-block and a seal. */
  async function blocks(wal: WriteAheadLog, from: number, to: number): Promise<void> {
    for (let n = from; n <= to; n++) {
      await wal.append(WalRecordType.blockOpen, Uint8Array.of(n), BigInt(n));
      await wal.append(WalRecordType.miniBlock, new Uint8Array(4096).fill(n));
      await wal.append(WalRecordType.blockSeal, Uint8Array.of(n));
    }
  }

  it("starts a segment at a block opening once the current one is full, and reads them back in order", async () => {
    const d = join(dir, "seg-a");
    const wal = await WriteAheadLog.open(d, 0, "none", 10_000);
    await blocks(wal, 1, 10);
    await wal.close();
    const names = readdirSync(d).sort();
    // 4 KB per block, 10 KB per segment: a new one every third block, each named by its first block.
    assert.deepEqual(names, ["000000000001.wal", "000000000004.wal", "000000000007.wal", "000000000010.wal"]);
    const r = readWalDir(d);
    assert.equal(r.records.length, 30);
    assert.deepEqual(
      r.records.filter((x) => x.type === WalRecordType.blockOpen).map((x) => x.payload[0]),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    for (const seg of names) assert.equal(readWal(join(d, seg)).records[0]!.type, WalRecordType.blockOpen);
  });

  it("deletes only segments whose every block is covered, never the one being written", async () => {
    const d = join(dir, "seg-b");
    const wal = await WriteAheadLog.open(d, 0, "none", 10_000);
    await blocks(wal, 1, 10);
    assert.equal(await wal.prune(5n), 1, "blocks 1-3 are covered; 4-6 is not whole");
    assert.deepEqual(readdirSync(d).sort(), ["000000000004.wal", "000000000007.wal", "000000000010.wal"]);
    const before = wal.bytes;
    assert.equal(await wal.prune(6n), 1);
    assert.ok(wal.bytes < before);
    assert.equal(await wal.prune(1_000n), 1, "the last segment stays");
    assert.deepEqual(readdirSync(d), ["000000000010.wal"]);
    await blocks(wal, 11, 11);
    await wal.close();
    const r = readWalDir(d);
    assert.deepEqual(
      r.records.filter((x) => x.type === WalRecordType.blockOpen).map((x) => x.payload[0]),
      [10, 11],
    );
  });

  it("a torn tail is dropped in the last segment but is corruption in an earlier one", async () => {
    const d = join(dir, "seg-c");
    const wal = await WriteAheadLog.open(d, 0, "none", 10_000);
    await blocks(wal, 1, 5);
    await wal.close();
    const last = join(d, "000000000004.wal");
    appendFileSync(last, Buffer.from("torn"));
    assert.equal(readWalDir(d).droppedBytes, 4);
    const firstSeg = join(d, "000000000001.wal");
    truncateSync(firstSeg, statSync(firstSeg).size - 1);
    assert.throws(() => readWalDir(d), WalCorruptError);
  });

  it("a log written as one file becomes the segment of block 1", async () => {
    const file = join(dir, "single.wal");
    await writeThree(file);
    const d = join(dir, "seg-d");
    assert.equal(migrateSingleFileWal(file, d), true);
    assert.equal(existsSync(file), false);
    assert.equal(readWalDir(d).records.length, 3);
    assert.equal(migrateSingleFileWal(file, d), false);
  });
});
