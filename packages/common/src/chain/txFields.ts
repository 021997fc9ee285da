import type { Common } from "@ethereumjs/common";
import { type TypedTransaction, createTxFromRLP, getCalldataFloorGas, paramsTx } from "@ethereumjs/tx";
import { Address } from "@ethereumjs/util";
import { type RlpItem, rlpDecode, rlpEncode, rlpListOf, u } from "../codec/rlpUtil.ts";
import { keccak256 } from "../crypto/keccak.ts";
import { recoverAddress } from "../crypto/secp256k1.ts";
import { toBig } from "../execution/fastEvm/words.ts";
import { hexOf } from "../util/hex.ts";

/** An access list as it is on the wire: [address, storage keys][]. */
export type AccessListBytes = readonly (readonly [Uint8Array, readonly Uint8Array[]])[];

/**
 * What the pool and execution read of a signed transaction, as plain fields: decoded once from the
 * raw bytes on arrival (`TxDecoder`), or taken from an `@ethereumjs/tx` object (`txFieldsOf`).
 * The `@ethereumjs/tx` object itself (which `runTx` and RPC formatting need) is built only when
 * asked for, by `typed()`.
 */
export interface TxFields {
  readonly type: number;
  readonly nonce: bigint;
  readonly gasLimit: bigint;
  /** `maxFeePerGas`, or `gasPrice` for legacy and EIP-2930 transactions. */
  readonly maxFee: bigint;
  /** `maxPriorityFeePerGas`, or `gasPrice` for legacy and EIP-2930 transactions. */
  readonly tip: bigint;
  /** Fee-market (EIP-1559 style) pricing: the price is the base fee plus the capped tip. */
  readonly is1559: boolean;
  /** The recipient (20 bytes); null for a contract creation. */
  readonly to: Uint8Array | null;
  readonly value: bigint;
  readonly data: Uint8Array;
  readonly accessList: AccessListBytes;
  /** The sender's 20-byte address and its `0x` hex. */
  readonly sender: Uint8Array;
  readonly senderHex: string;
  /** `getIntrinsicGas()` under the chain's rules. */
  readonly intrinsicGas: bigint;
  /** The EIP-7623 calldata floor (0 where that rule is off). */
  readonly floorGas: bigint;
  /** The `@ethereumjs/tx` transaction, sender pinned; built on the first call. */
  typed(): TypedTransaction;
}

/** The fields a transaction's price per gas depends on. */
export type TxFeeFields = Pick<TxFields, "is1559" | "maxFee" | "tip">;

/** The price per gas the transaction pays in a block with this base fee (≥ base fee checked by the caller). */
export function effectivePrice(t: TxFeeFields, baseFee: bigint): bigint {
  if (!t.is1559) return t.maxFee;
  const room = t.maxFee - baseFee;
  return baseFee + (t.tip < room ? t.tip : room);
}

/** `getUpfrontCost(baseFee)`: gas limit × effective price + value. */
export function upfrontCost(t: TxFields, baseFee: bigint): bigint {
  return t.gasLimit * effectivePrice(t, baseFee) + t.value;
}

/** The fee fields of an `@ethereumjs/tx` transaction (signed or not). */
export function feeFieldsOf(tx: TypedTransaction): TxFeeFields {
  if ("maxFeePerGas" in tx) return { is1559: true, maxFee: tx.maxFeePerGas, tip: tx.maxPriorityFeePerGas };
  const price = (tx as { gasPrice: bigint }).gasPrice;
  return { is1559: false, maxFee: price, tip: price };
}

/**
 * The chain's rules with the transaction gas parameters registered, as each `@ethereumjs/tx`
 * transaction registers them on its own copy: read `txGas` and the rest from it.
 */
export function txGasRules(common: Common): Common {
  const rules = common.copy();
  rules.updateParams(paramsTx);
  return rules;
}

