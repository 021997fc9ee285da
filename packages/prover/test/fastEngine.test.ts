import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bytesToHex } from "@ethereumjs/util";
import { chainConfigToJson, devChainConfig, randomPrivateKey, signingKeyFromPrivate } from "@staccato/common";
import {
  type Abi,
  type Hex,
  type PublicClient,
  createPublicClient,
  createWalletClient,
  encodeAbiParameters,
  getContractAddress,
  http,
  keccak256,
  parseEventLogs,
  sha256,
} from "viem";
import { TempDirs, metricValue, rpc, waitFor } from "../../fullnode/test/helpers/fullnodeProcess.ts";
import { devAccount, devChain } from "../../sequencer/test/helpers/devChain.ts";
import { SequencerProcess } from "../../sequencer/test/helpers/sequencerProcess.ts";
import { type CompiledContract, compileSolidity } from "../../sequencer/test/helpers/solidity.ts";
import { ProverProcess } from "./helpers/proverProcess.ts";

/**
 * The fast EVM in a real sequencer (`--engine fast`), interpreted and compiled, driven through viem like a dapp would: an
 * ERC-20, a Uniswap-V2-style pair with its router, and a contract that exercises reverts (reason
 * strings, custom errors, caught failures), CREATE2, EIP-6780 self-destruct, transient storage and
 * the precompiles. A prover re-executes every block with `@ethereumjs/vm` (its default engine) and
 * must attest each one `valid`: the two engines agree on state root, receipts, gas and blooms.
 */

