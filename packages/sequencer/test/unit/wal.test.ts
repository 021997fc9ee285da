import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { WalRecordType, WriteAheadLog, readWal } from "../../src/storage/wal.ts";

const dir = mkdtempSync(join(tmpdir(), "staccato-wal-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function writeThree(path: string): Promise<void> {
  const wal = await WriteAheadLog.open(path, 0, "always");
  await wal.append(WalRecordType.blockOpen, Uint8Array.of(1, 2, 3));
  await wal.append(WalRecordType.miniBlock, new Uint8Array(1000).fill(7));
  await wal.append(WalRecordType.blockSeal, Uint8Array.of(9));
  await wal.close();
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
    const wal = await WriteAheadLog.open(path, r.validBytes, "always");
    await wal.append(WalRecordType.blockSeal, Uint8Array.of(4, 4));
    await wal.close();
    const again = readWal(path);
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
