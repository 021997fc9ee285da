#!/usr/bin/env node
// Finds every *.test.ts under packages/*/test and runs them with Node's test runner (through tsx).
// Files run one at a time: integration tests start real daemons and this machine has 2 cores.
// Extra arguments filter files by substring: `pnpm test sequencer/test/rpc`.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const filters = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const files = [];
for (const pkg of readdirSync(join(root, "packages"))) {
  const dir = join(root, "packages", pkg, "test");
  let entries;
  try {
    entries = readdirSync(dir, { recursive: true });
  } catch {
    continue;
  }
  for (const e of entries) {
    const rel = relative(root, join(dir, String(e)));
    if (rel.endsWith(".test.ts") && (filters.length === 0 || filters.some((f) => rel.includes(f))))
      files.push(rel);
  }
}
files.sort();
if (files.length === 0) {
  process.stderr.write("no test files matched\n");
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", ...files], {
  cwd: root,
  stdio: "inherit",
});
process.exit(r.status ?? 1);
