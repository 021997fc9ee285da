import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { z } from "zod";
import {
  type CliOptions,
  type CliResult,
  defineFlags,
  formatHelp,
  parseCli,
  runCli,
} from "../../src/config/cli.ts";

const spec = defineFlags({
  miniBlockMs: {
    schema: z.number().int().min(1).default(10),
    description: "Mini-block interval",
    placeholder: "<ms>",
  },
  rpcPort: {
    schema: z.number().int().min(0).max(65535).default(8545),
    description: "JSON-RPC port",
    alias: "p",
  },
  rpcHost: { schema: z.string().default("127.0.0.1"), description: "JSON-RPC listen address" },
  dev: { schema: z.boolean().default(false), description: "Dev mode" },
  p2p: { schema: z.boolean().default(true), description: "Enable libp2p networking" },
  bootnodes: { schema: z.array(z.string()).default([]), description: "Peers to dial at startup" },
  logLevel: { schema: z.enum(["debug", "info", "warn"]).default("info"), description: "Log level" },
  gasLimit: { schema: z.bigint().min(1n).default(30_000_000n), description: "Block gas limit" },
  l1RpcUrl: { schema: z.url().optional(), description: "L1 JSON-RPC endpoint", env: "L1_RPC_URL" },
  sequencerKey: {
    schema: z
      .string()
      .regex(/^0x[0-9a-f]{64}$/, "must be a 0x-prefixed 32-byte hex key")
      .optional(),
    description: "Signing key",
    secret: true,
  },
});
const meta = { program: "staccato-test", summary: "A daemon under test" };

