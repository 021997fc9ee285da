import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { DAEMON_BINARIES } from "../src/daemons.ts";

/**
 * The README's flag tables against what each program's real `--help` prints: every flag in one is
 * in the other, and where `--help` shows a default the table states the same one. `--config` and
 * `--help` belong to every program and are described once in prose, so a table may leave them out.
 */

const REPO_ROOT = join(import.meta.dirname, "..", "..", "..");
const README = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
const run = promisify(execFile);

/**
 * No default: `(required)` in `--help`, `—` in the table. `--help` prints an empty list as
 * `(default: none)`, which the table may write as `—` too (an enum's value `none` reads the same).
 */
const NONE = Symbol("none");
type Default = string | typeof NONE | undefined;

/**
 * Defaults that depend on the machine: the table names them in words, `--help` prints this
 * machine's figure.
 */
const MACHINE_DEFAULTS: Record<string, () => string> = {
  "the number of cores": () => String(availableParallelism()),
};
const GENERIC_FLAGS = new Set(["config", "help"]);

interface Program {
  name: string;
  bin: string;
  /** Finds the first line of the program's flag table in the README (the table follows it). */
  table: (line: string) => boolean;
}

const heading = (program: string) => (line: string) => new RegExp(`^#+ \`${program}\` flags$`).test(line);
const PROGRAMS: Program[] = [
  { name: "staccato-sequencer", bin: DAEMON_BINARIES.sequencer, table: heading("staccato-sequencer") },
  { name: "staccato-fullnode", bin: DAEMON_BINARIES.fullnode, table: heading("staccato-fullnode") },
  { name: "staccato-prover", bin: DAEMON_BINARIES.prover, table: heading("staccato-prover") },
  {
    name: "staccato-devnet",
    bin: join(REPO_ROOT, "packages", "devnet", "bin", "staccato-devnet.js"),
    table: (line) => line.includes("(`pnpm devnet --help`)"),
  },
];

/** Flag name (long, without dashes or `[no-]`) → the default `--help` prints, if any. */
function parseHelp(text: string): Map<string, Default> {
  const entries: { name: string; text: string }[] = [];
  for (const line of text.split("\n")) {
    const flag = /^ {2}(?:-[a-zA-Z], | {4})--(?:\[no-\])?([a-z0-9][a-z0-9-]*)(.*)$/.exec(line);
    if (flag) entries.push({ name: flag[1], text: flag[2] });
    else if (/^ {6,}\S/.test(line) && entries.length > 0) entries[entries.length - 1].text += ` ${line}`;
    else if (line.trim() === "" && entries.length > 0) break;
  }
  const flags = new Map<string, Default>();
  for (const { name, text } of entries) {
    const end = /\((?:default: ([^()]*)|(required))\)$/.exec(text.replace(/\s+/g, " ").trim());
    flags.set(name, end === null ? undefined : end[2] !== undefined ? NONE : end[1]);
  }
  return flags;
}

/** Flag name → the table's default cell, as written, for the table that follows the matching line. */
function parseTable(program: Program): Map<string, string> {
  const lines = README.split("\n");
  const start = lines.findIndex(program.table);
  assert.ok(start >= 0, `README has no flag table for ${program.name}`);
  let i = start + 1;
  while (i < lines.length && !lines[i].startsWith("|")) {
    assert.ok(!lines[i].startsWith("#"), `README: no table under the ${program.name} flags heading`);
    i++;
  }
  const rows = new Map<string, string>();
  for (; i < lines.length && lines[i].startsWith("|"); i++) {
    const cells = lines[i].split(/(?<!\\)\|/).map((c) => c.trim());
    if (cells[1] === "flag" || /^-+$/.test(cells[1])) continue;
    const names = new Set([...cells[1].matchAll(/`--(?:\[no-\])?([a-z0-9][a-z0-9-]*)/g)].map((m) => m[1]));
    for (const n of names) if (n.startsWith("no-") && names.has(n.slice(3))) names.delete(n);
    assert.equal(names.size, 1, `README, ${program.name} table: one flag per row, got "${cells[1]}"`);
    const [name] = names;
    assert.ok(!rows.has(name), `README, ${program.name} table: --${name} appears twice`);
    rows.set(name, cells[2]);
  }
  return rows;
}

/** A table cell as a value: backticks dropped, a trailing "(…)" remark dropped, on/off as booleans. */
function tableValue(cell: string, helpDefault: string): Default {
  const text = cell.replaceAll("`", "").trim();
  if (text === "" || text.startsWith("—")) return NONE;
  const value = text.replace(/\s+\(.*\)$/, "");
  if (helpDefault === "true" || helpDefault === "false") {
    if (value === "on") return "true";
    if (value === "off") return "false";
  }
  return MACHINE_DEFAULTS[value]?.() ?? value;
}

describe("README / flag tables match --help", () => {
  for (const program of PROGRAMS) {
    it(`${program.name}: the same flags, and the defaults --help shows`, async () => {
      const { stdout } = await run(process.execPath, [program.bin, "--help"], { cwd: REPO_ROOT });
      const help = parseHelp(stdout);
      assert.ok(help.size > 5 && help.has("help"), `could not read the flags of ${program.name} --help`);
      const table = parseTable(program);

      const problems: string[] = [];
      for (const flag of help.keys())
        if (!table.has(flag) && !GENERIC_FLAGS.has(flag)) problems.push(`--${flag}: not in the README table`);
      for (const [flag, cell] of table) {
        if (!help.has(flag)) {
          problems.push(`--${flag}: in the README table, not in --help`);
          continue;
        }
        const expected = help.get(flag);
        if (expected === undefined) continue; // no fixed default: the table may describe it in words
        const stated = tableValue(cell, expected === NONE ? "" : expected);
        if (stated !== expected && !(stated === NONE && expected === "none")) {
          const shown = expected === NONE ? "required (— in the table)" : expected;
          problems.push(`--${flag}: README default "${cell}", --help ${shown}`);
        }
      }
      assert.deepEqual(problems, [], `README's ${program.name} table disagrees with --help`);
    });
  }
});