/** The fields of an `@ethereumjs/tx` transaction (signed; its sender is recovered here if not pinned). */
export function txFieldsOf(tx: TypedTransaction): TxFields {
  const sender = tx.getSenderAddress().bytes;
  return {
    type: tx.type,
    nonce: tx.nonce,
    gasLimit: tx.gasLimit,
    ...feeFieldsOf(tx),
    to: tx.to === undefined ? null : tx.to.bytes,
    value: tx.value,
    data: tx.data,
    accessList: "accessList" in tx ? tx.accessList : [],
    sender,
    senderHex: hexOf(sender),
    intrinsicGas: tx.getIntrinsicGas(),
    floorGas: tx.common.isActivatedEIP(7623) ? getCalldataFloorGas(tx) : 0n,
    typed: () => tx,
  };
}

/** Rules that change what a transaction's fields mean or cost in ways the decoder does not model. */
const UNMODELLED_EIPS = [2780, 7825, 7976, 7981, 8037];
const REQUIRED_EIPS = [1559, 2930, 3860];
/** secp256k1n / 2: a larger `s` is refused (EIP-2). */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const MAX_UINT64 = (1n << 64n) - 1n;
const MAX_UINT256 = (1n << 256n) - 1n;
const EMPTY = new Uint8Array(0);

/**
 * Decodes raw signed transactions (legacy with EIP-155, EIP-2930, EIP-1559) straight into
 * `TxFields`, about a tenth of what `createTxFromRLP` costs. It takes only what `createTxFromRLP`
 * would accept with the same fields: anything else (a malformed or unusual transaction, another
 * type, rules it does not model) gives null, and the caller decodes with `@ethereumjs/tx`, which
 * names the error. `txDecoder.test.ts` checks both agree on valid and mutilated transactions.
 */
export class TxDecoder {
  private readonly chainId: bigint;
  private readonly txGas: bigint;
  private readonly zeroByteGas: bigint;
  private readonly nonZeroByteGas: bigint;
  private readonly creationGas: bigint;
  private readonly initCodeWordGas: bigint;
  private readonly maxInitCodeSize: number;
  private readonly accessAddressGas: bigint;
  private readonly accessKeyGas: bigint;
  /** Per calldata token (EIP-7623); 0 when the floor is off. */
  private readonly floorPerToken: bigint;

  private constructor(private readonly common: Common) {
    const rules = txGasRules(common);
    this.chainId = common.chainId();
    this.txGas = rules.param("txGas");
    this.zeroByteGas = rules.param("txDataZeroGas");
    this.nonZeroByteGas = rules.param("txDataNonZeroGas");
    this.creationGas = rules.param("txCreationGas");
    this.initCodeWordGas = rules.param("initCodeWordGas");
    this.maxInitCodeSize = Number(rules.param("maxInitCodeSize"));
    this.accessAddressGas = rules.param("accessListAddressGas");
    this.accessKeyGas = rules.param("accessListStorageKeyGas");
    this.floorPerToken = rules.isActivatedEIP(7623) ? rules.param("totalCostFloorPerToken") : 0n;
  }

  /** Null when the chain's rules are not ones the decoder models (then every transaction goes to `@ethereumjs/tx`). */
  static create(common: Common): TxDecoder | null {
    if (UNMODELLED_EIPS.some((e) => common.isActivatedEIP(e))) return null;
    if (!REQUIRED_EIPS.every((e) => common.isActivatedEIP(e))) return null;
    return new TxDecoder(common);
  }

