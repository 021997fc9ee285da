import { readFileSync } from "node:fs";
import type { z } from "zod";
import { ErrorCode, StaccatoError } from "../errors.ts";

/**
 * Daemon configuration from flags, `STACCATO_*` env vars and a JSON config file, validated by zod.
 * Precedence: command line > env var > config file (`--config <path>`) > schema default.
 *
 * Flags declare a plain schema of the type the daemon wants (`z.number().int().min(1).default(10)`);
 * strings from argv and env are coerced here to the schema's base type (number, bigint, boolean,
 * comma-separated list) before zod validates them, so no `z.coerce` is needed.
 */

/** One option. Its key in the spec record is the camelCase name; the flag is its kebab-case form. */
export interface FlagSpec<S extends z.ZodType = z.ZodType> {
  /** Validates and types the value. Put the default here with `.default()`. */
  schema: S;
  description: string;
  /** Env var name; defaults to `STACCATO_<UPPER_SNAKE_NAME>`. */
  env?: string;
  /** One letter (`"p"` → `-p`) or another long name (`"rpc"` → `--rpc`). */
  alias?: string;
  /** Shown after the flag in help, e.g. `"<ms>"`; derived from the schema when omitted. */
  placeholder?: string;
  /** Never echo the value in errors nor the default in help (keys, tokens). */
  secret?: boolean;
}

export type CliSpec = Readonly<Record<string, FlagSpec>>;
export type CliOptions<T extends CliSpec> = { -readonly [K in keyof T]: z.output<T[K]["schema"]> };
export type FlagSource = "flag" | "env" | "config" | "default";
export interface CliMeta {
  program: string;
  summary: string;
}
export type CliResult<T extends CliSpec> =
  | { kind: "ok"; options: CliOptions<T>; sources: { [K in keyof T]: FlagSource } }
  | { kind: "help"; text: string }
  | { kind: "error"; message: string };

/** Identity, for declaring a spec in its own module with its types checked at the declaration. */
export function defineFlags<T extends CliSpec>(spec: T): T {
  return spec;
}

export const ENV_PREFIX = "STACCATO_";
export const CONFIG_ENV = `${ENV_PREFIX}CONFIG`;
const HELP_WIDTH = 100;

// ---- schema introspection (zod v4 definitions) ----

type Schema = z.core.$ZodType;
interface CheckDef {
  check: string;
  value?: unknown;
  inclusive?: boolean;
  format?: string;
}
interface LooseDef {
  type: string;
  innerType?: Schema;
  in?: Schema;
  element?: Schema;
  entries?: Record<string, string | number>;
  values?: unknown[];
  format?: string;
  checks?: { _zod: { def: CheckDef } }[];
  defaultValue?: unknown;
}
const WRAPPERS = new Set(["default", "prefault", "optional", "nullable", "readonly", "catch", "nonoptional"]);
const INT_FORMATS = new Set(["safeint", "int32", "uint32", "int64", "uint64"]);

function defOf(s: Schema): LooseDef {
  return s._zod.def as unknown as LooseDef;
}

/** The schema values are coerced to: inside defaults, optionals and the input side of pipes. */
function baseOf(s: Schema): Schema {
  for (;;) {
    const d = defOf(s);
    if (WRAPPERS.has(d.type) && d.innerType) s = d.innerType;
    else if (d.type === "pipe" && d.in) s = d.in;
    else return s;
  }
}

function typeOf(s: Schema): string {
  return defOf(baseOf(s)).type;
}

function defaultValueOf(s: Schema): unknown {
  for (let d = defOf(s); ; ) {
    if (d.type === "default" || d.type === "prefault") return d.defaultValue;
    const next = WRAPPERS.has(d.type) ? d.innerType : d.type === "pipe" ? d.in : undefined;
    if (!next) return undefined;
    d = defOf(next);
  }
}

function fromString(s: Schema, raw: string): unknown {
  const t = typeOf(s);
  const v = raw.trim();
  if (t === "boolean") return /^(true|1)$/i.test(v) ? true : /^(false|0)$/i.test(v) ? false : raw;
  if (t === "number") return v !== "" && !Number.isNaN(Number(v)) ? Number(v) : raw;
  if (t === "bigint") return toBigInt(v) ?? raw;
  return raw;
}

