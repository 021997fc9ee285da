/**
 * Defaults that more than one package needs: each daemon's ports and the key files it looks for
 * in its data dir. The daemons' flags (`packages/<daemon>/src/node/options.ts`) and the devnet,
 * which lays out ports and data dirs for them, read them from here.
 */

/** `--rpc-port`, the TCP port of `--p2p-listen`, and `--metrics-port`, per daemon. */
export const DEFAULT_PORTS = {
  sequencer: { rpc: 8545, p2p: 9000, metrics: 9545 },
  fullnode: { rpc: 8546, p2p: 9001, metrics: 9546 },
  prover: { p2p: 9002, metrics: 9547 },
} as const;

/** The sequencer's signing key in its data dir, unless `--key-file` names another (`--dev` writes it). */
export const SEQUENCER_KEY_FILE = "sequencer.key";
/** A prover's signing key in its data dir, unless `--key-file` names another. */
export const PROVER_KEY_FILE = "prover.key";