  /**
   * The transaction's fields, its sender still to be set (`DecodedTx.sender`), or null when
   * `@ethereumjs/tx` should decode it instead (see the class comment). Never throws.
   */
  decode(raw: Uint8Array): DecodedTx | null {
    if (raw.length === 0) return null;
    const type = raw[0]! >= 0xc0 ? 0 : raw[0]!;
    if (type !== 0 && type !== 1 && type !== 2) return null;
    let item: RlpItem;
    try {
      item = rlpDecode(type === 0 ? raw : raw.subarray(1));
    } catch {
      return null;
    }
    if (!Array.isArray(item)) return null;
    const n = type === 0 ? 9 : type === 1 ? 11 : 12;
    if (item.length !== n) return null;
    // Field positions: typed transactions start with the chain id, EIP-1559 has two fee fields.
    const o = type === 0 ? 0 : 1;
    const f = type === 2 ? 1 : 0;
    const accessAt = type === 0 ? -1 : o + 6 + f;
    for (let i = 0; i < n; i++) {
      // Every field is a byte string, except the access list.
      if (Array.isArray(item[i]) !== (i === accessAt)) return null;
    }
    const b = item as Uint8Array[];
    const nonce = b[o]!;
    const tip = b[o + 1]!;
    const maxFee = b[o + 1 + f]!;
    const gasLimit = b[o + 2 + f]!;
    const to = b[o + 3 + f]!;
    const value = b[o + 4 + f]!;
    const data = b[o + 5 + f]!;
    const access = accessAt < 0 ? [] : (item[accessAt] as RlpItem[]);
    const v = b[n - 3]!;
    if (type === 0) {
      // EIP-155 only: v = chainId × 2 + 35 or 36 (27/28 and the rest go to @ethereumjs/tx).
      if (!intOk(v, 32)) return null;
      const vv = toBig(v) - this.chainId * 2n;
      if (vv !== 35n && vv !== 36n) return null;
    } else {
      const chainId = b[0]!;
      if (!intOk(chainId, 32) || toBig(chainId) !== this.chainId) return null;
      // yParity: 0 (empty) or 1.
      if (!(v.length === 0 || (v.length === 1 && v[0] === 1))) return null;
    }
    const r = b[n - 2]!;
    const s = b[n - 1]!;
    // Where v's encoding starts in `raw`: the fields before it are what the signature signs.
    // (A single byte below 0x80 is its own encoding; other strings here have a one-byte header.)
    const signedEnd = v.byteOffset - raw.byteOffset - (v.length === 1 && v[0]! < 0x80 ? 0 : 1);
    const recid = type === 0 ? Number(toBig(v) - this.chainId * 2n - 35n) : v.length;
    if (!intOk(nonce, 8) || !intOk(gasLimit, 8) || !intOk(value, 32) || !intOk(maxFee, 32) || !intOk(tip, 32))
      return null;
    if (r.length === 0 || s.length === 0 || !intOk(r, 32) || !intOk(s, 32)) return null;
    if (to.length !== 0 && to.length !== 20) return null;
    const nonceN = toBig(nonce);
    const gasN = toBig(gasLimit);
    const maxFeeN = toBig(maxFee);
    const tipN = type === 2 ? toBig(tip) : maxFeeN;
    if (nonceN >= MAX_UINT64) return null;
    if (toBig(s) > HALF_N) return null;
    if (maxFeeN < tipN || gasN * maxFeeN > MAX_UINT256) return null;
    if (to.length === 0 && data.length > this.maxInitCodeSize) return null;

    // Intrinsic gas and the calldata floor, as @ethereumjs/tx computes them under these rules.
    let zeros = 0;
    for (let i = 0; i < data.length; i++) if (data[i] === 0) zeros++;
    const nonZeros = data.length - zeros;
    let intrinsic = this.txGas + BigInt(zeros) * this.zeroByteGas + BigInt(nonZeros) * this.nonZeroByteGas;
    if (to.length === 0)
      intrinsic += this.creationGas + this.initCodeWordGas * BigInt(Math.ceil(data.length / 32));
    const accessList: [Uint8Array, Uint8Array[]][] = [];
    let keys = 0;
    for (const entry of access) {
      if (!Array.isArray(entry) || entry.length !== 2) return null;
      const [addr, slots] = entry;
      if (Array.isArray(addr) || addr!.length !== 20 || !Array.isArray(slots)) return null;
      for (const k of slots) if (Array.isArray(k) || k.length !== 32) return null;
      keys += slots.length;
      accessList.push([addr!, slots as Uint8Array[]]);
    }
    intrinsic += BigInt(accessList.length) * this.accessAddressGas + BigInt(keys) * this.accessKeyGas;
    const floor =
      this.floorPerToken === 0n ? 0n : this.txGas + this.floorPerToken * BigInt(zeros + nonZeros * 4);

    return new DecodedTx(
      this.common,
      raw,
      type,
      nonceN,
      gasN,
      maxFeeN,
      tipN,
      type === 2,
      to.length === 0 ? null : to,
      toBig(value),
      data.length === 0 ? EMPTY : data,
      accessList,
      intrinsic,
      floor,
      { signedEnd, recid, r, s, chainId: this.chainId },
    );
  }
}

