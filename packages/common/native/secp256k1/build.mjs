#!/usr/bin/env node
// Builds the libsecp256k1 0.5.0 addon (binding.gyp) with node-gyp; run by `pnpm install` (the
// `install` script of @staccato/common). Without a C compiler, or when the build fails, it says so
// and exits 0: the code then recovers keys with the `secp256k1` package, ~40 % slower
// (`secp256k1Backend` names the one in use, and the daemons log it).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const built = join(here, "build", "Release", "staccato_secp256k1.node");

/** The newest mtime of the sources (C, headers, binding.gyp) under `dir`, node-gyp's output aside. */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== join(here, "build")) newest = Math.max(newest, newestSource(path));
    } else if (/\.(c|h|gyp)$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

if (existsSync(built) && statSync(built).mtimeMs >= newestSource(here) && !process.argv.includes("--force")) {
  process.exit(0);
}

// Node's own headers where the Node install has them (official tarballs, Debian's nodejs-dev,
// the node Docker images), so node-gyp does not try to download them.
const prefix = dirname(dirname(process.execPath));
const args = ["rebuild", "--release"];
if (existsSync(join(prefix, "include", "node", "node_api.h"))) args.push(`--nodedir=${prefix}`);

// npm's own node-gyp beside this Node; else the one npm and pnpm put on the PATH of install scripts.
const npmGyp = join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js");
const [cmd, cmdArgs] = existsSync(npmGyp) ? [process.execPath, [npmGyp, ...args]] : ["node-gyp", args];

process.stderr.write("building the libsecp256k1 0.5.0 addon (packages/common/native/secp256k1)...\n");
const started = Date.now();
const run = spawnSync(cmd, cmdArgs, { cwd: here, encoding: "utf8", timeout: 300_000 });
if (run.status === 0 && existsSync(built)) {
  process.stderr.write(`built ${built} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
} else {
  const why =
    run.error?.message ?? `${(run.stderr || run.stdout || "").trim().split("\n").slice(-8).join("\n")}`;
  process.stderr.write(
    `warning: the libsecp256k1 addon did not build, so sender recovery falls back to the secp256k1 package (~40 % slower).\n` +
      `  It needs python3, make and a C compiler (node-gyp). Re-run: node packages/common/native/secp256k1/build.mjs --force\n` +
      `  ${why.replaceAll("\n", "\n  ")}\n`,
  );
}
