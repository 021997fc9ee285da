/**
 * `pnpm test:state`: every GeneralStateTests case with Cancun expectations through the fast
 * engine, a pass / fail / skipped / fell-back table per folder, and every failure with its reason
 * (re-run on the reference engine, so a failure both engines share is told apart from one only
 * the fast engine has).
 *
 *   pnpm test:state [--engine fast|reference] [--filter <substring>] [--out STATE-TESTS.md]
 *   pnpm test:state --shard 1/2 --json a.json   (one share of the files, results as JSON)
 *   pnpm test:state --merge a.json,b.json --out STATE-TESTS.md   (the report from the shares)
 *
 * Exits 1 when a case fails on the fast engine that the reference engine passes.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { relative, sep } from "node:path";
import { parseArgs } from "node:util";
import type { ExecutionEngine } from "../../src/execution/executor.ts";
import { type CaseResult, listTestFiles, runCase, runFile, stateTestsDir } from "./stateTestRunner.ts";

const { values } = parseArgs({
  options: {
    engine: { type: "string", default: "fast" },
    "compile-after": { type: "string", default: "0" },
    filter: { type: "string" },
    out: { type: "string" },
    shard: { type: "string" },
    json: { type: "string" },
    merge: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  process.stdout.write(
    "pnpm test:state [--engine fast|reference] [--compile-after <runs>] [--filter <substring>] [--out STATE-TESTS.md]\n" +
      "               [--shard <k>/<n> --json <file>] | [--merge <a.json,b.json,...> --out STATE-TESTS.md]\n" +
      "Runs ../shared/ethereum-tests/GeneralStateTests (or $ETHEREUM_TESTS_DIR) through the Executor.\n" +
      "--compile-after: runs of a contract's code before the fast engine compiles its blocks\n" +
      "(default 0: all code compiled; Infinity: the interpreter alone).\n",
  );
  process.exit(0);
}
const engine = values.engine as ExecutionEngine;
if (engine !== "fast" && engine !== "reference") {
  process.stderr.write(`--engine must be fast or reference, not ${engine}\n`);
  process.exit(2);
}
const compileAfter = Number(values["compile-after"]);
if (!(compileAfter >= 0)) {
  process.stderr.write(`--compile-after must be a number of runs >= 0, not ${values["compile-after"]}\n`);
  process.exit(2);
}

interface Row {
  cases: number;
  pass: number;
  fail: number;
  skip: number;
  fellBack: number;
}
interface Results {
  engine: string;
  /** The fast engine's `compileAfter` (absent in reports from before the block compiler). */
  compileAfter?: string;
  /** The commit the share ran (`git describe --always --dirty`), when it ran in a git checkout. */
  commit?: string;
  files: number;
  seconds: number;
  rows: [string, Row][];
  failures: { r: CaseResult; reference: string }[];
  fallbackReasons: [string, number][];
  skipReasons: [string, number][];
}