/** argv (possibly repeated) or env strings → schema input. Lists accumulate and split on commas. */
function fromStrings(s: Schema, raws: string[]): unknown {
  const d = defOf(baseOf(s));
  if (d.type === "array" && d.element) {
    const el = d.element;
    const items = raws.flatMap((r) => r.split(",").map((x) => x.trim()));
    return items.filter((x) => x !== "").map((x) => fromString(el, x));
  }
  return fromString(s, raws[raws.length - 1]);
}

/** JSON has no bigint: accept integers and numeric strings for bigint options. */
function fromJson(s: Schema, value: unknown): unknown {
  if (typeOf(s) !== "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  return typeof value === "string" ? (toBigInt(value.trim()) ?? value) : value;
}

function toBigInt(v: string): bigint | undefined {
  try {
    return v === "" ? undefined : BigInt(v);
  } catch {
    return undefined;
  }
}

/** What a value must look like, for the kinds where zod's own message is less clear. */
function describe(s: Schema): string | undefined {
  const d = defOf(baseOf(s));
  switch (d.type) {
    case "boolean":
      return "true, false, 1 or 0";
    case "string":
      return "a string";
    case "array":
      return "a list";
    case "enum":
      return oneOf(Object.values(d.entries ?? {}));
    case "literal":
      return oneOf(d.values ?? []);
    case "number":
    case "bigint":
      return describeNumber(d);
    default:
      return undefined;
  }
}

function oneOf(values: unknown[]): string {
  return values.length === 1 ? String(values[0]) : `one of ${values.map(String).join(", ")}`;
}

function describeNumber(d: LooseDef): string {
  let int = d.type === "bigint" || INT_FORMATS.has(d.format ?? "");
  let lower: CheckDef | undefined;
  let upper: CheckDef | undefined;
  let multipleOf: unknown;
  for (const { _zod } of d.checks ?? []) {
    const c = _zod.def;
    if (c.check === "number_format" && INT_FORMATS.has(c.format ?? "")) int = true;
    else if (c.check === "greater_than") lower = c;
    else if (c.check === "less_than") upper = c;
    else if (c.check === "multiple_of") multipleOf = c.value;
  }
  let text = int ? "an integer" : "a number";
  if (lower?.inclusive && upper?.inclusive) text += ` between ${lower.value} and ${upper.value}`;
  else {
    const bounds = [];
    if (lower) bounds.push(`${lower.inclusive ? ">=" : ">"} ${lower.value}`);
    if (upper) bounds.push(`${upper.inclusive ? "<=" : "<"} ${upper.value}`);
    if (bounds.length > 0) text += ` ${bounds.join(" and ")}`;
  }
  return multipleOf === undefined ? text : `${text}, a multiple of ${multipleOf}`;
}

const DESCRIBED_ISSUES = new Set([
  "invalid_type",
  "too_small",
  "too_big",
  "not_multiple_of",
  "invalid_value",
]);

function explain(flag: Flag, input: unknown, issue: z.core.$ZodIssue): string {
  let s: Schema = flag.spec.schema;
  let value = input;
  let item = "";
  for (const p of issue.path) {
    const d = defOf(baseOf(s));
    if (d.type !== "array" || !d.element || typeof p !== "number" || !Array.isArray(value)) break;
    s = d.element;
    value = value[p];
    item = `item ${p + 1}: `;
  }
  const desc = describe(s);
  const useDesc =
    desc && DESCRIBED_ISSUES.has(issue.code) && (typeOf(s) !== "string" || issue.code === "invalid_type");
  const what = useDesc ? `expected ${desc}` : issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
  return flag.spec.secret ? item + what : `${item}${what}, got ${show(value)}`;
}

function show(v: unknown): string {
  const text = typeof v === "bigint" ? `${v}` : (JSON.stringify(v) ?? String(v));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

// ---- names ----

interface Flag {
  key: string;
  long: string;
  env: string;
  short?: string;
  longAlias?: string;
  spec: FlagSpec;
}

export function toKebab(camel: string): string {
  return camel
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1-$2")
    .toLowerCase();
}

export function envVarName(key: string, flag?: Pick<FlagSpec, "env">): string {
  return flag?.env ?? ENV_PREFIX + toKebab(key).replaceAll("-", "_").toUpperCase();
}

/** Throws on programmer errors in the spec (reserved or clashing names). */
function compile(spec: CliSpec): Flag[] {
  const taken = new Set(["config", "help", "h"]);
  const claim = (name: string, key: string) => {
    if (taken.has(name)) throw new Error(`cli spec: ${key}: name "${name}" is reserved or already used`);
    taken.add(name);
  };
  return Object.entries(spec).map(([key, s]) => {
    if (!/^[a-z][a-zA-Z0-9]*$/.test(key)) throw new Error(`cli spec: "${key}" is not a camelCase name`);
    const flag: Flag = { key, long: toKebab(key), env: envVarName(key, s), spec: s };
    claim(flag.long, key);
    if (s.alias !== undefined) {
      claim(s.alias, key);
      if (s.alias.length === 1) flag.short = s.alias;
      else flag.longAlias = s.alias;
    }
    return flag;
  });
}

// ---- parsing ----

interface Given {
  source: "flag" | "env" | "config";
  /** How the user spelled it, for errors: `--rpc-port`, `STACCATO_RPC_PORT`, `"rpcPort" in config file x`. */
  where: string;
  /** Strings from argv (repeatable) or env, or one JSON value from the config file. */
  raws?: string[];
  json?: unknown;
}

class CliError extends StaccatoError {
  constructor(message: string) {
    super(ErrorCode.Cli, message, undefined);
  }
}

export function parseCli<T extends CliSpec>(
  spec: T,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  meta: CliMeta,
): CliResult<T> {
  const flags = compile(spec);
  const end = argv.indexOf("--");
  if ((end < 0 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h")) {
    return { kind: "help", text: formatHelp(spec, meta) };
  }
  try {
    const { given, configPath } = readArgv(flags, argv);
    const path = configPath ?? (env[CONFIG_ENV] || undefined);
    const config = path === undefined ? new Map<string, Given>() : readConfig(flags, path);
    const options: Record<string, unknown> = {};
    const sources: Record<string, FlagSource> = {};
    for (const flag of flags) {
      const fromEnv = env[flag.env];
      const g: Given | undefined =
        given.get(flag.key) ??
        (fromEnv ? { source: "env", where: flag.env, raws: [fromEnv] } : config.get(flag.key));
      const schema = flag.spec.schema;
      const input =
        g === undefined ? undefined : g.raws ? fromStrings(schema, g.raws) : fromJson(schema, g.json);
      const result = safeParse(schema, input);
      if (!result.success) {
        if (g === undefined) {
          throw new CliError(`missing required option --${flag.long} (or set ${flag.env})`);
        }
        throw new CliError(`invalid value for ${g.where}: ${explain(flag, input, result.issue)}`);
      }
      options[flag.key] = result.data;
      sources[flag.key] = g?.source ?? "default";
    }
    return {
      kind: "ok",
      options: options as CliOptions<T>,
      sources: sources as { [K in keyof T]: FlagSource },
    };
  } catch (err) {
    if (err instanceof CliError) return { kind: "error", message: err.message };
    throw err;
  }
}

function safeParse(
  schema: z.ZodType,
  input: unknown,
): { success: true; data: unknown } | { success: false; issue: z.core.$ZodIssue } {
  try {
    const r = schema.safeParse(input);
    return r.success ? r : { success: false, issue: r.error.issues[0] };
  } catch (err) {
    // a throwing transform: report it like a failed refinement
    return { success: false, issue: { code: "custom", path: [], message: oneLine(err), input } };
  }
}

function readArgv(flags: Flag[], argv: readonly string[]) {
  const byLong = new Map<string, Flag>();
  const byShort = new Map<string, Flag>();
  for (const f of flags) {
    byLong.set(f.long, f);
    if (f.longAlias) byLong.set(f.longAlias, f);
    if (f.short) byShort.set(f.short, f);
  }
  const given = new Map<string, Given>();
  let configPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      if (i + 1 < argv.length) throw new CliError(`unexpected argument ${show(argv[i + 1])} (see --help)`);
      break;
    }
    const dashes = arg.startsWith("--") ? 2 : /^-[a-zA-Z]/.test(arg) ? 1 : 0;
    if (dashes === 0) throw new CliError(`unexpected argument ${show(arg)} (see --help)`);
    const eq = arg.indexOf("=");
    const name = arg.slice(dashes, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    const spelled = arg.slice(0, dashes) + name;
    const takeValue = () => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) throw new CliError(`missing value for ${spelled}`);
      i++;
      return next;
    };

    if (dashes === 2 && name === "config") {
      configPath = takeValue();
      continue;
    }
    let flag = dashes === 2 ? byLong.get(name) : byShort.get(name);
    let raw: string | undefined;
    const negated = dashes === 2 && !flag && name.startsWith("no-") ? byLong.get(name.slice(3)) : undefined;
    if (negated && typeOf(negated.spec.schema) === "boolean") {
      if (inline !== undefined) throw new CliError(`${spelled} does not take a value`);
      flag = negated;
      raw = "false";
    }
    if (!flag) {
      const hint = suggest(name, [...byLong.keys()]);
      throw new CliError(`unknown flag ${spelled}${hint ? `, did you mean --${hint}?` : ""} (see --help)`);
    }
    raw ??= typeOf(flag.spec.schema) === "boolean" ? (inline ?? "true") : takeValue();
    const prev = given.get(flag.key);
    const raws = prev?.raws && typeOf(flag.spec.schema) === "array" ? [...prev.raws, raw] : [raw];
    given.set(flag.key, { source: "flag", where: spelled, raws });
  }
  return { given, configPath };
}

