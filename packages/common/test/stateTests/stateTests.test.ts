import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { relative } from "node:path";
import { describe, it } from "node:test";
import { listTestFiles, runFile, stateTestsDir } from "./stateTestRunner.ts";

/**
 * The time-bounded form of `pnpm test:state` that runs with every `npm test`: a fixed,
 * deterministic sample of Ethereum's GeneralStateTests (every STRIDE-th file of the sorted list,
 * files under SIZE_CAP bytes, so each folder is represented and the run stays near a minute on
 * two cores) through the fast engine. Every case must pass, or be skipped for needing a KZG
 * library (blob transactions, point evaluation), which neither engine has here. The full suite and
 * its table: `pnpm test:state`, STATE-TESTS.md.
 */

const STRIDE = Number(process.env.STATE_TESTS_STRIDE ?? 9);
const SIZE_CAP = 120_000;

describe("fast EVM / Ethereum state tests (sample)", () => {
  const root = stateTestsDir();
  const files = listTestFiles(root).filter((f, i) => i % STRIDE === 0 && statSync(f).size < SIZE_CAP);

  // Interpreted alone, and with all code compiled (blockCompiler.ts) from its first run.
  for (const [variant, compileAfter] of [
    ["interpreted", Number.POSITIVE_INFINITY],
    ["compiled", 0],
  ] as const)
    it(`passes every case of ${files.length} state-test files (${variant})`, async () => {
      let cases = 0;
      let skipped = 0;
      const failures: string[] = [];
      for (const f of files) {
        for (const r of await runFile(f, "fast", root, undefined, compileAfter)) {
          cases++;
          if (r.verdict === "skip") skipped++;
          else if (r.verdict === "fail") failures.push(`${r.id}: ${r.reason}`);
        }
      }
      assert.deepEqual(failures, [], `${failures.length} of ${cases} cases failed`);
      // The sample means something only if it ran a good number of cases.
      assert.ok(
        cases - skipped > 1000,
        `only ${cases - skipped} cases ran (${relative(root, files[0] ?? root)}…)`,
      );
    });
});
