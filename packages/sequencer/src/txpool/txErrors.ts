import { ErrorCode, StaccatoError } from "@staccato/common";

/**
 * Why a transaction was refused. Messages are the conventional geth ones, which viem and ethers
 * match to raise their typed errors (NonceTooLowError, INSUFFICIENT_FUNDS, ...).
 */
export const TxRejection = {
  wrongChainId: "invalid chain id for signer",
  badSignature: "invalid sender",
  malformed: "invalid transaction",
  unsupportedType: "transaction type not supported",
  nonceTooLow: "nonce too low",
  nonceTooHigh: "nonce too high",
  insufficientFunds: "insufficient funds for gas * price + value",
  intrinsicGasTooLow: "intrinsic gas too low",
  gasLimitTooHigh: "exceeds block gas limit",
  feeCapTooLow: "max fee per gas less than block base fee",
  tipAboveFeeCap: "max priority fee per gas higher than max fee per gas",
  underpriced: "replacement transaction underpriced",
  oversized: "oversized data",
  poolFull: "txpool is full",
  alreadyKnown: "already known",
} as const;
export type TxRejection = keyof typeof TxRejection;

export class TxRejectedError extends StaccatoError<{ reason: TxRejection }> {
  constructor(reason: TxRejection, detail?: string) {
    const message = detail === undefined ? TxRejection[reason] : `${TxRejection[reason]}: ${detail}`;
    super(ErrorCode.TxRejected, message, { reason });
  }

  get reason(): TxRejection {
    return this.details.reason;
  }
}