function readConfig(flags: Flag[], path: string): Map<string, Given> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read config file ${path}: ${code ?? oneLine(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(`cannot parse config file ${path}: ${oneLine(err)}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new CliError(`config file ${path}: expected a JSON object`);
  }
  const byName = new Map<string, Flag>();
  for (const f of flags) byName.set(f.key, f).set(f.long, f);
  const out = new Map<string, Given>();
  const keys = new Map<string, string>();
  for (const [key, json] of Object.entries(parsed)) {
    const flag = byName.get(key);
    if (!flag) {
      const hint = suggest(
        toKebab(key),
        flags.map((f) => f.long),
      );
      throw new CliError(
        `unknown key ${show(key)} in config file ${path}${hint ? `, did you mean "${hint}"?` : ""}`,
      );
    }
    const prev = keys.get(flag.key);
    if (prev !== undefined) {
      throw new CliError(`config file ${path}: ${show(prev)} and ${show(key)} set the same option`);
    }
    keys.set(flag.key, key);
    out.set(flag.key, { source: "config", where: `${show(key)} in config file ${path}`, json });
  }
  return out;
}

/** The closest candidate within a small edit distance, for "did you mean". */
function suggest(name: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.min(3, Math.floor(name.length / 3) + 1);
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDist) [best, bestDist] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

function oneLine(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && parts.length < 4; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? e.message : String(e));
    if (!(e instanceof Error)) break;
  }
  return parts.join(": ").replace(/\s*\n\s*/g, " ");
}

// ---- help ----

export function formatHelp(spec: CliSpec, meta: CliMeta): string {
  const rows = compile(spec).map((f) => {
    const boolean = typeOf(f.spec.schema) === "boolean";
    const name = boolean && defaultValueOf(f.spec.schema) === true ? `--[no-]${f.long}` : `--${f.long}`;
    const placeholder = boolean ? "" : ` ${f.spec.placeholder ?? placeholderOf(f.spec.schema)}`;
    const notes = [`[env ${f.env}]`];
    if (f.longAlias) notes.unshift(`(alias --${f.longAlias})`);
    const dflt = defaultText(f);
    return {
      left: `${f.short ? `-${f.short}, ` : "    "}${name}${placeholder}`,
      desc: f.spec.description,
      notes,
      dflt,
    };
  });
  rows.push(
    {
      left: "    --config <path>",
      desc: "JSON config file, keys in kebab-case or camelCase",
      notes: [`[env ${CONFIG_ENV}]`],
      dflt: "",
    },
    { left: "-h, --help", desc: "Show this help and exit", notes: [], dflt: "" },
  );
  const col = Math.min(Math.max(...rows.map((r) => r.left.length)), 40) + 4;
  const lines = [`${meta.program}: ${meta.summary}`, "", `Usage: ${meta.program} [options]`, "", "Options:"];
  for (const r of rows) {
    const tokens = [...r.desc.split(/\s+/).map((w) => [" ", w]), ...r.notes.map((n) => ["  ", n])];
    if (r.dflt) tokens.push([" ", r.dflt]);
    const wrapped = wrap(tokens, HELP_WIDTH - col);
    let first = `  ${r.left}`;
    if (first.length + 2 > col) {
      lines.push(first);
      first = "";
    }
    lines.push(first.padEnd(col) + wrapped[0], ...wrapped.slice(1).map((l) => " ".repeat(col) + l));
  }
  lines.push("");
  const footer =
    "Every flag can also be set through its env var or in the config file. Precedence: flag > env var >" +
    " config file > default. Boolean flags take --flag, --flag=false or --no-flag; lists are comma-separated.";
  lines.push(
    ...wrap(
      footer.split(" ").map((w) => [" ", w]),
      HELP_WIDTH,
    ),
  );
  return `${lines.join("\n")}\n`;
}

function placeholderOf(s: Schema): string {
  const d = defOf(baseOf(s));
  if (d.type === "number" || d.type === "bigint") return "<n>";
  if (d.type === "array") return "<list>";
  if (d.type === "enum") {
    const alts = Object.values(d.entries ?? {}).join("|");
    return alts.length <= 24 ? `<${alts}>` : "<value>";
  }
  return "<value>";
}

function defaultText(f: Flag): string {
  if (f.spec.secret) return "";
  const r = safeParse(f.spec.schema, undefined);
  if (!r.success) return "(required)";
  const v = defaultValueOf(f.spec.schema) ?? r.data;
  if (v === undefined) return "";
  if (Array.isArray(v)) return `(default: ${v.length === 0 ? "none" : v.join(",")})`;
  if (typeof v === "string") return `(default: ${v === "" ? '""' : v})`;
  return `(default: ${show(v)})`;
}

/** Greedy word wrap; each token is [separator before it, unbreakable text]. */
function wrap(tokens: string[][], width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const [sep, text] of tokens) {
    if (text === "") continue;
    if (line === "") line = text;
    else if (line.length + sep.length + text.length <= width) line += sep + text;
    else {
      lines.push(line);
      line = text;
    }
  }
  lines.push(line);
  return lines;
}

// ---- entry points ----

export interface CliIo {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  stdout: (text: string) => void | Promise<void>;
  stderr: (text: string) => void | Promise<void>;
  exit: (code: number) => void;
}

const write = (stream: NodeJS.WriteStream) => (text: string) =>
  new Promise<void>((resolve) => stream.write(text, () => resolve()));

/**
 * For a daemon's `cli.ts`: parse `process.argv`/`process.env`; help → stdout, exit 0; usage error →
 * `<program>: <message>` on stderr, exit 2; else `main(options)`. A throw from main → one line, exit 1.
 * Once main resolves the daemon owns the process (signals, shutdown).
 */
export async function runCli<T extends CliSpec>(
  spec: T,
  meta: CliMeta,
  main: (options: CliOptions<T>) => void | Promise<void>,
  io: Partial<CliIo> = {},
): Promise<void> {
  const { argv = process.argv.slice(2), env = process.env, exit = (code: number) => process.exit(code) } = io;
  const stdout = io.stdout ?? write(process.stdout);
  const stderr = io.stderr ?? write(process.stderr);
  const result = parseCli(spec, argv, env, meta);
  if (result.kind === "help") {
    await stdout(result.text);
    return exit(0);
  }
  if (result.kind === "error") {
    await stderr(`${meta.program}: ${result.message}\n`);
    return exit(2);
  }
  try {
    await main(result.options);
  } catch (err) {
    await stderr(`${meta.program}: ${oneLine(err)}\n`);
    exit(1);
  }
}
