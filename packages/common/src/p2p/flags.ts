import { join } from "node:path";
import { z } from "zod";
import { defineFlags } from "../config/cli.ts";
import { P2P_DEFAULTS, type P2POptions, P2POptionsSchema } from "./node.ts";

/** The p2p flags every daemon takes; spread into its own `defineFlags({...})`. */
export function p2pFlags(defaultPort: number) {
  const listen = P2POptionsSchema.shape.listen.unwrap();
  const addrs = P2POptionsSchema.shape.bootnodes.unwrap();
  return defineFlags({
    p2pListen: {
      schema: listen.default([`/ip4/0.0.0.0/tcp/${defaultPort}`]),
      description: "libp2p listen multiaddrs (comma-separated)",
      placeholder: "<multiaddrs>",
    },
    p2pAnnounce: {
      schema: addrs.default([]),
      description: "Multiaddrs to advertise instead of the listen addresses (comma-separated)",
      placeholder: "<multiaddrs>",
    },
    bootnodes: {
      schema: addrs.default([]),
      description: "Peers to stay connected to: full multiaddrs with /p2p/<peer id> (comma-separated)",
      placeholder: "<multiaddrs>",
    },
    p2pMaxGossipBytes: {
      schema: z.number().int().positive().default(P2P_DEFAULTS.maxGossipBytes),
      description: "Largest gossip message accepted, compressed, in bytes",
      placeholder: "<bytes>",
    },
  });
}

export type P2PFlagValues = {
  p2pListen: string[];
  p2pAnnounce: string[];
  bootnodes: string[];
  p2pMaxGossipBytes: number;
};

/** The libp2p key every daemon keeps in its data dir. */
export const P2P_KEY_FILE = "p2p.key";

/** The p2p options from parsed flags; the key lives at `<dataDir>/p2p.key`. */
export function p2pOptionsFromFlags(flags: P2PFlagValues, dataDir: string): P2POptions {
  return {
    ...P2P_DEFAULTS,
    listen: flags.p2pListen,
    announce: flags.p2pAnnounce,
    bootnodes: flags.bootnodes,
    maxGossipBytes: flags.p2pMaxGossipBytes,
    keyFile: join(dataDir, P2P_KEY_FILE),
  };
}