const SOURCES = {
  "Token.sol": `// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
contract Token {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    event Transfer(address indexed from, address indexed to, uint256 value);
    constructor(uint256 supply) { balanceOf[msg.sender] = supply; emit Transfer(address(0), msg.sender, supply); }
    function approve(address s, uint256 a) external returns (bool) { allowance[msg.sender][s] = a; return true; }
    function transfer(address to, uint256 a) external returns (bool) { _move(msg.sender, to, a); return true; }
    function transferFrom(address f, address to, uint256 a) external returns (bool) {
        uint256 al = allowance[f][msg.sender];
        if (al != type(uint256).max) { require(al >= a, "allowance"); allowance[f][msg.sender] = al - a; }
        _move(f, to, a); return true;
    }
    function _move(address f, address to, uint256 a) private {
        require(balanceOf[f] >= a, "balance");
        unchecked { balanceOf[f] -= a; }
        balanceOf[to] += a;
        emit Transfer(f, to, a);
    }
}`,
  "Pair.sol": `// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
interface IT { function balanceOf(address) external view returns (uint256); function transfer(address, uint256) external returns (bool); function transferFrom(address, address, uint256) external returns (bool); }
contract Pair {
    address public immutable token0; address public immutable token1;
    uint112 private r0; uint112 private r1; uint32 private last;
    uint256 public totalSupply; mapping(address => uint256) public balanceOf;
    uint256 private unlocked = 1;
    event Swap(address indexed sender, uint256 a0In, uint256 a1In, uint256 a0Out, uint256 a1Out, address indexed to);
    event Sync(uint112 r0, uint112 r1);
    modifier lock() { require(unlocked == 1, "locked"); unlocked = 0; _; unlocked = 1; }
    constructor(address a, address b) { (token0, token1) = a < b ? (a, b) : (b, a); }
    function getReserves() public view returns (uint112, uint112) { return (r0, r1); }
    function mint(address to) external lock returns (uint256 l) {
        uint256 b0 = IT(token0).balanceOf(address(this)); uint256 b1 = IT(token1).balanceOf(address(this));
        l = sqrt((b0 - r0) * (b1 - r1)); require(l > 0, "liquidity");
        totalSupply += l; balanceOf[to] += l; _update(b0, b1);
    }
    function swap(uint256 a0Out, uint256 a1Out, address to) external lock {
        require(a0Out > 0 || a1Out > 0, "output"); require(a0Out < r0 && a1Out < r1, "reserves");
        if (a0Out > 0) IT(token0).transfer(to, a0Out); if (a1Out > 0) IT(token1).transfer(to, a1Out);
        uint256 b0 = IT(token0).balanceOf(address(this)); uint256 b1 = IT(token1).balanceOf(address(this));
        uint256 in0 = b0 > r0 - a0Out ? b0 - (r0 - a0Out) : 0; uint256 in1 = b1 > r1 - a1Out ? b1 - (r1 - a1Out) : 0;
        require(in0 > 0 || in1 > 0, "input");
        require((b0 * 1000 - in0 * 3) * (b1 * 1000 - in1 * 3) >= uint256(r0) * r1 * 1000**2, "K");
        _update(b0, b1); emit Swap(msg.sender, in0, in1, a0Out, a1Out, to);
    }
    function _update(uint256 b0, uint256 b1) private { r0 = uint112(b0); r1 = uint112(b1); last = uint32(block.timestamp); emit Sync(r0, r1); }
    function sqrt(uint256 y) private pure returns (uint256 z) { if (y > 3) { z = y; uint256 x = y / 2 + 1; while (x < z) { z = x; x = (y / x + x) / 2; } } else if (y != 0) z = 1; }
}
contract Router {
    function addLiquidity(Pair p, uint256 a0, uint256 a1) external returns (uint256) {
        require(IT(p.token0()).transferFrom(msg.sender, address(p), a0)); require(IT(p.token1()).transferFrom(msg.sender, address(p), a1));
        return p.mint(msg.sender);
    }
    function swap(Pair p, uint256 amountIn, bool zeroForOne) external returns (uint256 out) {
        (uint112 r0, uint112 r1) = p.getReserves();
        (uint256 rIn, uint256 rOut) = zeroForOne ? (uint256(r0), uint256(r1)) : (uint256(r1), uint256(r0));
        out = (amountIn * 997 * rOut) / (rIn * 1000 + amountIn * 997);
        require(IT(zeroForOne ? p.token0() : p.token1()).transferFrom(msg.sender, address(p), amountIn));
        if (zeroForOne) p.swap(0, out, msg.sender); else p.swap(out, 0, msg.sender);
    }
}`,
  "Zoo.sol": `// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
contract Child {
    uint256 public v;
    constructor(uint256 x) payable { v = x; }
    function die(address payable to) external { selfdestruct(to); }
}
contract Zoo {
    error Custom(uint256 code);
    event Created(address child, bytes32 salt);
    event Precompiles(address rec, bytes32 sha, bytes20 ripe, bytes id, bytes32 modexp, bytes32 ecx);
    event Caught(bool ok, bytes data);
    uint256 public n;
    Child public kept;
    function fail(uint256 code) external pure { if (code == 0) revert("plain reason"); revert Custom(code); }
    function tryFail(uint256 code) external returns (bool ok) {
        bytes memory data;
        (ok, data) = address(this).call(abi.encodeCall(this.fail, (code)));
        n += 1;
        emit Caught(ok, data);
    }
    function deploy(bytes32 salt, uint256 x) external payable returns (address c) {
        c = address(new Child{salt: salt, value: msg.value}(x));
        kept = Child(c);
        emit Created(c, salt);
    }
    /// Created and destroyed in one transaction: EIP-6780 removes it.
    function ephemeral(bytes32 salt) external payable returns (uint256 codeSize) {
        Child c = new Child{salt: salt, value: msg.value}(1);
        c.die(payable(msg.sender));
        address a = address(c);
        assembly { codeSize := extcodesize(a) }
    }
    /// An older contract self-destructing: only its balance moves (EIP-6780).
    function killKept() external { kept.die(payable(msg.sender)); }
    function transient(uint256 x) external returns (uint256 y) {
        assembly { tstore(0, x) y := tload(0) }
        n = y;
    }
    function precompiles(bytes32 h, uint8 v, bytes32 r, bytes32 s) external {
        address rec = ecrecover(h, v, r, s);
        bytes32 sh = sha256(abi.encodePacked(h));
        bytes20 ri = ripemd160(abi.encodePacked(h));
        (, bytes memory id) = address(4).staticcall(abi.encodePacked(h, r));
        (, bytes memory m) = address(5).staticcall(abi.encodePacked(uint256(32), uint256(32), uint256(32), uint256(3), uint256(5), uint256(7)));
        (, bytes memory e) = address(6).staticcall(abi.encodePacked(uint256(1), uint256(2), uint256(1), uint256(2)));
        bytes32 ecx; assembly { ecx := mload(add(e, 32)) }
        emit Precompiles(rec, sh, ri, id, bytes32(m), ecx);
    }
    function blockHashes() external returns (bytes32 h) { h = blockhash(block.number - 1); n = uint256(h) % 1000; }
}`,
};

