import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bytesToHex } from "@ethereumjs/util";
import { DaError, DirectoryDaStore, EigenDaProxyStore } from "../../src/da/daStore.ts";
import { startFakeEigenDaProxy, type FakeEigenDaProxy } from "../helpers/fakeEigenDaProxy.ts";
import { rng } from "../helpers/random.ts";

function blobPaths(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((p) => p.endsWith(".blob") || p.endsWith(".tmp"));
}

async function rejects(p: Promise<unknown>, kind: DaError["kind"], pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DaError, `expected a DaError, got ${String(err)}`);
    assert.equal(err.kind, kind);
    assert.match(err.message, pattern);
    return true;
  });
}

describe("DA / directory store", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "staccato-da-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("gets back what it put, under a commitment of the content, and leaves no temporary file", async () => {
    const store = new DirectoryDaStore(dir);
    const r = rng(1);
    const blobs = [new Uint8Array(0), r.bytes(1), r.bytes(100_000)];
    const commitments = [];
    for (const b of blobs) commitments.push(await store.put(b));
    for (let i = 0; i < blobs.length; i++) {
      assert.equal(commitments[i]!.length, 33);
      assert.deepEqual(commitments[i], DirectoryDaStore.commitmentOf(blobs[i]!));
      assert.deepEqual(await store.get(commitments[i]!), blobs[i]);
    }
    // Putting the same content again is the same blob.
    assert.deepEqual(await store.put(blobs[2]!), commitments[2]);
    const files = blobPaths(dir);
    assert.equal(files.length, 3);
    assert.ok(files.every((f) => f.endsWith(".blob")));
  });

  it("is shared by two daemons' stores on one directory", async () => {
    const a = new DirectoryDaStore(dir);
    const b = new DirectoryDaStore(dir);
    const blob = new TextEncoder().encode("written by one, read by the other");
    const [c1, c2] = await Promise.all([a.put(blob), b.put(blob)]);
    assert.deepEqual(c1, c2);
    assert.deepEqual(await b.get(c1), blob);
  });

  it("refuses a blob whose content no longer matches its commitment", async () => {
    const store = new DirectoryDaStore(dir);
    const blob = rng(2).bytes(4096);
    const c = await store.put(blob);
    const file = join(dir, blobPaths(dir).find((p) => p.includes(bytesToHex(c).slice(4)))!);
    const bytes = readFileSync(file);
    bytes[1000]! ^= 0x01;
    writeFileSync(file, bytes);
    await rejects(
      store.get(c),
      "corrupt",
      /is corrupt: its content hashes to 0x[0-9a-f]{64}, not to its commitment/,
    );
  });

  it("says which blob is missing, and refuses commitments that are not its own", async () => {
    const store = new DirectoryDaStore(dir);
    const missing = DirectoryDaStore.commitmentOf(new TextEncoder().encode("never put"));
    await rejects(store.get(missing), "not-found", new RegExp(`has no blob ${bytesToHex(missing)}`));
    await rejects(store.get(Uint8Array.of(1, 2, 3)), "not-found", /not a directory-store commitment/);
  });
});

describe("DA / EigenDA proxy client", () => {
  let proxy: FakeEigenDaProxy;
  before(async () => {
    proxy = await startFakeEigenDaProxy();
  });
  after(() => proxy.close());

  it("puts and gets blobs through the proxy's simple-commitment routes", async () => {
    const store = new EigenDaProxyStore(`${proxy.url}/`);
    const blob = rng(3).bytes(50_000);
    const c = await store.put(blob);
    assert.equal(c[0], 0, "version byte of the commitment");
    assert.deepEqual(await store.get(c), blob);
    assert.equal(proxy.puts.length, 1);
  });

  it("reports an outage and an unknown commitment as such", async () => {
    const store = new EigenDaProxyStore(proxy.url);
    const c = await store.put(Uint8Array.of(7));
    proxy.down = true;
    try {
      await rejects(store.put(Uint8Array.of(8)), "unavailable", /put answered 503: disperser unavailable/);
      await rejects(store.get(c), "unavailable", /get answered 503/);
    } finally {
      proxy.down = false;
    }
    await rejects(store.get(Uint8Array.of(0, 9, 9)), "not-found", /has no blob 0x000909/);
    const gone = await startFakeEigenDaProxy();
    await gone.close();
    const closed = new EigenDaProxyStore(gone.url, 2000);
    await rejects(closed.get(c), "unavailable", /ECONNREFUSED/);
  });
});
