#!/usr/bin/env node
// Installs the workspace's dependencies with the pinned pnpm when they are missing or stale, so
// `npm start` and `npm test` work on a machine that has only Node and npm.
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const marker = join(root, "node_modules", ".modules.yaml");
const lock = join(root, "pnpm-lock.yaml");
const fresh = existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
if (!fresh || process.argv.includes("--force")) {
  const pnpm = JSON.parse(
    (await import("node:fs")).readFileSync(join(root, "package.json"), "utf8"),
  ).packageManager;
  process.stderr.write(`installing dependencies with ${pnpm}...\n`);
  execFileSync("npx", ["--yes", pnpm, "install", "--frozen-lockfile"], { cwd: root, stdio: "inherit" });
} else {
  // pnpm install builds the libsecp256k1 addon; build it here where the install is older than it
  // or than its sources (build.mjs returns at once when the addon is up to date).
  execFileSync(process.execPath, [join(root, "packages/common/native/secp256k1/build.mjs")], {
    stdio: "inherit",
  });
}
