import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { DaRef } from "@staccato/common";
import { DA_INDEX_KEPT, DaIndexLog } from "../../src/da/daIndex.ts";

const dir = mkdtempSync(join(tmpdir(), "staccato-da-index-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const ref = (n: number): DaRef => ({
  commitment: new Uint8Array(32).fill(n % 251),
  bundleHash: new Uint8Array(32).fill((n * 7) % 251),
});
const lines = (path: string) => readFileSync(path, "utf8").split("\n").filter(Boolean).length;
const noTear = () => assert.fail("no torn line expected");

describe("da-index.log", () => {
  it("stays near its kept window on disk and in memory, and resumes where it was", () => {
    const path = join(dir, "long.log");
    const log = DaIndexLog.open(path, noTear);
    const total = Number(DA_INDEX_KEPT) * 5 + 17;
    for (let n = 1; n <= total; n++) log.append(BigInt(n), ref(n));
    assert.equal(log.publishedThrough, BigInt(total));
    assert.ok(lines(path) <= 2 * Number(DA_INDEX_KEPT) + 1, `file holds ${lines(path)} lines`);
    // The publisher reads back the previous block and the last DA_INDEX_SPAN blocks.
    assert.deepEqual(log.get(BigInt(total - 1)), ref(total - 1));
    assert.deepEqual(log.get(BigInt(total - 64)), ref(total - 64));
    assert.equal(log.get(1n), undefined);

    const reopened = DaIndexLog.open(path, noTear);
    assert.equal(reopened.publishedThrough, BigInt(total));
    assert.deepEqual(reopened.get(BigInt(total)), ref(total));
    reopened.append(BigInt(total + 1), ref(total + 1));
    assert.equal(reopened.publishedThrough, BigInt(total + 1));
  });

  it("keeps a gap unpublished across a compaction", () => {
    const path = join(dir, "gap.log");
    const log = DaIndexLog.open(path, noTear);
    const total = Number(DA_INDEX_KEPT) * 3;
    for (let n = 1; n <= total; n++) if (n !== 10) log.append(BigInt(n), ref(n));
    assert.equal(log.publishedThrough, 9n);
    assert.equal(DaIndexLog.open(path, noTear).publishedThrough, 9n);
    log.append(10n, ref(10));
    assert.equal(log.publishedThrough, BigInt(total));
    assert.equal(DaIndexLog.open(path, noTear).publishedThrough, BigInt(total));
  });

  it("cuts a torn last line and reports it", () => {
    const path = join(dir, "torn.log");
    const log = DaIndexLog.open(path, noTear);
    for (let n = 1; n <= 5; n++) log.append(BigInt(n), ref(n));
    appendFileSync(path, '{"n":6,"c":"0x');
    let dropped = 0;
    const reopened = DaIndexLog.open(path, (bytes) => {
      dropped = bytes;
    });
    assert.ok(dropped > 0);
    assert.equal(reopened.publishedThrough, 5n);
    assert.equal(lines(path), 5);
  });
});
