import solc from "solc";
import { type Hex, decodeFunctionResult, encodeFunctionData, encodeAbiParameters, parseAbi } from "viem";
import { log } from "./report.ts";
import type { Key, SignedTx, UnsignedTx } from "./signer.ts";
import type { LoadEnv, Workload } from "./workload.ts";

/**
 * A Uniswap-V2-style swap workload: two ERC-20 tokens, a constant-product pair (V2's core:
 * packed uint112 reserves with the block timestamp, cumulative prices, liquidity shares, the 0.3%
 * fee invariant, a reentrancy lock, Mint/Swap/Sync events) and a router that pulls the input with
 * `transferFrom` and swaps in one transaction, as V2's router does. Compiled at bench start from
 * the source below with the `solc` npm package, like the ERC-20 bench token.
 */

export const SWAP_SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// An ERC-20 with approve/transferFrom; an infinite allowance is never decremented.
contract SwapToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint256 public totalSupply;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(uint256 supply) {
        balanceOf[msg.sender] = supply;
        totalSupply = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= amount, "allowance");
            allowance[from][msg.sender] = allowed - amount;
        }
        _transfer(from, to, amount);
        return true;
    }

    function _transfer(address from, address to, uint256 amount) private {
        uint256 balance = balanceOf[from];
        require(balance >= amount, "balance");
        unchecked {
            balanceOf[from] = balance - amount;
        }
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}

