import type { Account, Address } from "@ethereumjs/util";
import { hexOf } from "../util/hex.ts";
import { type AccountRec, MemoryState, type StateReader } from "./memoryState.ts";
import { ErrorCode, StaccatoError } from "../errors.ts";

/**
 * A state version read from disk (a full node's archive of past blocks): the same keys as a
 * `StateReader`, each an index lookup.
 */
export interface AsyncStateReader {
  readonly async: true;
  account(addr: string): Promise<AccountRec | undefined>;
  code(addr: string): Promise<Uint8Array | undefined>;
  slot(addr: string, key: string): Promise<Uint8Array | undefined>;
}

/** Either kind of state version. */
export type AnyStateReader = StateReader | AsyncStateReader;

export function isAsyncReader(r: AnyStateReader): r is AsyncStateReader {
  return (r as AsyncStateReader).async === true;
}

/** Thrown when execution reads a key the lazy state did not load first (a bug, never a result). */
export class NotLoadedError extends StaccatoError<{ what: string }> {
  constructor(what: string) {
    super(ErrorCode.NotLoaded, `historical state: ${what} was read before it was loaded`, { what });
  }
}

/** What execution has read of an async state version, for synchronous reads afterwards. */
class Loaded implements StateReader {
  private readonly accounts = new Map<string, AccountRec | undefined>();
  private readonly codes = new Map<string, Uint8Array | undefined>();
  private readonly slotValues = new Map<string, Uint8Array | undefined>();

  constructor(private readonly source: AsyncStateReader) {}

  async loadAccount(addr: string): Promise<void> {
    if (!this.accounts.has(addr)) this.accounts.set(addr, await this.source.account(addr));
  }

  async loadCode(addr: string): Promise<void> {
    await this.loadAccount(addr);
    if (!this.codes.has(addr)) this.codes.set(addr, await this.source.code(addr));
  }

  async loadSlot(addr: string, key: string): Promise<void> {
    const k = `${addr}:${key}`;
    if (!this.slotValues.has(k)) this.slotValues.set(k, await this.source.slot(addr, key));
  }

  account(addr: string): AccountRec | undefined {
    if (!this.accounts.has(addr)) throw new NotLoadedError(`account ${addr}`);
    return this.accounts.get(addr);
  }

  code(addr: string): Uint8Array | undefined {
    if (!this.codes.has(addr)) throw new NotLoadedError(`the code of ${addr}`);
    return this.codes.get(addr);
  }

  slot(addr: string, key: string): Uint8Array | undefined {
    const k = `${addr}:${key}`;
    if (!this.slotValues.has(k)) throw new NotLoadedError(`slot ${key} of ${addr}`);
    return this.slotValues.get(k);
  }

  /** Whole storages are not read from the archive (snapshots and proofs use sealed state). */
  slots(): ReadonlyMap<string, Uint8Array> | undefined {
    return undefined;
  }

  /**
   * Whether an account had storage: only CREATE's address-collision rule (EIP-7610) asks, for an
   * address with no code and no nonce. The archive does not index it; such an address is taken
   * as having none.
   */
  hasStorage(): boolean {
    return false;
  }
}

/**
 * A copy-on-write EVM state over an async state version (`eth_call` at a past block): each
 * account, code and slot execution touches is loaded before the access, then served from memory.
 * Writes stay in this layer, as with `MemoryState` over a synchronous version.
 */
export class LazyState extends MemoryState {
  private readonly loaded: Loaded;

  constructor(source: AsyncStateReader) {
    const loaded = new Loaded(source);
    super(loaded);
    this.loaded = loaded;
    const original = this.originalStorageCache;
    Object.defineProperty(this, "originalStorageCache", {
      value: {
        get: async (address: Address, key: Uint8Array): Promise<Uint8Array> => {
          await loaded.loadSlot(hexOf(address.bytes), hexOf(key));
          return original.get(address, key);
        },
        clear: () => original.clear(),
      },
    });
  }

  override async getAccount(address: Address): Promise<Account | undefined> {
    await this.loaded.loadAccount(hexOf(address.bytes));
    return super.getAccount(address);
  }

  override async putAccount(address: Address, account?: Account): Promise<void> {
    await this.loaded.loadCode(hexOf(address.bytes));
    return super.putAccount(address, account);
  }

  override async deleteAccount(address: Address): Promise<void> {
    await this.loaded.loadCode(hexOf(address.bytes));
    return super.deleteAccount(address);
  }

  override async modifyAccountFields(
    address: Address,
    fields: Partial<{ nonce: bigint; balance: bigint; codeHash: Uint8Array }>,
  ): Promise<void> {
    await this.loaded.loadAccount(hexOf(address.bytes));
    return super.modifyAccountFields(address, fields);
  }

  override async putCode(address: Address, value: Uint8Array): Promise<void> {
    await this.loaded.loadCode(hexOf(address.bytes));
    return super.putCode(address, value);
  }

  override async getCode(address: Address): Promise<Uint8Array> {
    await this.loaded.loadCode(hexOf(address.bytes));
    return super.getCode(address);
  }

  override async getCodeSize(address: Address): Promise<number> {
    await this.loaded.loadCode(hexOf(address.bytes));
    return super.getCodeSize(address);
  }

  override async getStorage(address: Address, key: Uint8Array): Promise<Uint8Array> {
    await this.loaded.loadSlot(hexOf(address.bytes), hexOf(key));
    return super.getStorage(address, key);
  }

  override async putStorage(address: Address, key: Uint8Array, value: Uint8Array): Promise<void> {
    const addr = hexOf(address.bytes);
    await this.loaded.loadAccount(addr);
    await this.loaded.loadSlot(addr, hexOf(key));
    return super.putStorage(address, key, value);
  }

  override async clearStorage(address: Address): Promise<void> {
    await this.loaded.loadAccount(hexOf(address.bytes));
    return super.clearStorage(address);
  }
}
