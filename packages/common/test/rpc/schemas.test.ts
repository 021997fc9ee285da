import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { exceedsDepth } from "../../src/rpc/dispatch.ts";
import { DecodeError } from "../../src/codec/rlpUtil.ts";
import { ErrorCode, StaccatoError } from "../../src/errors.ts";
import { TraceAbort } from "../../src/rpc/debug/traceSession.ts";
import {
  formatParamsError,
  isClientError,
  RpcError,
  RpcErrorCode,
  toRpcErrorObject,
} from "../../src/rpc/errors.ts";
import { rpcSchemas as s } from "../../src/rpc/index.ts";

const HASH = `0x${"Ab".repeat(32)}`;

function message(schema: z.ZodType, input: unknown): string {
  const r = schema.safeParse(input);
  assert.equal(r.success, false, `expected ${JSON.stringify(input)} to fail`);
  return r.success ? "" : formatParamsError(r.error, schema, input);
}

describe("rpc schemas / scalars", () => {
  it("parses quantities leniently into bigint", () => {
    assert.equal(s.quantity.parse("0x0"), 0n);
    assert.equal(s.quantity.parse("0x001F"), 31n);
    assert.equal(s.quantity.parse(`0x${"f".repeat(64)}`), 2n ** 256n - 1n);
    for (const bad of ["0x", "1", "0xg", `0x${"f".repeat(65)}`, 1])
      assert.equal(s.quantity.safeParse(bad).success, false);
  });

  it("validates hex data, addresses and hashes", () => {
    assert.equal(s.hexData.parse("0x"), "0x");
    assert.equal(s.hexData.parse("0xABcd"), "0xABcd");
    assert.equal(s.hexData.safeParse("0xabc").success, false);
    assert.deepEqual(s.hexBytes.parse("0x01ff"), new Uint8Array([1, 255]));
    assert.deepEqual(s.hexBytes.parse("0x"), new Uint8Array(0));
    assert.deepEqual(s.hexBytes.parse("0xABcd"), new Uint8Array([0xab, 0xcd]));
    // Rejected wherever the fault is: the decoder stops short at the first pair that is not hex.
    for (const bad of ["0xabc", "01ff", "0X01ff", "0x01fg", "0xg1ff", "0x01 f", "", 7]) {
      const r = s.hexBytes.safeParse(bad);
      assert.equal(r.success, false, String(bad));
      assert.match(r.error!.issues[0]!.message, /0x-prefixed even-length hex/);
    }
    assert.equal(s.address.parse(`0x${"AB".repeat(20)}`), `0x${"ab".repeat(20)}`);
    assert.equal(s.address.safeParse(`0x${"ab".repeat(19)}`).success, false);
    assert.equal(s.hash32.parse(HASH), HASH.toLowerCase());
    assert.equal(s.bool.safeParse("true").success, false);
  });

  it("parses block tags", () => {
    assert.deepEqual(s.blockTag.parse("finalized"), { tag: "finalized" });
    assert.deepEqual(s.blockTag.parse("0x10"), { number: 16n });
    assert.equal(s.blockTag.safeParse("Latest").success, false);
    assert.equal(s.blockTag.safeParse(16).success, false);
  });

  it("parses EIP-1898 block references", () => {
    assert.deepEqual(s.blockTagOrHash.parse("latest"), { tag: "latest" });
    assert.deepEqual(s.blockTagOrHash.parse(HASH), { hash: HASH.toLowerCase(), requireCanonical: false });
    assert.deepEqual(s.blockTagOrHash.parse({ blockNumber: "0x2" }), { number: 2n });
    assert.deepEqual(s.blockTagOrHash.parse({ blockHash: HASH, requireCanonical: true }), {
      hash: HASH.toLowerCase(),
      requireCanonical: true,
    });
    assert.equal(s.blockTagOrHash.safeParse({ blockHash: HASH, blockNumber: "0x1" }).success, false);
    assert.equal(s.blockTagOrHash.safeParse({}).success, false);
    assert.equal(s.blockTagOrHash.safeParse(null).success, false);
  });
});

