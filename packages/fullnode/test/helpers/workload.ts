import {
  type Abi,
  type Hex,
  type TransactionSerializable,
  encodeAbiParameters,
  encodeFunctionData,
  getContractAddress,
  keccak256,
  parseEther,
} from "viem";
import { DEV_CHAIN_ID, devKeyAccount } from "../../../sequencer/test/helpers/devChain.ts";
import { compileSolidity } from "../../../sequencer/test/helpers/solidity.ts";

/** A token with events plus a slot map that can be written and deleted: every kind of state change. */
export const MIXED_SOURCE = `
pragma solidity 0.8.30;
contract Mixed {
  mapping(uint256 => uint256) public slots;
  mapping(address => uint256) public balanceOf;
  event Moved(address indexed from, address indexed to, uint256 amount);
  constructor() { balanceOf[msg.sender] = 1e24; }
  function transfer(address to, uint256 amount) external {
    require(balanceOf[msg.sender] >= amount, "balance");
    balanceOf[msg.sender] -= amount;
    balanceOf[to] += amount;
    emit Moved(msg.sender, to, amount);
  }
  function put(uint256 k, uint256 v) external { slots[k] = v; }
  function drop(uint256 k) external { delete slots[k]; }
}`;

export type OpKind = "deploy" | "eth" | "token" | "put" | "drop" | "revert";

export interface PlannedTx {
  sender: number;
  /** Index of the endpoint it is sent to (the sequencer or a full node that forwards it). */
  via: number;
  kind: OpKind;
  raw: Hex;
  hash: Hex;
}

export interface MixedWorkload {
  /** In sending order: round-robin over the senders, each sender's nonces ascending. */
  txs: PlannedTx[];
  /** Every account the workload changes: senders, ETH recipients, contracts. */
  accounts: Hex[];
  /** Each contract's storage slots the workload writes, with the value each must end with. */
  slots: Map<Hex, Map<Hex, bigint>>;
  /** What each ETH recipient must end with. */
  recipientBalances: Map<Hex, bigint>;
  /** Each sender's next nonce once everything ran. */
  finalNonces: Map<Hex, number>;
}

const FEES = { maxFeePerGas: 20n * 10n ** 9n, maxPriorityFeePerGas: 1n } as const;
const SLOT_KEYS = 16;
/** The contract's `slots` mapping is storage slot 0, `balanceOf` slot 1. */
export const mappingSlot = (key: bigint | Hex, base: bigint): Hex =>
  keccak256(
    typeof key === "bigint"
      ? encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }], [key, base])
      : encodeAbiParameters([{ type: "address" }, { type: "uint256" }], [key, base]),
  );

/**
 * Signs `perSender` transactions for each dev account in `senders` (nonces from `startNonces`):
 * each deploys its own token first, then ETH transfers (40%), token transfers with logs (30%),
 * slot writes (20%) and deletes of a slot it wrote two transactions earlier (10%), with an extra
 * deploy every 50 and a reverting transfer every 40. Sender `s` sends through endpoint
 * `viaOf(s)`. Tracks the final values the chain must end with.
 */
export async function mixedWorkload(opts: {
  senders: number[];
  startNonces: number[];
  perSender: number;
  viaOf: (senderIndex: number) => number;
}): Promise<MixedWorkload> {
  const { Mixed } = compileSolidity({ "Mixed.sol": MIXED_SOURCE });
  const abi = Mixed!.abi as Abi;
  const recipients = Array.from(
    { length: 100 },
    (_, i) => `0x${(0xfeed0000 + i).toString(16).padStart(40, "0")}` as Hex,
  );
  const recipientBalances = new Map<Hex, bigint>();
  const slots = new Map<Hex, Map<Hex, bigint>>();
  const accounts = new Set<Hex>();
  const finalNonces = new Map<Hex, number>();
  const perSender: PlannedTx[][] = [];

  for (const [si, sender] of opts.senders.entries()) {
    const acct = devKeyAccount(sender);
    const me = acct.address.toLowerCase() as Hex;
    accounts.add(me);
    const via = opts.viaOf(si);
    const list: PlannedTx[] = [];
    let nonce = opts.startNonces[si]!;
    let token: Hex = "0x";
    const sign = async (kind: OpKind, tx: Omit<TransactionSerializable, "chainId" | "type" | "nonce">) => {
      const raw = await acct.signTransaction({
        chainId: DEV_CHAIN_ID,
        type: "eip1559",
        nonce: nonce++,
        ...FEES,
        ...tx,
      } as TransactionSerializable);
      list.push({ sender, via, kind, raw, hash: keccak256(raw) });
    };
    const deploy = async () => {
      const address = getContractAddress({ from: me, nonce: BigInt(nonce) }).toLowerCase() as Hex;
      await sign("deploy", { data: Mixed!.bytecode, gas: 1_000_000n });
      accounts.add(address);
      slots.set(address, new Map([[mappingSlot(me, 1n), 10n ** 24n]]));
      return address;
    };
    const call = (kind: OpKind, functionName: string, args: unknown[], gas: bigint) =>
      sign(kind, { to: token, data: encodeFunctionData({ abi, functionName, args }), gas });

    token = await deploy();
    const tokenSlots = slots.get(token)!;
    for (let i = 1; i < opts.perSender; i++) {
      const to = recipients[(i * 7 + si * 13) % recipients.length]!;
      if (i % 50 === 25) {
        await deploy();
      } else if (i % 40 === 13) {
        await call("revert", "transfer", [to, 10n ** 30n], 100_000n);
      } else if (i % 10 < 4) {
        const value = parseEther("0.001") + BigInt(i * 100 + si);
        await sign("eth", { to, value, gas: 21_000n });
        recipientBalances.set(to, (recipientBalances.get(to) ?? 0n) + value);
        accounts.add(to);
      } else if (i % 10 < 7) {
        const amount = BigInt(i * 1000 + si);
        await call("token", "transfer", [to, amount], 120_000n);
        const from = mappingSlot(me, 1n);
        const dest = mappingSlot(to, 1n);
        tokenSlots.set(from, tokenSlots.get(from)! - amount);
        tokenSlots.set(dest, (tokenSlots.get(dest) ?? 0n) + amount);
      } else if (i % 10 < 9) {
        const k = BigInt(i % SLOT_KEYS);
        await call("put", "put", [k, BigInt(i + 1)], 100_000n);
        tokenSlots.set(mappingSlot(k, 0n), BigInt(i + 1));
      } else {
        // Deletes the slot written two transactions ago (i - 2 ends in 7): write, then zero.
        const k = BigInt((i - 2) % SLOT_KEYS);
        await call("drop", "drop", [k], 100_000n);
        tokenSlots.set(mappingSlot(k, 0n), 0n);
      }
    }
    finalNonces.set(me, nonce);
    perSender.push(list);
  }
  const txs: PlannedTx[] = [];
  for (let i = 0; i < opts.perSender; i++) for (const list of perSender) txs.push(list[i]!);
  return { txs, accounts: [...accounts], slots, recipientBalances, finalNonces };
}