/** What `DecodedTx` keeps of the signature, to recover the sender without `@ethereumjs/tx`. */
interface SignatureParts {
  /** Offset in the raw bytes where v's encoding starts. */
  signedEnd: number;
  recid: number;
  r: Uint8Array;
  s: Uint8Array;
  chainId: bigint;
}

/** EIP-155's two empty strings after the chain id, encoded. */
const EMPTY_STRINGS = Uint8Array.of(0x80, 0x80);

/** Offset of the first item of the RLP list at `at`. */
function listStart(raw: Uint8Array, at: number): number {
  const p = raw[at]!;
  return at + (p <= 0xf7 ? 1 : 1 + (p - 0xf7));
}

/** An integer field: at most `maxBytes` long, no leading zero byte. */
function intOk(b: Uint8Array, maxBytes: number): boolean {
  return b.length <= maxBytes && (b.length === 0 || b[0] !== 0);
}

/** A transaction decoded by `TxDecoder`; its sender is set once recovered (`setSender`). */
export class DecodedTx implements TxFields {
  sender: Uint8Array = EMPTY;
  senderHex = "";
  private tx: TypedTransaction | null = null;

  constructor(
    private readonly common: Common,
    readonly raw: Uint8Array,
    readonly type: number,
    readonly nonce: bigint,
    readonly gasLimit: bigint,
    readonly maxFee: bigint,
    readonly tip: bigint,
    readonly is1559: boolean,
    readonly to: Uint8Array | null,
    readonly value: bigint,
    readonly data: Uint8Array,
    readonly accessList: AccessListBytes,
    readonly intrinsicGas: bigint,
    readonly floorGas: bigint,
    private readonly sig: SignatureParts,
  ) {}

  /**
   * The hash the sender signed, built from the raw bytes: the fields before the signature as they
   * are (with EIP-155's chain id, 0, 0 for legacy), where `@ethereumjs/tx` encodes them again.
   */
  signingHash(): Uint8Array {
    const { signedEnd, chainId } = this.sig;
    const raw = this.raw;
    if (this.type === 0) {
      const fields = raw.subarray(listStart(raw, 0), signedEnd);
      return keccak256(rlpListOf([fields, rlpEncode(u(chainId)), EMPTY_STRINGS]));
    }
    return keccak256(rlpListOf([raw.subarray(listStart(raw, 1), signedEnd)], raw.subarray(0, 1)));
  }

  /**
   * Recovers the sender from the signature (native ecrecover); throws when it does not recover.
   * The same address `@ethereumjs/tx` derives, at about a third of the cost.
   */
  recoverSender(): Uint8Array {
    const { r, s, recid } = this.sig;
    return recoverAddress(this.signingHash(), r, s, recid);
  }

  setSender(sender: Uint8Array): void {
    this.sender = sender;
    this.senderHex = hexOf(sender);
    if (this.tx !== null) pinSender(this.tx, sender);
  }

  typed(): TypedTransaction {
    if (this.tx === null) {
      this.tx = createTxFromRLP(this.raw, { common: this.common, freeze: false });
      if (this.sender.length === 20) pinSender(this.tx, this.sender);
    }
    return this.tx;
  }
}

/**
 * Makes `tx` answer `getSenderAddress()` with `sender`: ethereumjs re-derives the address on every
 * call, with a slow pure-JS keccak, and execution asks more than once.
 */
export function pinSender(tx: TypedTransaction, sender: Uint8Array): void {
  const address = new Address(sender);
  tx.getSenderAddress = () => address;
}
