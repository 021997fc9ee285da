import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { bytesToHex, concatBytes, hexToBytes, intToBytes } from "@ethereumjs/util";
import { keccak256 } from "../../src/crypto/keccak.ts";

/**
 * A stand-in for the EigenDA proxy (github.com/Layr-Labs/eigenda-proxy), which needs the EigenDA
 * network and cannot run here. It follows the proxy's documented "simple" commitment mode:
 * `POST /put?commitment_mode=simple` (blob as the body) answers the commitment as raw bytes, a
 * version byte then an opaque certificate; `GET /get/0x<commitment>?commitment_mode=simple`
 * answers the blob, 404 if unknown; while `down`, both answer 503, as the proxy does when the
 * disperser is unreachable. It keeps blobs in memory and records the order of puts.
 */
export interface FakeEigenDaProxy {
  url: string;
  /** Every blob put, in order. */
  puts: Uint8Array[];
  down: boolean;
  blobCount(): number;
  close(): Promise<void>;
}

export async function startFakeEigenDaProxy(): Promise<FakeEigenDaProxy> {
  const blobs = new Map<string, Uint8Array>();
  const puts: Uint8Array[] = [];
  let serial = 0;
  const state = { down: false };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://proxy");
      if (state.down) {
        res.writeHead(503).end("disperser unavailable");
        return;
      }
      if (url.searchParams.get("commitment_mode") !== "simple") {
        res.writeHead(400).end("only commitment_mode=simple is served here");
        return;
      }
      if (req.method === "POST" && url.pathname === "/put") {
        const blob = new Uint8Array(Buffer.concat(chunks));
        // Version byte 0x00, then a "certificate": a serial number and the payload's hash.
        const commitment = concatBytes(Uint8Array.of(0), intToBytes(++serial), keccak256(blob));
        blobs.set(bytesToHex(commitment), blob);
        puts.push(blob);
        res.writeHead(200, { "content-type": "application/octet-stream" }).end(commitment);
        return;
      }
      const m = /^\/get\/(0x[0-9a-fA-F]+)$/.exec(url.pathname);
      if (req.method === "GET" && m !== null) {
        const blob = blobs.get(bytesToHex(hexToBytes(m[1] as `0x${string}`)));
        if (blob === undefined) res.writeHead(404).end("blob not found");
        else res.writeHead(200, { "content-type": "application/octet-stream" }).end(blob);
        return;
      }
      res.writeHead(404).end("no such route");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    puts,
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
    blobCount: () => blobs.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
