import { join } from "node:path";
import { z } from "zod";
import { defineFlags } from "../config/cli.ts";
import { DA_BACKENDS, type DaBackend, type DaStore, openDaStore } from "./daStore.ts";

/**
 * The DA flags (DESIGN §7), spread into a daemon's `defineFlags({...})`. The sequencer publishes
 * to DA by default (`dir`, under its data dir); full nodes and provers read from it only when
 * told where it is.
 */
/** `--da-dir` when not given: this directory in the daemon's data dir. */
export const DEFAULT_DA_DIR = "da";

export function daFlags(defaultBackend: DaBackend, role: "publish" | "read") {
  return defineFlags({
    da: {
      schema: z.enum(DA_BACKENDS).default(defaultBackend),
      description:
        role === "publish"
          ? "Where every sealed block is published: dir (content-addressed blobs in --da-dir), eigenda (an EigenDA proxy at --da-url), none"
          : "Where to read blocks and witnesses that no peer serves: dir (--da-dir, shared with the sequencer), eigenda (--da-url), none",
    },
    daDir: {
      schema: z.string().optional(),
      description: `DA blob directory for --da dir; several daemons on one host may share it (default <data-dir>/${DEFAULT_DA_DIR})`,
      placeholder: "<dir>",
    },
    daUrl: {
      schema: z.string().url().optional(),
      description: "EigenDA proxy base URL for --da eigenda (e.g. http://127.0.0.1:3100)",
      placeholder: "<url>",
    },
  });
}

/** The DA store the flags name, or null for `--da none`. */
export function daStoreFromFlags(
  o: { da: DaBackend; daDir?: string | undefined; daUrl?: string | undefined },
  dataDir: string,
): DaStore | null {
  return openDaStore({ da: o.da, daDir: o.daDir ?? join(dataDir, DEFAULT_DA_DIR), daUrl: o.daUrl });
}
