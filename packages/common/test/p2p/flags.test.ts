import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCli } from "../../src/config/cli.ts";
import { p2pFlags, p2pOptionsFromFlags } from "../../src/p2p/flags.ts";

const META = { program: "test", summary: "test" };
const BOOT = "/ip4/127.0.0.1/tcp/9000/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq";

describe("p2p / flags", () => {
  it("parses listen, announce and bootnodes; the key goes in the data dir", () => {
    const r = parseCli(
      p2pFlags(9100),
      ["--p2p-listen", "/ip4/127.0.0.1/tcp/1,/ip4/127.0.0.1/tcp/2", "--bootnodes", BOOT],
      { STACCATO_P2P_ANNOUNCE: "/dns4/example.org/tcp/9100" },
      META,
    );
    assert.equal(r.kind, "ok");
    if (r.kind !== "ok") return;
    const opts = p2pOptionsFromFlags(r.options, "/data/full");
    assert.deepEqual(opts.listen, ["/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/2"]);
    assert.deepEqual(opts.announce, ["/dns4/example.org/tcp/9100"]);
    assert.deepEqual(opts.bootnodes, [BOOT]);
    assert.equal(opts.keyFile, "/data/full/p2p.key");
  });

  it("defaults to the daemon's port on all interfaces", () => {
    const r = parseCli(p2pFlags(9100), [], {}, META);
    assert.equal(r.kind, "ok");
    if (r.kind === "ok") assert.deepEqual(r.options.p2pListen, ["/ip4/0.0.0.0/tcp/9100"]);
  });

  it("refuses a bootnode that is not a multiaddr", () => {
    const r = parseCli(p2pFlags(9100), ["--bootnodes", "127.0.0.1:9000"], {}, META);
    assert.equal(r.kind, "error");
  });
});