async function runShare(): Promise<Results> {
  const root = stateTestsDir();
  let files = listTestFiles(root).filter((f) => values.filter === undefined || f.includes(values.filter));
  if (values.shard !== undefined) {
    const [k, n] = values.shard.split("/").map(Number);
    if (!k || !n || k > n) throw new Error(`--shard must be k/n with 1 <= k <= n, not ${values.shard}`);
    files = files.filter((_, i) => i % n === k - 1);
  }
  const rows = new Map<string, Row>();
  const failures: { r: CaseResult; reference: string }[] = [];
  const fallbackReasons = new Map<string, number>();
  const skipReasons = new Map<string, number>();
  const folderOf = (path: string): string => {
    const parts = relative(root, path).split(sep);
    return parts[0] === "Pyspecs" || parts[0] === "Cancun" || parts[0] === "Shanghai"
      ? parts.slice(0, 2).join("/")
      : parts[0]!;
  };
  const started = performance.now();
  let done = 0;
  for (const f of files) {
    const folder = folderOf(f);
    let row = rows.get(folder);
    if (row === undefined) {
      row = { cases: 0, pass: 0, fail: 0, skip: 0, fellBack: 0 };
      rows.set(folder, row);
    }
    for (const r of await runFile(f, engine, root, undefined, compileAfter)) {
      row.cases++;
      row[r.verdict]++;
      if (r.fallbacks.length > 0) row.fellBack++;
      for (const reason of r.fallbacks) fallbackReasons.set(reason, (fallbackReasons.get(reason) ?? 0) + 1);
      if (r.verdict === "skip") {
        const reason = r.reason ?? "?";
        skipReasons.set(reason, (skipReasons.get(reason) ?? 0) + 1);
      }
      if (r.verdict === "fail") {
        let reference = "-";
        if (engine === "fast") {
          const again = await runCase(f, r.id, "reference", root);
          reference = again === null ? "?" : again.verdict;
        }
        failures.push({ r, reference });
        process.stderr.write(`FAIL ${r.id}: ${r.reason} (reference: ${reference})\n`);
      }
    }
    done++;
    if (done % 200 === 0)
      process.stderr.write(
        `${done}/${files.length} files, ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
      );
  }
  return {
    engine,
    compileAfter: values["compile-after"],
    commit: commitOf(),
    files: files.length,
    seconds: (performance.now() - started) / 1000,
    rows: [...rows],
    failures,
    fallbackReasons: [...fallbackReasons],
    skipReasons: [...skipReasons],
  };
}

function commitOf(): string | undefined {
  try {
    return execFileSync("git", ["describe", "--always", "--dirty"], {
      encoding: "utf8",
      stdio: "pipe",
    }).trim();
  } catch {
    return undefined;
  }
}

function mergeResults(parts: Results[]): Results {
  const rows = new Map<string, Row>();
  const reasons = new Map<string, number>();
  const skips = new Map<string, number>();
  for (const p of parts) {
    for (const [k, n] of p.skipReasons ?? []) skips.set(k, (skips.get(k) ?? 0) + n);
    for (const [folder, r] of p.rows) {
      const m = rows.get(folder) ?? { cases: 0, pass: 0, fail: 0, skip: 0, fellBack: 0 };
      m.cases += r.cases;
      m.pass += r.pass;
      m.fail += r.fail;
      m.skip += r.skip;
      m.fellBack += r.fellBack;
      rows.set(folder, m);
    }
    for (const [k, n] of p.fallbackReasons) reasons.set(k, (reasons.get(k) ?? 0) + n);
  }
  const commits = [...new Set(parts.map((p) => p.commit ?? "?"))];
  return {
    engine: parts[0]!.engine,
    compileAfter: parts[0]!.compileAfter,
    commit: commits.join(", "),
    files: parts.reduce((s, p) => s + p.files, 0),
    seconds: parts.reduce((s, p) => s + p.seconds, 0),
    rows: [...rows],
    failures: parts.flatMap((p) => p.failures),
    fallbackReasons: [...reasons],
    skipReasons: [...skips],
  };
}

const res =
  values.merge !== undefined
    ? mergeResults(values.merge.split(",").map((f) => JSON.parse(readFileSync(f, "utf8")) as Results))
    : await runShare();
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(res));
const { rows, failures, files } = res;
const fallbackReasons = new Map(res.fallbackReasons);
const seconds = res.seconds;

const total: Row = { cases: 0, pass: 0, fail: 0, skip: 0, fellBack: 0 };
const lines: string[] = [];
lines.push(
  "| folder | cases | pass | fail | skipped | fell back to runTx |",
  "|---|---:|---:|---:|---:|---:|",
);
for (const [folder, r] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
  if (r.cases === 0) continue;
  lines.push(`| ${folder} | ${r.cases} | ${r.pass} | ${r.fail} | ${r.skip} | ${r.fellBack} |`);
  total.cases += r.cases;
  total.pass += r.pass;
  total.fail += r.fail;
  total.skip += r.skip;
  total.fellBack += r.fellBack;
}
lines.push(
  `| **total** | **${total.cases}** | **${total.pass}** | **${total.fail}** | **${total.skip}** | **${total.fellBack}** |`,
);
const table = lines.join("\n");
process.stdout.write(`${table}\n\n${files} files, ${seconds.toFixed(0)} s, engine ${res.engine}\n`);
const regressions = failures.filter((f) => f.reference === "pass");

if (values.out !== undefined) {
  const md = [
    "# Ethereum state tests",
    "",
    `\`pnpm test:state --out STATE-TESTS.md\` (engine \`${res.engine}\`${res.compileAfter === undefined ? "" : `, \`--compile-after ${res.compileAfter}\``}): every case of`,
    "`../shared/ethereum-tests/GeneralStateTests` with Cancun expectations, run through the `Executor`",
    "(pre-state into a `MemoryState`, the post entry's `txbytes` executed, the post-state root from the",
    "project's `StateTrie` and the logs hash compared). A case counts as *fell back* when the fast engine",
    "handed its transaction to `runTx` (the case is still judged on the result). *Skipped*: cases neither",
    "engine can run here (below).",
    "",
    `Run of ${new Date().toISOString().slice(0, 10)}${res.commit === undefined ? "" : ` at \`${res.commit}\``}: ${files} files, ${seconds.toFixed(0)} s of run time in total (one core per share, on a shared machine).`,
    "",
    table,
    "",
    "## Why transactions fell back",
    "",
    "| reason | cases |",
    "|---|---:|",
    ...[...fallbackReasons].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `| ${reason} | ${n} |`),
    "",
    "## Why cases were skipped",
    "",
    "| reason | cases |",
    "|---|---:|",
    ...res.skipReasons.sort((a, b) => b[1] - a[1]).map(([reason, n]) => `| ${reason} | ${n} |`),
    "",
    "## Failures",
    "",
    failures.length === 0
      ? "None."
      : [
          "| case | reason | reference engine |",
          "|---|---|---|",
          ...failures.map((f) => `| ${f.r.id} | ${f.r.reason ?? ""} | ${f.reference} |`),
        ].join("\n"),
    "",
  ].join("\n");
  writeFileSync(values.out, md);
}
if (regressions.length > 0) {
  process.stderr.write(
    `${regressions.length} case(s) fail on the fast engine but pass on the reference engine\n`,
  );
  process.exit(1);
}
