import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import {
  decodeEnvelope,
  ENVELOPE_VERSION,
  EnvelopeError,
  encodeEnvelope,
  encodeEnvelopeAsync,
} from "../../src/p2p/envelope.ts";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof EnvelopeError, `expected EnvelopeError, got ${err}`);
    return err.reason;
  }
  assert.fail("did not throw");
}

describe("p2p / envelope", () => {
  it("round-trips and compresses", () => {
    const payload = new Uint8Array(10_000).map((_, i) => i % 7);
    const env = encodeEnvelope(payload);
    assert.equal(env[0], ENVELOPE_VERSION);
    assert.ok(env.length < 200, `compressed to ${env.length}`);
    assert.deepEqual(decodeEnvelope(env, payload.length), payload);
  });

  it("compresses off the thread to the same bytes as the synchronous encoder", async () => {
    const payload = new TextEncoder().encode("mini-block ".repeat(500));
    const env = await encodeEnvelopeAsync(payload);
    assert.deepEqual(env, encodeEnvelope(payload));
    assert.deepEqual(decodeEnvelope(env, payload.length), payload);
  });

  it("round-trips an empty and an incompressible payload", () => {
    assert.equal(decodeEnvelope(encodeEnvelope(new Uint8Array(0)), 1).length, 0);
    const noise = randomBytes(4096);
    assert.deepEqual(Buffer.from(decodeEnvelope(encodeEnvelope(noise), 4096)), noise);
  });

  it("refuses to inflate past the cap (a compression bomb never gets decoded)", () => {
    const bomb = encodeEnvelope(new Uint8Array(64 * 1024 * 1024));
    assert.ok(bomb.length < 10_000);
    const t0 = performance.now();
    assert.equal(
      code(() => decodeEnvelope(bomb, 1024 * 1024)),
      "too-large",
    );
    assert.ok(performance.now() - t0 < 1_000, "stopped early instead of inflating 64 MiB");
    assert.equal(
      code(() => decodeEnvelope(encodeEnvelope(new Uint8Array(1001)), 1000)),
      "too-large",
    );
  });

  it("rejects garbage, truncation, an unknown version and empty input", () => {
    // Fixed bytes: ~4 % of random 64-byte strings happen to be valid Brotli streams.
    const garbage = new TextEncoder().encode(
      "not a brotli stream, just text that goes on for 64 bytes or so...",
    );
    assert.equal(
      code(() => decodeEnvelope(Uint8Array.of(ENVELOPE_VERSION, ...garbage), 1 << 20)),
      "corrupt",
    );
    const good = encodeEnvelope(randomBytes(2000));
    assert.equal(
      code(() => decodeEnvelope(good.subarray(0, good.length - 10), 1 << 20)),
      "corrupt",
    );
    const wrongVersion = Uint8Array.from(good);
    wrongVersion[0] = 99;
    assert.equal(
      code(() => decodeEnvelope(wrongVersion, 1 << 20)),
      "bad-version",
    );
    assert.equal(
      code(() => decodeEnvelope(new Uint8Array(0), 1 << 20)),
      "empty",
    );
  });
});
