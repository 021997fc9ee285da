import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import secp from "secp256k1";
import {
  recoverAddress,
  recoverPublicKeyWithPackage,
  secp256k1Backend,
  signHash,
  signingKeyFromPrivate,
} from "../../src/crypto/secp256k1.ts";
import { keccak256 } from "../../src/crypto/keccak.ts";

// CI builds the addon at install (native/secp256k1/build.mjs) and sets STACCATO_REQUIRE_NATIVE=1:
// there it must have loaded. Elsewhere (no C compiler) the package serves and this says so.
const ADDON = "../../native/secp256k1/build/Release/staccato_secp256k1.node";
const loaded = secp256k1Backend.endsWith("addon");
if (!loaded && process.env.STACCATO_REQUIRE_NATIVE === "1")
  throw new Error(`STACCATO_REQUIRE_NATIVE=1 but ${secp256k1Backend}`);
const skip = loaded ? false : secp256k1Backend;

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const word = (v: bigint): Uint8Array => Uint8Array.from(Buffer.from(v.toString(16).padStart(64, "0"), "hex"));

/** Deterministic bytes, so a failure names a case that can be re-run. */
function bytes(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** What each implementation makes of (hash, r ‖ s, recid): the address, or "throws". */
function both(hash: Uint8Array, sig: Uint8Array, recid: number): [string, string] {
  const ours = (() => {
    try {
      return Buffer.from(recoverAddress(hash, sig.subarray(0, 32), sig.subarray(32), recid)).toString("hex");
    } catch {
      return "throws";
    }
  })();
  const reference = (() => {
    try {
      return Buffer.from(keccak256(recoverPublicKeyWithPackage(hash, sig, recid)).subarray(12)).toString(
        "hex",
      );
    } catch {
      return "throws";
    }
  })();
  return [ours, reference];
}

describe("secp256k1 recovery (libsecp256k1 0.5.0 addon against the secp256k1 package)", { skip }, () => {
  it("recovers the signer of 500 random signatures, and the same key as the package for both recovery ids", () => {
    for (let i = 0; i < 500; i++) {
      let key = bytes(i, 32);
      while (!secp.privateKeyVerify(key)) key = keccak256(key);
      const { address } = signingKeyFromPrivate(key);
      const hash = bytes(i + 100_000, 32);
      const sig = signHash(hash, key);
      const recid = sig[64]!;
      assert.deepEqual(
        recoverAddress(hash, sig.subarray(0, 32), sig.subarray(32, 64), recid),
        address,
        `case ${i}`,
      );
      // The other recovery id names another point: some other key, or none, the same in both.
      const [ours, reference] = both(hash, sig.subarray(0, 64), recid ^ 1);
      assert.equal(ours, reference, `case ${i}, other recid`);
    }
  });

  it("agrees with the package on signatures that do not recover or are out of range", () => {
    const hash = bytes(7, 32);
    const good = signHash(hash, bytes(8, 32)).subarray(0, 64);
    const r = good.subarray(0, 32);
    const s = good.subarray(32, 64);
    const cat = (a: Uint8Array, b: Uint8Array) => Uint8Array.from([...a, ...b]);
    const cases: [string, Uint8Array][] = [
      ["r = 0", cat(word(0n), s)],
      ["s = 0", cat(r, word(0n))],
      ["r = n", cat(word(N), s)],
      ["s = n", cat(r, word(N))],
      ["r = 2^256 - 1", cat(word((1n << 256n) - 1n), s)],
      ["s = n - 1 (high s)", cat(r, word(N - 1n))],
      ["high s of a good signature", cat(r, word(N - BigInt(`0x${Buffer.from(s).toString("hex")}`)))],
      // x = 5: 5^3 + 7 = 132 is not a square mod p, so no point has it.
      ["r with no point on the curve", cat(word(5n), s)],
    ];
    for (let i = 0; i < 64; i++) cases.push([`random r ‖ s ${i}`, bytes(1000 + i, 64)]);
    let recovered = 0;
    for (const [name, sig] of cases)
      for (const recid of [0, 1]) {
        const [ours, reference] = both(hash, sig, recid);
        assert.equal(ours, reference, `${name}, recid ${recid}`);
        if (ours !== "throws") recovered++;
      }
    // Random r ‖ s mostly recover some key; the named bad cases must not.
    assert.ok(recovered > 0);
    for (const name of [
      "r = 0",
      "s = 0",
      "r = n",
      "s = n",
      "r = 2^256 - 1",
      "r with no point on the curve",
    ]) {
      const sig = cases.find(([n]) => n === name)![1];
      assert.deepEqual(both(hash, sig, 0), ["throws", "throws"], name);
    }
  });

  it("checks its arguments (the addon itself)", () => {
    const addon = createRequire(import.meta.url)(ADDON) as {
      version: string;
      recover(sig: Uint8Array, recid: number, hash: Uint8Array, out: Uint8Array): boolean;
    };
    assert.equal(addon.version, "libsecp256k1 0.5.0");
    const sig = new Uint8Array(64);
    const hash = new Uint8Array(32);
    const out = new Uint8Array(65);
    assert.throws(() => addon.recover(new Uint8Array(63), 0, hash, out), TypeError);
    assert.throws(() => addon.recover(sig, 0, new Uint8Array(31), out), TypeError);
    assert.throws(() => addon.recover(sig, 0, hash, new Uint8Array(64)), TypeError);
    assert.throws(() => addon.recover(sig, 4, hash, out), TypeError);
    assert.throws(() => addon.recover(new Uint16Array(32) as unknown as Uint8Array, 0, hash, out), TypeError);
    assert.equal(addon.recover(sig, 0, hash, out), false, "r = s = 0 does not recover");
    // A Buffer is a Uint8Array: a good signature through Buffers fills `out`.
    const key = bytes(3, 32);
    const good = signHash(hash, key);
    assert.equal(addon.recover(Buffer.from(good.subarray(0, 64)), good[64]!, Buffer.from(hash), out), true);
    assert.deepEqual(out, secp.publicKeyCreate(key, false));
  });
});

describe("secp256k1 backend choice", () => {
  it("STACCATO_SECP256K1=package selects the package", () => {
    const script = `import("${new URL("../../src/crypto/secp256k1.ts", import.meta.url).href}").then((m) => console.log(m.secp256k1Backend))`;
    const run = (env: Record<string, string>) =>
      execFileSync(process.execPath, ["--import", "tsx", "-e", script], {
        env: { ...process.env, ...env },
        encoding: "utf8",
      }).trim();
    assert.match(run({ STACCATO_SECP256K1: "package" }), /^secp256k1 package/);
    assert.equal(run({ STACCATO_SECP256K1: "" }), secp256k1Backend);
  });
});
