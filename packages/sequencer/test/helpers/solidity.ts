import { createRequire } from "node:module";
import type { Abi, Hex } from "viem";

interface Solc {
  compile(input: string): string;
  version(): string;
}

interface SolcOutput {
  errors?: { severity: "error" | "warning" | "info"; formattedMessage: string }[];
  contracts?: Record<
    string,
    Record<string, { abi: Abi; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>
  >;
}

export interface CompiledContract {
  abi: Abi;
  /** Creation code. */
  bytecode: Hex;
  /** Runtime code, as eth_getCode returns it after deployment. */
  deployedBytecode: Hex;
}

const requireCjs = createRequire(import.meta.url);
let solc: Solc | null = null;

/**
 * Compiles Solidity sources with the `solc` npm package (standard JSON input, optimizer on) and
 * returns every contract by name. Throws with solc's messages if anything fails to compile.
 */
export function compileSolidity(sources: Record<string, string>): Record<string, CompiledContract> {
  solc ??= requireCjs("solc") as Solc;
  const input = {
    language: "Solidity",
    sources: Object.fromEntries(Object.entries(sources).map(([name, content]) => [name, { content }])),
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "prague",
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0)
    throw new Error(`solc ${solc.version()}:\n${errors.map((e) => e.formattedMessage).join("\n")}`);
  const result: Record<string, CompiledContract> = {};
  for (const file of Object.values(out.contracts ?? {})) {
    for (const [name, c] of Object.entries(file)) {
      result[name] = {
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
      };
    }
  }
  return result;
}