interface IToken {
    function balanceOf(address) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// Uniswap V2's pair core, trimmed to what the workload exercises.
contract BenchPair {
    uint256 public constant MINIMUM_LIQUIDITY = 1000;
    address public immutable token0;
    address public immutable token1;

    uint112 private reserve0;
    uint112 private reserve1;
    uint32 private blockTimestampLast;
    uint256 public price0CumulativeLast;
    uint256 public price1CumulativeLast;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    uint256 private unlocked = 1;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Mint(address indexed sender, uint256 amount0, uint256 amount1);
    event Swap(
        address indexed sender,
        uint256 amount0In,
        uint256 amount1In,
        uint256 amount0Out,
        uint256 amount1Out,
        address indexed to
    );
    event Sync(uint112 reserve0, uint112 reserve1);

    modifier lock() {
        require(unlocked == 1, "locked");
        unlocked = 0;
        _;
        unlocked = 1;
    }

    constructor(address a, address b) {
        (token0, token1) = a < b ? (a, b) : (b, a);
    }

    function getReserves() public view returns (uint112, uint112, uint32) {
        return (reserve0, reserve1, blockTimestampLast);
    }

    function mint(address to) external lock returns (uint256 liquidity) {
        (uint112 r0, uint112 r1, ) = getReserves();
        uint256 balance0 = IToken(token0).balanceOf(address(this));
        uint256 balance1 = IToken(token1).balanceOf(address(this));
        uint256 amount0 = balance0 - r0;
        uint256 amount1 = balance1 - r1;
        if (totalSupply == 0) {
            liquidity = sqrt(amount0 * amount1) - MINIMUM_LIQUIDITY;
            mintShares(address(0), MINIMUM_LIQUIDITY);
        } else {
            uint256 l0 = (amount0 * totalSupply) / r0;
            uint256 l1 = (amount1 * totalSupply) / r1;
            liquidity = l0 < l1 ? l0 : l1;
        }
        require(liquidity > 0, "no liquidity minted");
        mintShares(to, liquidity);
        update(balance0, balance1, r0, r1);
        emit Mint(msg.sender, amount0, amount1);
    }

    function swap(uint256 amount0Out, uint256 amount1Out, address to) external lock {
        require(amount0Out > 0 || amount1Out > 0, "no output");
        (uint112 r0, uint112 r1, ) = getReserves();
        require(amount0Out < r0 && amount1Out < r1, "not enough liquidity");
        if (amount0Out > 0) require(IToken(token0).transfer(to, amount0Out));
        if (amount1Out > 0) require(IToken(token1).transfer(to, amount1Out));
        uint256 balance0 = IToken(token0).balanceOf(address(this));
        uint256 balance1 = IToken(token1).balanceOf(address(this));
        uint256 amount0In = balance0 > r0 - amount0Out ? balance0 - (r0 - amount0Out) : 0;
        uint256 amount1In = balance1 > r1 - amount1Out ? balance1 - (r1 - amount1Out) : 0;
        require(amount0In > 0 || amount1In > 0, "no input");
        uint256 adjusted0 = balance0 * 1000 - amount0In * 3;
        uint256 adjusted1 = balance1 * 1000 - amount1In * 3;
        require(adjusted0 * adjusted1 >= uint256(r0) * r1 * 1000 ** 2, "K");
        update(balance0, balance1, r0, r1);
        emit Swap(msg.sender, amount0In, amount1In, amount0Out, amount1Out, to);
    }

    function update(uint256 balance0, uint256 balance1, uint112 r0, uint112 r1) private {
        require(balance0 <= type(uint112).max && balance1 <= type(uint112).max, "overflow");
        uint32 now32 = uint32(block.timestamp);
        unchecked {
            uint32 elapsed = now32 - blockTimestampLast;
            if (elapsed > 0 && r0 != 0 && r1 != 0) {
                price0CumulativeLast += ((uint256(r1) << 112) / r0) * elapsed;
                price1CumulativeLast += ((uint256(r0) << 112) / r1) * elapsed;
            }
        }
        reserve0 = uint112(balance0);
        reserve1 = uint112(balance1);
        blockTimestampLast = now32;
        emit Sync(reserve0, reserve1);
    }

    function mintShares(address to, uint256 value) private {
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function sqrt(uint256 y) private pure returns (uint256 z) {
        if (y > 3) {
            z = y;
            uint256 x = y / 2 + 1;
            while (x < z) {
                z = x;
                x = (y / x + x) / 2;
            }
        } else if (y != 0) {
            z = 1;
        }
    }
}

/// Uniswap V2's router for one pair: pulls the input from the caller, then swaps.
contract BenchRouter {
    function addLiquidity(BenchPair pair, uint256 amount0, uint256 amount1, address to)
        external
        returns (uint256)
    {
        require(IToken(pair.token0()).transferFrom(msg.sender, address(pair), amount0));
        require(IToken(pair.token1()).transferFrom(msg.sender, address(pair), amount1));
        return pair.mint(to);
    }

    function swapExactTokensForTokens(
        BenchPair pair,
        uint256 amountIn,
        uint256 amountOutMin,
        bool zeroForOne,
        address to
    ) external returns (uint256 amountOut) {
        (uint112 r0, uint112 r1, ) = pair.getReserves();
        (uint256 rIn, uint256 rOut) = zeroForOne ? (uint256(r0), uint256(r1)) : (uint256(r1), uint256(r0));
        uint256 inWithFee = amountIn * 997;
        amountOut = (inWithFee * rOut) / (rIn * 1000 + inWithFee);
        require(amountOut >= amountOutMin, "slippage");
        address tokenIn = zeroForOne ? pair.token0() : pair.token1();
        require(IToken(tokenIn).transferFrom(msg.sender, address(pair), amountIn));
        if (zeroForOne) pair.swap(0, amountOut, to);
        else pair.swap(amountOut, 0, to);
    }
}
`;

const ABI = parseAbi([
  "function approve(address spender, uint256 amount) returns (bool)",
  "function transfer(address to, uint256 amount) returns (bool)",
  "function balanceOf(address) view returns (uint256)",
  "function token0() view returns (address)",
  "function getReserves() view returns (uint112, uint112, uint32)",
  "function addLiquidity(address pair, uint256 amount0, uint256 amount1, address to) returns (uint256)",
  "function swapExactTokensForTokens(address pair, uint256 amountIn, uint256 amountOutMin, bool zeroForOne, address to) returns (uint256)",
]);

const CONTRACTS = ["SwapToken", "BenchPair", "BenchRouter"] as const;
type ContractName = (typeof CONTRACTS)[number];

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts?: Record<string, Record<string, { evm: { bytecode: { object: string } } }>>;
}

let compiled: Record<ContractName, Hex> | null = null;

/** Creation bytecode of the swap contracts, compiled once (optimizer 200 runs, cancun). */
export function swapBytecode(): Record<ContractName, Hex> {
  if (compiled !== null) return compiled;
  const t0 = performance.now();
  const input = {
    language: "Solidity",
    sources: { "BenchSwap.sol": { content: SWAP_SOURCE } },
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
      outputSelection: { "*": { "*": ["evm.bytecode.object"] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)) as string) as SolcOutput;
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) throw new Error(`solc: ${errors.map((e) => e.formattedMessage).join("\n")}`);
  const result = {} as Record<ContractName, Hex>;
  for (const name of CONTRACTS) {
    const object = out.contracts?.["BenchSwap.sol"]?.[name]?.evm.bytecode.object;
    if (!object) throw new Error(`solc produced no bytecode for ${name}`);
    result[name] = `0x${object}`;
  }
  compiled = result;
  log(`compiled the swap contracts with solc ${solc.version()} (${(performance.now() - t0).toFixed(0)} ms)`);
  return result;
}

const MAX_UINT = 2n ** 256n - 1n;
const E18 = 10n ** 18n;
/** Each token's supply; half goes to the pool, the rest to the swappers. */
const SUPPLY = 10n ** 30n;
const POOL_LIQUIDITY = SUPPLY / 2n;

/** A deployed pair and what its swappers hold. */
export interface SwapEnv {
  pair: Hex;
  router: Hex;
  token0: Hex;
  token1: Hex;
  swapGas: bigint;
}

const call = (abiFn: (typeof ABI)[number]["name"], args: readonly unknown[]): Hex =>
  encodeFunctionData({ abi: ABI, functionName: abiFn, args } as Parameters<typeof encodeFunctionData>[0]);

/**
 * Untimed: deploys two tokens, the pair and the router from dev account 0, adds liquidity, gives
 * every sender a balance of both tokens and has it approve the router for both (infinitely).
 */
export async function prepareSwaps(env: LoadEnv, deployer: Key): Promise<SwapEnv> {
  const { chain, signer, senders } = env;
  const code = swapBytecode();
  const supplyArg = encodeAbiParameters([{ type: "uint256" }], [SUPPLY]).slice(2);
  const [ra, rb, rr] = await chain.setupTxs(signer, [
    { key: deployer, tx: { to: null, value: 0n, data: `${code.SwapToken}${supplyArg}`, gas: 1_500_000n } },
    { key: deployer, tx: { to: null, value: 0n, data: `${code.SwapToken}${supplyArg}`, gas: 1_500_000n } },
    { key: deployer, tx: { to: null, value: 0n, data: code.BenchRouter, gas: 2_000_000n } },
  ]);
  const tokenA = ra!.contractAddress!;
  const tokenB = rb!.contractAddress!;
  const router = rr!.contractAddress!;
  const pairArgs = encodeAbiParameters([{ type: "address" }, { type: "address" }], [tokenA, tokenB]).slice(2);
  const [rp] = await chain.setupTxs(signer, [
    { key: deployer, tx: { to: null, value: 0n, data: `${code.BenchPair}${pairArgs}`, gas: 3_000_000n } },
  ]);
  const pair = rp!.contractAddress!;
  const token0 = decodeFunctionResult({
    abi: ABI,
    functionName: "token0",
    data: await chain.rpc.call<Hex>("eth_call", [{ to: pair, data: call("token0", []) }, "latest"]),
  }) as Hex;
  const token1 = token0.toLowerCase() === tokenA.toLowerCase() ? tokenB : tokenA;

  const perSender = (SUPPLY - POOL_LIQUIDITY) / BigInt(senders.length + 1);
  const tx = (to: Hex, data: Hex, gas: bigint) => ({ to, value: 0n, data, gas });
  await chain.setupTxs(signer, [
    { key: deployer, tx: tx(tokenA, call("approve", [router, MAX_UINT]), 100_000n) },
    { key: deployer, tx: tx(tokenB, call("approve", [router, MAX_UINT]), 100_000n) },
    ...senders.flatMap((s) => [
      { key: deployer, tx: tx(tokenA, call("transfer", [s.address, perSender]), 100_000n) },
      { key: deployer, tx: tx(tokenB, call("transfer", [s.address, perSender]), 100_000n) },
      { key: s, tx: tx(tokenA, call("approve", [router, MAX_UINT]), 100_000n) },
      { key: s, tx: tx(tokenB, call("approve", [router, MAX_UINT]), 100_000n) },
    ]),
  ]);
  await chain.setupTxs(signer, [
    {
      key: deployer,
      tx: tx(
        router,
        call("addLiquidity", [pair, POOL_LIQUIDITY, POOL_LIQUIDITY, deployer.address]),
        500_000n,
      ),
    },
  ]);
  // The first swap of a block also writes the cumulative prices, and a sender's first swap sets
  // its balance of the output token from zero: estimate, then leave room for both (1.5× ran out
  // of gas on Anvil, whose estimate is made after the setup block's prices were written).
  const estimate = BigInt(
    await chain.rpc.call<Hex>("eth_estimateGas", [
      { from: senders[0]!.address, to: router, data: swapData(pair, 0, 0, senders[0]!.address) },
    ]),
  );
  const swapGas = estimate * 2n;
  log(`${chain.target.name}: swap pair ${pair}, router ${router}, swap gas limit ${swapGas}`);
  return { pair, router, token0, token1, swapGas };
}

/**
 * The k-th swap of sender s: directions alternate so the pool stays balanced, amounts vary
 * (0.1 to ~1.1 token) so reserves and balances take realistic values.
 */
function swapData(pair: Hex, s: number, k: number, to: Hex): Hex {
  const amountIn = E18 / 10n + BigInt(((s + 1) * 7_919 * (k + 1)) % 1_000_003) * 10n ** 12n;
  return call("swapExactTokensForTokens", [pair, amountIn, 1n, (s + k) % 2 === 0, to]);
}

/** N pre-signed swaps spread over the senders, interleaved round-robin like the transfers. */
export async function buildSwapWorkload(env: LoadEnv, swap: SwapEnv, n: number): Promise<Workload> {
  const { chain, senders } = env;
  const fees = await chain.fees(swap.swapGas * BigInt(n));
  const perSender: SignedTx[][] = [];
  const endNonces: number[] = [];
  for (let s = 0; s < senders.length; s++) {
    const key = senders[s]!;
    const count = Math.floor(n / senders.length) + (s < n % senders.length ? 1 : 0);
    const first = await chain.reserveNonces(key, count);
    const unsigned: UnsignedTx[] = Array.from({ length: count }, (_, k) => ({
      nonce: first + k,
      to: swap.router,
      value: 0n,
      data: swapData(swap.pair, s, first + k, key.address),
      gas: swap.swapGas,
      ...fees,
    }));
    perSender.push(await env.signer.sign(unsigned, key, chain.chainId));
    endNonces.push(first + count);
  }
  const txs: SignedTx[] = [];
  const longest = Math.max(...perSender.map((l) => l.length));
  for (let k = 0; k < longest; k++) for (const list of perSender) if (k < list.length) txs.push(list[k]!);
  const lastHashes = perSender.filter((l) => l.length > 0).map((l) => l[l.length - 1]!.hash);
  return { kind: "swap", txs, lastHashes, endNonces, gasPerTx: swap.swapGas };
}

/** After the run the pair's reserves must equal its token balances (every swap synced them). */
export async function checkReserves(env: LoadEnv, swap: SwapEnv): Promise<void> {
  const read = (to: Hex, data: Hex) => env.chain.rpc.call<Hex>("eth_call", [{ to, data }, "latest"]);
  const [r0, r1] = decodeFunctionResult({
    abi: ABI,
    functionName: "getReserves",
    data: await read(swap.pair, call("getReserves", [])),
  }) as readonly [bigint, bigint, number];
  const b0 = BigInt(await read(swap.token0, call("balanceOf", [swap.pair])));
  const b1 = BigInt(await read(swap.token1, call("balanceOf", [swap.pair])));
  if (r0 !== b0 || r1 !== b1) throw new Error(`pair reserves ${r0}/${r1} but balances ${b0}/${b1}`);
  if (r0 + r1 <= 2n * POOL_LIQUIDITY) throw new Error("the pool collected no fees: did the swaps run?");
}