const dir = mkdtempSync(join(tmpdir(), "staccato-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function configFile(content: unknown): string {
  const path = join(dir, `config-${files++}.json`);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

function ok(argv: string[], env: Record<string, string> = {}) {
  const r = parseCli(spec, argv, env, meta);
  assert.equal(r.kind, "ok", r.kind === "error" ? r.message : r.kind);
  return r as Extract<CliResult<typeof spec>, { kind: "ok" }>;
}
function error(argv: string[], env: Record<string, string> = {}): string {
  const r = parseCli(spec, argv, env, meta);
  assert.equal(r.kind, "error");
  return (r as { message: string }).message;
}

// compile-time: options are typed precisely from the spec
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
type Options = CliOptions<typeof spec>;
const typeChecks: [
  Equal<Options["miniBlockMs"], number>,
  Equal<Options["dev"], boolean>,
  Equal<Options["bootnodes"], string[]>,
  Equal<Options["logLevel"], "debug" | "info" | "warn">,
  Equal<Options["gasLimit"], bigint>,
  Equal<Options["l1RpcUrl"], string | undefined>,
] = [true, true, true, true, true, true];
// @ts-expect-error not a declared option
type _Unknown = Options["nope"];

describe("config/cli / precedence", () => {
  const path = configFile({ "mini-block-ms": 30, rpcPort: 3003, "rpc-host": "0.0.0.0" });

  it("uses schema defaults with no other source", () => {
    const r = ok([]);
    assert.deepEqual(r.options, {
      miniBlockMs: 10,
      rpcPort: 8545,
      rpcHost: "127.0.0.1",
      dev: false,
      p2p: true,
      bootnodes: [],
      logLevel: "info",
      gasLimit: 30_000_000n,
      l1RpcUrl: undefined,
      sequencerKey: undefined,
    });
    assert.equal(r.sources.miniBlockMs, "default");
    assert.equal(typeChecks.length, 6);
  });

  it("flag > env var > config file > default", () => {
    const env = { STACCATO_MINI_BLOCK_MS: "20", STACCATO_RPC_PORT: "2002" };
    const r = ok(["--config", path, "--mini-block-ms", "5"], env);
    assert.equal(r.options.miniBlockMs, 5);
    assert.equal(r.options.rpcPort, 2002);
    assert.equal(r.options.rpcHost, "0.0.0.0");
    assert.equal(r.options.logLevel, "info");
    assert.deepEqual(
      [r.sources.miniBlockMs, r.sources.rpcPort, r.sources.rpcHost, r.sources.logLevel],
      ["flag", "env", "config", "default"],
    );
  });

  it("takes the config path from STACCATO_CONFIG, and --config over it", () => {
    assert.equal(ok([], { STACCATO_CONFIG: path }).options.rpcPort, 3003);
    const other = configFile({ rpcPort: 4004 });
    assert.equal(ok(["--config", other], { STACCATO_CONFIG: path }).options.rpcPort, 4004);
  });

  it("treats an empty env var as unset", () => {
    assert.equal(ok([], { STACCATO_MINI_BLOCK_MS: "" }).options.miniBlockMs, 10);
  });

  it("honours an env name override", () => {
    assert.equal(ok([], { L1_RPC_URL: "http://l1:8545" }).options.l1RpcUrl, "http://l1:8545");
    assert.equal(ok([], { STACCATO_L1_RPC_URL: "http://l1:8545" }).options.l1RpcUrl, undefined);
  });
});

describe("config/cli / flag syntax", () => {
  it("accepts --flag value, --flag=value and a short alias", () => {
    assert.equal(ok(["--mini-block-ms", "7"]).options.miniBlockMs, 7);
    assert.equal(ok(["--mini-block-ms=7"]).options.miniBlockMs, 7);
    assert.equal(ok(["-p", "9"]).options.rpcPort, 9);
    assert.equal(ok(["-p=9"]).options.rpcPort, 9);
    assert.equal(ok(["--rpc-host="]).options.rpcHost, "");
  });

  it("lets the last occurrence of a scalar flag win", () => {
    assert.equal(ok(["--rpc-port", "1", "--rpc-port", "2"]).options.rpcPort, 2);
  });

  it("parses booleans: --dev, --dev=false, --no-dev, env true/false/1/0", () => {
    assert.equal(ok(["--dev"]).options.dev, true);
    assert.equal(ok(["--dev=false"]).options.dev, false);
    assert.equal(ok(["--dev=1"]).options.dev, true);
    assert.equal(ok(["--no-p2p"]).options.p2p, false);
    assert.equal(ok(["--no-dev"], { STACCATO_DEV: "true" }).options.dev, false);
    for (const [value, expected] of [
      ["true", true],
      ["TRUE", true],
      ["1", true],
      ["false", false],
      ["0", false],
    ] as const) {
      assert.equal(ok([], { STACCATO_DEV: value }).options.dev, expected, value);
    }
  });

  it("does not let a boolean flag swallow the next argument", () => {
    assert.equal(error(["--dev", "false"]), 'unexpected argument "false" (see --help)');
  });

  it("accumulates lists from repeated flags and commas", () => {
    assert.deepEqual(ok(["--bootnodes", "a,b", "--bootnodes=c"]).options.bootnodes, ["a", "b", "c"]);
    assert.deepEqual(ok([], { STACCATO_BOOTNODES: "x, y" }).options.bootnodes, ["x", "y"]);
  });

  it("coerces bigints from decimal and hex strings, and config numbers", () => {
    assert.equal(ok(["--gas-limit", "0x10"]).options.gasLimit, 16n);
    assert.equal(
      ok([], { STACCATO_GAS_LIMIT: "123456789012345678901234567890" }).options.gasLimit,
      123456789012345678901234567890n,
    );
    assert.equal(ok(["--config", configFile({ gasLimit: 5 })]).options.gasLimit, 5n);
    assert.equal(ok(["--config", configFile({ gasLimit: "7" })]).options.gasLimit, 7n);
  });

  it("reads camelCase and kebab-case config keys with JSON types", () => {
    const path = configFile({ dev: true, "log-level": "debug", bootnodes: ["n1"], miniBlockMs: 2 });
    const { options } = ok(["--config", path]);
    assert.deepEqual(
      [options.dev, options.logLevel, options.bootnodes, options.miniBlockMs],
      [true, "debug", ["n1"], 2],
    );
  });
});

describe("config/cli / errors", () => {
  const cases: [string, string[], Record<string, string>, string][] = [
    [
      "bad number",
      ["--mini-block-ms", "abc"],
      {},
      'invalid value for --mini-block-ms: expected an integer >= 1, got "abc"',
    ],
    [
      "out of range",
      ["-p", "70000"],
      {},
      "invalid value for -p: expected an integer between 0 and 65535, got 70000",
    ],
    [
      "not an integer",
      ["--gas-limit=1.5"],
      {},
      'invalid value for --gas-limit: expected an integer >= 1, got "1.5"',
    ],
    [
      "bad number from env",
      [],
      { STACCATO_RPC_PORT: "x" },
      'invalid value for STACCATO_RPC_PORT: expected an integer between 0 and 65535, got "x"',
    ],
    [
      "bad boolean",
      ["--dev=maybe"],
      {},
      'invalid value for --dev: expected true, false, 1 or 0, got "maybe"',
    ],
    [
      "bad boolean from env",
      [],
      { STACCATO_DEV: "yes" },
      'invalid value for STACCATO_DEV: expected true, false, 1 or 0, got "yes"',
    ],
    [
      "bad enum",
      ["--log-level", "loud"],
      {},
      'invalid value for --log-level: expected one of debug, info, warn, got "loud"',
    ],
    [
      "zod message for strings",
      ["--l1-rpc-url", "nope"],
      {},
      'invalid value for --l1-rpc-url: invalid URL, got "nope"',
    ],
    [
      "secret not echoed",
      ["--sequencer-key", "0x12"],
      {},
      "invalid value for --sequencer-key: must be a 0x-prefixed 32-byte hex key",
    ],
    ["unknown flag", ["--foo"], {}, "unknown flag --foo (see --help)"],
    ["unknown short flag", ["-x"], {}, "unknown flag -x (see --help)"],
    [
      "typo",
      ["--mini-blok-ms", "3"],
      {},
      "unknown flag --mini-blok-ms, did you mean --mini-block-ms? (see --help)",
    ],
    ["--no- on a non-boolean", ["--no-rpc-port"], {}, "unknown flag --no-rpc-port (see --help)"],
    ["--no- with a value", ["--no-dev=true"], {}, "--no-dev does not take a value"],
    ["missing value at the end", ["--rpc-port"], {}, "missing value for --rpc-port"],
    ["missing value before a flag", ["--rpc-port", "--dev"], {}, "missing value for --rpc-port"],
    ["missing config path", ["--config"], {}, "missing value for --config"],
    ["positional", ["serve"], {}, 'unexpected argument "serve" (see --help)'],
    ["after --", ["--", "x"], {}, 'unexpected argument "x" (see --help)'],
    [
      "unreadable config",
      ["--config", "/nonexistent/staccato.json"],
      {},
      "cannot read config file /nonexistent/staccato.json: ENOENT",
    ],
  ];
  for (const [name, argv, env, message] of cases) {
    it(name, () => assert.equal(error(argv, env), message));
  }

  it("reports bad config files", () => {
    const broken = configFile("{ not json");
    assert.match(error(["--config", broken]), new RegExp(`^cannot parse config file ${broken}: .+`));
    const array = configFile([1]);
    assert.equal(error(["--config", array]), `config file ${array}: expected a JSON object`);
  });

  it("rejects unknown and duplicate config keys", () => {
    const unknown = configFile({ rpcPort: 1, "mini-blok-ms": 2 });
    assert.equal(
      error(["--config", unknown]),
      `unknown key "mini-blok-ms" in config file ${unknown}, did you mean "mini-block-ms"?`,
    );
    const other = configFile({ whatever: 1 });
    assert.equal(error(["--config", other]), `unknown key "whatever" in config file ${other}`);
    const dup = configFile({ rpcPort: 1, "rpc-port": 2 });
    assert.equal(
      error(["--config", dup]),
      `config file ${dup}: "rpcPort" and "rpc-port" set the same option`,
    );
  });

  it("names the config file when a value from it is invalid", () => {
    const path = configFile({ "mini-block-ms": "10", dev: "yes" });
    assert.equal(
      error(["--config", path]),
      `invalid value for "mini-block-ms" in config file ${path}: expected an integer >= 1, got "10"`,
    );
  });

  it("reports a value overridden by a higher source only if it wins", () => {
    assert.equal(ok(["--rpc-port", "1"], { STACCATO_RPC_PORT: "bad" }).options.rpcPort, 1);
  });

  it("reports missing required options", () => {
    const required = { rpcUrl: { schema: z.string(), description: "RPC" } };
    const r = parseCli(required, [], {}, meta);
    assert.deepEqual(r, {
      kind: "error",
      message: "missing required option --rpc-url (or set STACCATO_RPC_URL)",
    });
  });

  it("throws on a spec with reserved or clashing names", () => {
    const s = (description: string) => z.string().default(description);
    assert.throws(() => parseCli({ config: { schema: s(""), description: "" } }, [], {}, meta), /reserved/);
    assert.throws(
      () => parseCli({ a: { schema: s(""), description: "", alias: "h" } }, [], {}, meta),
      /reserved/,
    );
    assert.throws(
      () => parseCli({ "rpc-port": { schema: s(""), description: "" } }, [], {}, meta),
      /camelCase/,
    );
  });
});

describe("config/cli / help", () => {
  const text = formatHelp(spec, meta);

  it("is returned for --help and -h, even next to other errors", () => {
    for (const argv of [["--help"], ["-h"], ["--foo", "--help"]]) {
      assert.deepEqual(parseCli(spec, argv, {}, meta), { kind: "help", text });
    }
  });

  it("lists every flag with placeholder, env var and default", () => {
    assert.match(text, /^staccato-test: A daemon under test\n/);
    assert.match(text, /Usage: staccato-test \[options\]/);
    assert.match(
      text,
      / {6}--mini-block-ms <ms> +Mini-block interval {2}\[env STACCATO_MINI_BLOCK_MS\] \(default: 10\)\n/,
    );
    assert.match(
      text,
      / {2}-p, --rpc-port <n> +JSON-RPC port {2}\[env STACCATO_RPC_PORT\] \(default: 8545\)\n/,
    );
    assert.match(text, /--\[no-\]p2p +Enable libp2p networking {2}\[env STACCATO_P2P\] \(default: true\)/);
    assert.match(text, /--l1-rpc-url <value> +L1 JSON-RPC endpoint {2}\[env L1_RPC_URL\]\n/);
    assert.match(text, /--gas-limit <n> .*\(default: 30000000\)/);
    assert.match(text, /--config <path> +JSON config file[^[]*\[env STACCATO_CONFIG\]/);
    assert.match(text, /-h, --help/);
    for (const [key, flag] of Object.entries(spec)) {
      const long = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      assert.ok(text.includes(`--${long}`) || text.includes(`--[no-]${long}`), key);
      assert.ok(text.includes(flag.description), key);
    }
    assert.ok(!text.includes("(default: undefined)"));
  });

  it("aligns descriptions in one column and stays within 100 columns", () => {
    const lines = text.split("\n");
    const columns = new Set(
      lines.filter((l) => /^ {2}(-\w, | {4})--/.test(l)).map((l) => l.search(/(?<=\S {2,})\S/)),
    );
    assert.equal(columns.size, 1, [...columns].join(","));
    for (const line of lines) assert.ok(line.length <= 100, line);
  });
});

describe("config/cli / runCli", () => {
  function harness(argv: string[]) {
    const out = { stdout: "", stderr: "", code: undefined as number | undefined };
    const io = {
      argv,
      env: {},
      stdout: (t: string) => {
        out.stdout += t;
      },
      stderr: (t: string) => {
        out.stderr += t;
      },
      exit: (c: number) => {
        out.code = c;
      },
    };
    return { out, io };
  }

  it("calls main with the typed options", async () => {
    const { out, io } = harness(["--mini-block-ms", "3"]);
    let seen: number | undefined;
    await runCli(
      spec,
      meta,
      (o) => {
        seen = o.miniBlockMs;
      },
      io,
    );
    assert.equal(seen, 3);
    assert.equal(out.code, undefined);
  });

  it("prints help to stdout and exits 0", async () => {
    const { out, io } = harness(["--help"]);
    await runCli(spec, meta, () => assert.fail("main must not run"), io);
    assert.equal(out.code, 0);
    assert.equal(out.stdout, formatHelp(spec, meta));
  });

  it("prints usage errors to stderr and exits 2", async () => {
    const { out, io } = harness(["--foo"]);
    await runCli(spec, meta, () => assert.fail("main must not run"), io);
    assert.equal(out.code, 2);
    assert.equal(out.stderr, "staccato-test: unknown flag --foo (see --help)\n");
  });

  it("prints a failure of main as one line and exits 1", async () => {
    const { out, io } = harness([]);
    await runCli(
      spec,
      meta,
      async () => {
        throw new Error("cannot open database\nlocked", { cause: new Error("EAGAIN") });
      },
      io,
    );
    assert.equal(out.code, 1);
    assert.equal(out.stderr, "staccato-test: cannot open database locked: EAGAIN\n");
  });
});
