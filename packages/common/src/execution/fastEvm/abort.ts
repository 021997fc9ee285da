import { ErrorCode, StaccatoError } from "../../errors.ts";
/**
 * Thrown inside the fast EVM when a transaction needs something it does not implement (an
 * EIP-7702 delegation, an async precompile, a block hash it cannot read synchronously, a call
 * stack deeper than the JS stack allows). The executor reverts every effect of the attempt and
 * runs the transaction through `runTx` instead.
 */
export class FastPathAbort extends StaccatoError<{ reason: string }> {
  constructor(reason: string) {
    super(ErrorCode.FastPathAbort, `fast EVM fell back: ${reason}`, { reason });
  }

  get reason(): string {
    return this.details.reason;
  }
}
