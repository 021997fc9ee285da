import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  createRegistry,
  devAccounts,
  devChainConfig,
  NODE_INFO_METHODS,
  type RpcServer,
  silentLogger,
} from "@staccato/common";
import { metricValue } from "../../../fullnode/test/helpers/daemonProcess.ts";
import { rpc, rpcRaw } from "../../../sequencer/test/helpers/rpcClient.ts";
import { CLIENT_VERSION, PROVER_METHODS, proverRpcServer } from "../../src/node/proverRpc.ts";

describe("prover / rpc (--rpc-port)", () => {
  const registry = createRegistry({ daemon: "prover" });
  const config = devChainConfig({ sequencer: devAccounts()[0]!.address });
  let server: RpcServer;
  let url: string;

  before(async () => {
    server = proverRpcServer(
      { rpcHost: "127.0.0.1", rpcPort: 0, corsOrigins: "*" },
      {
        logger: silentLogger(),
        config,
        address: devAccounts()[1]!.address,
        health: () => ({ ok: true }),
        peerId: () => "12D3KooWtest",
        peers: () => 0,
        registry,
      },
    );
    const a = await server.listen();
    url = `http://${a.host}:${a.port}`;
  });
  after(async () => {
    await server?.close();
  });

  it("answers every method it declares", async () => {
    for (const method of [...NODE_INFO_METHODS, ...PROVER_METHODS]) {
      const r = await rpcRaw(url, method);
      assert.equal(r.error, undefined, `${method}: ${JSON.stringify(r)}`);
    }
    assert.equal(await rpc(url, "web3_clientVersion"), CLIENT_VERSION);
    assert.equal(await rpc(url, "eth_chainId"), `0x${config.chainId.toString(16)}`);
  });

  it("records the same per-method RPC latency histogram as the sequencer and the full node", async () => {
    const count = async (method: string) =>
      metricValue(await registry.metrics(), "staccato_rpc_request_duration_seconds_count", {
        daemon: "prover",
        method,
      });
    const before = await count("net_version");
    await rpc(url, "net_version");
    await rpc(url, "net_version");
    assert.equal(await count("net_version"), before + 2);
    await rpcRaw(url, "eth_getBalance", []);
    assert.equal(await count("unknown"), 1, "a method the prover does not serve is counted as unknown");
  });
});