// Interpreted, and with every contract compiled from its first call (--evm-compile-after 0).
for (const variant of [
  { name: "interpreted", args: [] as string[], compileAfter: null },
  { name: "compiled", args: ["--evm-compile-after", "0"], compileAfter: 0 },
])
  describe(`fast EVM in a real sequencer (${variant.name}), verified by a reference prover`, {
    timeout: 300_000,
  }, () => {
    const dirs = new TempDirs();
    let seq: SequencerProcess;
    let prover: ProverProcess;
    let pub: PublicClient;
    let c: Record<string, CompiledContract>;
    const seqKey = randomPrivateKey();
    const proverKey = randomPrivateKey();
    const wallet = (i: number) =>
      createWalletClient({ chain: devChain(seq.rpcUrl), transport: http(), account: devAccount(i) });

    before(async () => {
      const seqDir = dirs.make();
      const config = devChainConfig({
        sequencer: bytesToHex(signingKeyFromPrivate(seqKey).address),
        provers: [bytesToHex(signingKeyFromPrivate(proverKey).address)],
        proverQuorum: 1,
      });
      writeFileSync(join(seqDir, "sequencer.key"), bytesToHex(seqKey));
      const chainFile = join(seqDir, "chain.json");
      writeFileSync(chainFile, chainConfigToJson(config));
      const starting = SequencerProcess.start({
        dataDir: seqDir,
        args: ["--block-ms", "250", "--engine", "fast", ...variant.args],
      });
      try {
        c = compileSolidity(SOURCES);
      } finally {
        seq = await starting;
      }
      const started = seq.logs().find((l) => l.msg === "sequencer started")!;
      assert.equal(started.engine, "fast", "the sequencer runs the fast EVM");
      assert.equal(started.evmCompileAfter, variant.compileAfter);
      const bootnode = (started.p2p as string[])[0]!;
      const dir = dirs.make();
      const keyFile = join(dir, "prover.key");
      writeFileSync(keyFile, bytesToHex(proverKey));
      prover = await ProverProcess.start(
        ProverProcess.args({ chain: chainFile, keyFile, dataDir: join(dir, "data"), bootnode }),
      );
      pub = createPublicClient({ chain: devChain(seq.rpcUrl), transport: http(), pollingInterval: 50 });
    });

    after(async () => {
      await prover?.kill("SIGKILL");
      await seq?.cleanup();
      dirs.cleanup();
    });

    async function deploy(i: number, name: string, args: readonly unknown[] = [], value = 0n): Promise<Hex> {
      const k = c[name]!;
      const hash = await wallet(i).deployContract({
        abi: k.abi,
        bytecode: k.bytecode,
        args,
        value,
        chain: null,
        account: devAccount(i),
      } as never);
      const r = await pub.waitForTransactionReceipt({ hash });
      assert.equal(r.status, "success", `deploy ${name}`);
      return r.contractAddress!;
    }

    async function send(
      i: number,
      to: Hex,
      abi: Abi,
      functionName: string,
      args: readonly unknown[],
      value = 0n,
    ) {
      const hash = await wallet(i).writeContract({
        address: to,
        abi,
        functionName,
        args,
        value,
        gas: 3_000_000n,
        chain: null,
        account: devAccount(i),
      } as never);
      return pub.waitForTransactionReceipt({ hash });
    }

    const read = <T>(address: Hex, abi: Abi, functionName: string, args: readonly unknown[] = []) =>
      // "pending": the newest mini-block's state; "latest" is the newest sealed block's.
      pub.readContract({ address, abi, functionName, args, blockTag: "pending" } as never) as Promise<T>;

    it("runs an ERC-20, a swap pair, reverts, CREATE2, self-destruct and precompiles; the prover attests every block valid", async () => {
      const me = devAccount(1).address;
      const token = c.Token!.abi;
      // ERC-20 and the pair.
      const t0 = await deploy(1, "Token", [10n ** 30n]);
      const t1 = await deploy(1, "Token", [10n ** 30n]);
      const pair = await deploy(1, "Pair", [t0, t1]);
      const router = await deploy(1, "Router");
      for (const t of [t0, t1]) {
        const r = await send(1, t, token, "approve", [router, 2n ** 256n - 1n]);
        assert.equal(r.status, "success");
      }
      const to = devAccount(2).address;
      const tr = await send(1, t0, token, "transfer", [to, 12345n]);
      assert.equal(tr.status, "success");
      const [ev] = parseEventLogs({ abi: token, logs: tr.logs, eventName: "Transfer" });
      assert.equal((ev!.args as { value: bigint }).value, 12345n);
      assert.equal(await read<bigint>(t0, token, "balanceOf", [to]), 12345n);
      // A failing transfer (more than the balance): status 0, nothing moves.
      const bad = await send(2, t0, token, "transfer", [me, 10n ** 20n]);
      assert.equal(bad.status, "reverted");
      assert.equal(await read<bigint>(t0, token, "balanceOf", [to]), 12345n);

      const add = await send(1, router, c.Router!.abi, "addLiquidity", [pair, 10n ** 24n, 2n * 10n ** 24n]);
      assert.equal(add.status, "success");
      for (let k = 0; k < 6; k++) {
        const r = await send(1, router, c.Router!.abi, "swap", [pair, 10n ** 21n + BigInt(k), k % 2 === 0]);
        assert.equal(r.status, "success", `swap ${k}`);
        assert.equal(parseEventLogs({ abi: c.Pair!.abi, logs: r.logs, eventName: "Swap" }).length, 1);
      }
      const [r0, r1] = await read<[bigint, bigint]>(pair, c.Pair!.abi, "getReserves");
      assert.equal(r0 + r1 > 3n * 10n ** 24n - 10n ** 22n, true);

      // Reverts: reason strings and custom errors surface to viem; a caught failure keeps going.
      const zoo = await deploy(3, "Zoo");
      const zabi = c.Zoo!.abi;
      await assert.rejects(read(zoo, zabi, "fail", [0n]), /plain reason/);
      await assert.rejects(read(zoo, zabi, "fail", [7n]), /Custom/);
      const caught = await send(3, zoo, zabi, "tryFail", [7n]);
      assert.equal(caught.status, "success");
      const [caughtEv] = parseEventLogs({ abi: zabi, logs: caught.logs, eventName: "Caught" });
      assert.equal((caughtEv!.args as { ok: boolean }).ok, false);
      const failed = await wallet(3)
        .sendTransaction({
          to: zoo,
          data: "0x" as Hex,
          gas: 100_000n,
          chain: null,
          account: devAccount(3),
        } as never)
        .then((hash) => pub.waitForTransactionReceipt({ hash }));
      assert.equal(failed.status, "reverted", "no fallback function: the call reverts");

      // CREATE2 at the predicted address, with value.
      const salt = keccak256("0x01");
      const dep = await send(3, zoo, zabi, "deploy", [salt, 42n], 1000n);
      assert.equal(dep.status, "success");
      const predicted = getContractAddress({
        opcode: "CREATE2",
        from: zoo,
        salt,
        bytecode: `${c.Child!.bytecode}${encodeAbiParameters([{ type: "uint256" }], [42n]).slice(2)}` as Hex,
      });
      const [created] = parseEventLogs({ abi: zabi, logs: dep.logs, eventName: "Created" });
      assert.equal((created!.args as { child: Hex }).child, predicted);
      assert.equal(await read<bigint>(predicted, c.Child!.abi, "v"), 42n);
      assert.equal(await pub.getBalance({ address: predicted, blockTag: "pending" }), 1000n);
      // CREATE2 again at the same address collides: the transaction reverts.
      assert.equal((await send(3, zoo, zabi, "deploy", [salt, 42n])).status, "reverted");

      // EIP-6780: created and destroyed in one transaction → gone; an older contract keeps its code.
      const eph = await send(3, zoo, zabi, "ephemeral", [keccak256("0x02")], 500n);
      assert.equal(eph.status, "success");
      const ephAddr = getContractAddress({
        opcode: "CREATE2",
        from: zoo,
        salt: keccak256("0x02"),
        bytecode: `${c.Child!.bytecode}${encodeAbiParameters([{ type: "uint256" }], [1n]).slice(2)}` as Hex,
      });
      assert.equal(await pub.getCode({ address: ephAddr, blockTag: "pending" }), undefined);
      const kill = await send(3, zoo, zabi, "killKept", []);
      assert.equal(kill.status, "success");
      assert.equal(await pub.getBalance({ address: predicted, blockTag: "pending" }), 0n);
      assert.notEqual(await pub.getCode({ address: predicted, blockTag: "pending" }), undefined);

      // Transient storage, BLOCKHASH, precompiles.
      assert.equal((await send(3, zoo, zabi, "transient", [99n])).status, "success");
      assert.equal(await read<bigint>(zoo, zabi, "n"), 99n);
      assert.equal((await send(3, zoo, zabi, "blockHashes", [])).status, "success");
      const acct = devAccount(4);
      const h = keccak256("0x1234");
      const sig = await acct.sign({ hash: h });
      const v = Number.parseInt(sig.slice(130, 132), 16);
      const pre = await send(3, zoo, zabi, "precompiles", [
        h,
        v,
        `0x${sig.slice(2, 66)}`,
        `0x${sig.slice(66, 130)}`,
      ]);
      assert.equal(pre.status, "success");
      const [p] = parseEventLogs({ abi: zabi, logs: pre.logs, eventName: "Precompiles" });
      const a = p!.args as { rec: Hex; sha: Hex; id: Hex; modexp: Hex };
      assert.equal(a.rec.toLowerCase(), acct.address.toLowerCase());
      assert.equal(a.sha, sha256(h));
      assert.equal(a.id, `${h}${sig.slice(2, 66)}`);
      assert.equal(BigInt(a.modexp), 3n ** 5n % 7n);

      // Every block up to the last receipt's is attested valid by the reference prover.
      const last = pre.blockNumber;
      await waitFor(
        "the prover's attestations up to the last block",
        async () => {
          const f = await rpc<{ finalized: string }>(seq.rpcUrl, "staccato_finality");
          return BigInt(f.finalized) >= last;
        },
        90_000,
      );
      for (let n = 1n; n <= last; n++) {
        const att = await rpc<{ attestations: { verdict: string; reason: string }[] }>(
          seq.rpcUrl,
          "staccato_getAttestations",
          [`0x${n.toString(16)}`],
        );
        assert.ok(att.attestations.length >= 1, `block ${n} has no attestation`);
        for (const x of att.attestations) assert.equal(x.verdict, "valid", `block ${n}: ${x.reason}`);
      }
      // None of this needed runTx on the sequencer (BLOCKHASH of a block still sealing aside).
      const metrics = await (await fetch(seq.metricsUrl)).text();
      const all = metricValue(metrics, "staccato_execution_fast_fallbacks_total");
      const sealing = metricValue(metrics, "staccato_execution_fast_fallbacks_total", {
        reason: "block hash not available synchronously",
      });
      assert.equal(
        all - sealing,
        0,
        `fell back to runTx:\n${metrics
          .split("\n")
          .filter((l) => l.includes("fallbacks"))
          .join("\n")}`,
      );
    });
  });