describe("rpc schemas / param error messages", () => {
  const schema = z.tuple([s.address, s.blockTagOrHash.optional()]);
  const addr = `0x${"11".repeat(20)}`;

  it("names the param by index and description", () => {
    assert.equal(message(schema, [1]), "invalid params: param 0 (address): expected 0x-prefixed 20-byte hex");
    assert.equal(
      message(schema, [addr, { blockHash: "0x1" }]),
      "invalid params: param 1 (blockTagOrHash).blockHash: expected 0x-prefixed 32-byte hex",
    );
    assert.equal(
      message(z.tuple([z.number()]), ["x"]),
      "invalid params: param 0: expected number, received string",
    );
    assert.equal(
      message(z.tuple([z.number().meta({ title: "count" })]), ["x"]),
      "invalid params: param 0 (count): expected number, received string",
    );
  });

  it("maps errors in one place", () => {
    assert.deepEqual(toRpcErrorObject(new RpcError(RpcErrorCode.InvalidInput, "nonce too low")), {
      code: -32000,
      message: "nonce too low",
    });
    const zerr = z.tuple([s.hash32]).safeParse(["0x"]).error;
    assert.deepEqual(toRpcErrorObject(zerr), {
      code: -32602,
      message: "invalid params: param 0: expected 0x-prefixed 32-byte hex",
    });
    assert.deepEqual(toRpcErrorObject(new TypeError("x is undefined")), {
      code: -32603,
      message: "internal error",
    });
    assert.deepEqual(toRpcErrorObject("thrown string"), { code: -32603, message: "internal error" });
  });

  it("maps each client-facing error code, and keeps every other one internal", () => {
    const reverted = new RpcError(RpcErrorCode.ExecutionReverted, "execution reverted", "0x12");
    assert.equal(reverted.code, ErrorCode.Rpc);
    assert.equal(reverted.name, "RpcError");
    assert.deepEqual(toRpcErrorObject(reverted), { code: 3, message: "execution reverted", data: "0x12" });
    const slow = new TraceAbort("execution timeout: the trace did not finish within 1s", "timeout");
    assert.equal(slow.code, ErrorCode.TraceTimeout);
    assert.deepEqual(toRpcErrorObject(slow), { code: -32000, message: slow.message });
    const big = new TraceAbort("trace result too large", "size");
    assert.deepEqual(toRpcErrorObject(big), { code: -32005, message: "trace result too large" });
    const rejected = new StaccatoError(ErrorCode.TxRejected, "nonce too low: address 0x01", {
      reason: "nonceTooLow",
    });
    assert.deepEqual(toRpcErrorObject(rejected), { code: -32000, message: "nonce too low: address 0x01" });
    // A node's own failures never show their message to a client.
    const corrupt = new DecodeError("mini-block: expected bytes");
    assert.ok(corrupt instanceof StaccatoError && corrupt.code === ErrorCode.Decode);
    assert.equal(corrupt.name, "DecodeError");
    assert.deepEqual(toRpcErrorObject(corrupt), { code: -32603, message: "internal error" });
    assert.deepEqual([reverted, slow, big, rejected, corrupt, new Error("x")].map(isClientError), [
      true,
      true,
      true,
      true,
      false,
      false,
    ]);
  });
});

describe("rpc dispatch / depth check", () => {
  it("counts nesting outside strings only", () => {
    assert.equal(exceedsDepth("[[1]]", 2), false);
    assert.equal(exceedsDepth("[[[1]]]", 2), true);
    assert.equal(exceedsDepth('{"a":[{"b":1}]}', 3), false);
    assert.equal(exceedsDepth('{"a":[{"b":1}]}', 2), true);
    assert.equal(exceedsDepth('["[[[[", "\\"[[[[", "\\\\", [1]]', 2), false);
    assert.equal(exceedsDepth('["\\\\", [[1]]]', 2), true);
    assert.equal(exceedsDepth('["unterminated [[[[', 1), false);
  });
});
