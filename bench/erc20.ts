import solc from "solc";
import { type Hex, decodeFunctionResult, encodeAbiParameters, encodeFunctionData, parseAbi } from "viem";
import { log } from "./report.ts";

/**
 * The ERC-20 the bench transfers: minimal (balances, transfer, Transfer event), compiled here
 * from source with solc's standard JSON so the bytecode never drifts from what the README says.
 */

export const TOKEN_SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

contract BenchToken {
    mapping(address => uint256) public balanceOf;
    uint256 public totalSupply;

    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor(uint256 supply) {
        balanceOf[msg.sender] = supply;
        totalSupply = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        uint256 balance = balanceOf[msg.sender];
        require(balance >= amount, "insufficient balance");
        unchecked {
            balanceOf[msg.sender] = balance - amount;
        }
        balanceOf[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }
}
`;

export const TOKEN_ABI = parseAbi([
  "function balanceOf(address) view returns (uint256)",
  "function transfer(address to, uint256 amount) returns (bool)",
]);

/** Cancun: the oldest fork with every opcode solc 0.8.30 may emit (PUSH0, MCOPY, TSTORE). */
const EVM_VERSION = "cancun";

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts?: Record<string, Record<string, { evm: { bytecode: { object: string } } }>>;
}

let compiled: Hex | null = null;

export function tokenBytecode(): Hex {
  if (compiled !== null) return compiled;
  const t0 = performance.now();
  const input = {
    language: "Solidity",
    sources: { "BenchToken.sol": { content: TOKEN_SOURCE } },
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: EVM_VERSION,
      outputSelection: { "*": { "*": ["evm.bytecode.object"] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)) as string) as SolcOutput;
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) throw new Error(`solc: ${errors.map((e) => e.formattedMessage).join("\n")}`);
  const object = out.contracts?.["BenchToken.sol"]?.["BenchToken"]?.evm.bytecode.object;
  if (!object) throw new Error("solc produced no bytecode for BenchToken");
  compiled = `0x${object}`;
  log(
    `compiled BenchToken with solc ${solc.version()} (${object.length / 2} bytes, ${(performance.now() - t0).toFixed(0)} ms)`,
  );
  return compiled;
}

export function deployData(supply: bigint): Hex {
  const args = encodeAbiParameters([{ type: "uint256" }], [supply]);
  return `${tokenBytecode()}${args.slice(2)}`;
}

/** transfer(to, amount) calldata, built by hand: it is encoded for every one of ~100k txs. */
export function transferData(to: Hex, amount: bigint): Hex {
  return `0xa9059cbb${to.slice(2).toLowerCase().padStart(64, "0")}${amount.toString(16).padStart(64, "0")}`;
}

export function balanceOfData(owner: Hex): Hex {
  return encodeFunctionData({ abi: TOKEN_ABI, functionName: "balanceOf", args: [owner] });
}

export function decodeBalance(data: Hex): bigint {
  return decodeFunctionResult({ abi: TOKEN_ABI, functionName: "balanceOf", data });
}
