/**
 * Every error Staccato throws on purpose is a `StaccatoError`: a `code` saying what kind of
 * failure it is (one per error class, from `ErrorCode`), a message for people, and typed
 * `details` for code that handles it. Which of them reach a JSON-RPC client, and with which
 * JSON-RPC code, is decided in one place: `toRpcErrorObject` (rpc/errors.ts).
 */
export const ErrorCode = {
  // Inputs: files, flags, wire bytes.
  Decode: "DECODE",
  ChainConfig: "CHAIN_CONFIG",
  Cli: "CLI",
  Startup: "STARTUP",
  // Storage and recovery.
  WalCorrupt: "WAL_CORRUPT",
  Recovery: "RECOVERY",
  PoolJournal: "POOL_JOURNAL",
  // State, tries and execution.
  NotLoaded: "NOT_LOADED",
  MissingState: "MISSING_STATE",
  TrieMoved: "TRIE_MOVED",
  TrieMissingNode: "TRIE_MISSING_NODE",
  TrieInvalidNode: "TRIE_INVALID_NODE",
  FastPathAbort: "FAST_PATH_ABORT",
  // Checking what others produced.
  Verification: "VERIFICATION",
  SequencerSignature: "SEQUENCER_SIGNATURE",
  BadBundle: "BAD_BUNDLE",
  SnapshotJoin: "SNAPSHOT_JOIN",
  // Networking and DA.
  ReqResp: "REQ_RESP",
  Envelope: "ENVELOPE",
  Da: "DA",
  // Requests: the JSON-RPC answer is part of the error.
  Rpc: "RPC",
  TxRejected: "TX_REJECTED",
  TraceTimeout: "TRACE_TIMEOUT",
  TraceTooLarge: "TRACE_TOO_LARGE",
  // The devnet launcher.
  Devnet: "DEVNET",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class StaccatoError<D = undefined> extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: D,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
