import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { bytesToHex, equalsBytes } from "@ethereumjs/util";
import { keccak256 } from "../crypto/keccak.ts";
import { ErrorCode, StaccatoError } from "../errors.ts";

/**
 * A data-availability store (DESIGN §7): `put` a blob and get back a commitment, `get` the blob
 * back by that commitment. Commitments are opaque bytes whose meaning belongs to the backend.
 */
export interface DaStore {
  /** What the store is, for logs: `dir /var/da`, `eigenda http://proxy:3100`. */
  readonly description: string;
  put(blob: Uint8Array): Promise<Uint8Array>;
  /** The blob, or a `DaError`: `unavailable` (try again later) or `corrupt` (never retry). */
  get(commitment: Uint8Array): Promise<Uint8Array>;
}

export type DaErrorKind = "unavailable" | "not-found" | "corrupt";

export class DaError extends StaccatoError<{ kind: DaErrorKind }> {
  constructor(kind: DaErrorKind, message: string) {
    super(ErrorCode.Da, message, { kind });
  }

  get kind(): DaErrorKind {
    return this.details.kind;
  }
}

/** Commitment version byte of the directory store: keccak256 of the blob follows (33 bytes). */
const DIR_COMMITMENT_KECCAK = 0x00;

/**
 * The embedded backend: a directory of content-addressed blobs. A blob's commitment is
 * `0x00 ‖ keccak256(blob)` and it lives at `<dir>/<2 hex>/<64 hex>.blob`. A write goes to a
 * temporary file that is fsynced and then renamed over the final name, so a reader (another
 * daemon sharing the directory, or this one after a crash) sees a whole blob or none. Every read
 * hashes the content and refuses a blob that does not match its commitment.
 */
export class DirectoryDaStore implements DaStore {
  readonly description: string;

  constructor(readonly dir: string) {
    this.description = `dir ${dir}`;
  }

  static commitmentOf(blob: Uint8Array): Uint8Array {
    const c = new Uint8Array(33);
    c[0] = DIR_COMMITMENT_KECCAK;
    c.set(keccak256(blob), 1);
    return c;
  }

  private pathOf(commitment: Uint8Array): string {
    if (commitment.length !== 33 || commitment[0] !== DIR_COMMITMENT_KECCAK)
      throw new DaError("not-found", `not a directory-store commitment: ${bytesToHex(commitment)}`);
    const hex = bytesToHex(commitment.subarray(1)).slice(2);
    return join(this.dir, hex.slice(0, 2), `${hex}.blob`);
  }

  async put(blob: Uint8Array): Promise<Uint8Array> {
    const commitment = DirectoryDaStore.commitmentOf(blob);
    const path = this.pathOf(commitment);
    const existing = await stat(path).catch(() => null);
    if (existing !== null && existing.size === blob.length) return commitment;
    try {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
      const fh = await open(tmp, "w");
      try {
        await fh.writeFile(blob);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path).catch(async (err: unknown) => {
        await rm(tmp, { force: true });
        throw err;
      });
      syncDir(dirname(path));
    } catch (err) {
      throw new DaError(
        "unavailable",
        `DA dir ${this.dir}: could not write a blob: ${(err as Error).message}`,
      );
    }
    return commitment;
  }

  async get(commitment: Uint8Array): Promise<Uint8Array> {
    const path = this.pathOf(commitment);
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT")
        throw new DaError("not-found", `DA dir ${this.dir} has no blob ${bytesToHex(commitment)}`);
      throw new DaError("unavailable", `DA dir ${this.dir}: ${(err as Error).message}`);
    }
    const blob = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const got = keccak256(blob);
    if (!equalsBytes(got, commitment.subarray(1)))
      throw new DaError(
        "corrupt",
        `DA blob ${path} is corrupt: its content hashes to ${bytesToHex(got)}, not to its commitment ${bytesToHex(commitment)}`,
      );
    return blob;
  }
}

/** Makes a rename durable: fsync the directory that holds the new name. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The EigenDA proxy's REST API (github.com/Layr-Labs/eigenda-proxy), in its "simple" commitment
 * mode: `POST /put?commitment_mode=simple` with the blob as the body answers the commitment (raw
 * bytes: a version byte and the DA certificate); `GET /get/0x<commitment>?commitment_mode=simple`
 * answers the blob, 404 if unknown. The proxy checks the certificate and the KZG proof; Staccato
 * checks every bundle it reads against the hash the sequencer signed.
 */
export class EigenDaProxyStore implements DaStore {
  readonly description: string;
  private readonly base: string;

  constructor(
    url: string,
    private readonly timeoutMs = 60_000,
  ) {
    this.base = url.replace(/\/+$/, "");
    this.description = `eigenda ${this.base}`;
  }

  async put(blob: Uint8Array): Promise<Uint8Array> {
    const res = await this.fetch(`${this.base}/put?commitment_mode=simple`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: blob,
    });
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200)
      throw new DaError(
        "unavailable",
        `EigenDA proxy ${this.base}: put answered ${res.status}: ${snippet(body)}`,
      );
    if (body.length === 0)
      throw new DaError("unavailable", `EigenDA proxy ${this.base}: put answered an empty commitment`);
    return body;
  }

  async get(commitment: Uint8Array): Promise<Uint8Array> {
    const res = await this.fetch(`${this.base}/get/${bytesToHex(commitment)}?commitment_mode=simple`, {
      method: "GET",
    });
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status === 200) return body;
    if (res.status === 404)
      throw new DaError("not-found", `EigenDA proxy ${this.base} has no blob ${bytesToHex(commitment)}`);
    throw new DaError(
      "unavailable",
      `EigenDA proxy ${this.base}: get answered ${res.status}: ${snippet(body)}`,
    );
  }

  private async fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new DaError("unavailable", `EigenDA proxy ${this.base}: ${cause ?? (err as Error).message}`);
    }
  }
}

function snippet(body: Uint8Array): string {
  return new TextDecoder().decode(body.subarray(0, 200)).replace(/\s+/g, " ").trim();
}

export const DA_BACKENDS = ["none", "dir", "eigenda"] as const;
export type DaBackend = (typeof DA_BACKENDS)[number];

/** The store `--da`, `--da-dir` and `--da-url` name, or null for `--da none`. */
export function openDaStore(o: { da: DaBackend; daDir: string; daUrl?: string | undefined }): DaStore | null {
  switch (o.da) {
    case "none":
      return null;
    case "dir":
      return new DirectoryDaStore(o.daDir);
    case "eigenda":
      if (o.daUrl === undefined) throw new Error("--da eigenda needs --da-url <proxy url>");
      return new EigenDaProxyStore(o.daUrl);
  }
}
