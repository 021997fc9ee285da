import { join } from "node:path";
import { P2P_KEY_FILE, runCli } from "@staccato/common";
import { formatBanner } from "./banner.ts";
import { loopbackFor } from "./daemons.ts";
import { initDevnet, peerIdOfKeyFile, removeDevnet } from "./init.ts";
import { devnetLayout, planTopology } from "./layout.ts";
import { devnetFlags } from "./options.ts";
import { DevnetSupervisor } from "./supervisor.ts";

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

await runCli(
  devnetFlags,
  {
    program: "staccato-devnet",
    summary:
      "Starts a local Staccato network: a generated dev chain, one sequencer, provers and full nodes as local processes. Ctrl-C stops them all; running it again resumes the chain.",
  },
  async (o) => {
    const layout = devnetLayout(o.dataDir);
    if (o.fresh) removeDevnet(layout);
    const { created, config } = await initDevnet(layout, {
      provers: o.provers,
      proverQuorum: o.proverQuorum,
    });
    out(
      `devnet: ${created ? "created" : "resuming"} chain ${config.chainId} in ${layout.root} ` +
        `(${config.provers.length} provers, quorum ${config.proverQuorum})`,
    );
    if (o.initOnly) return;

    const plan = planTopology(config.provers.length, o.fullnodes, o);
    const sequencer = plan[0];
    const peerId = peerIdOfKeyFile(join(layout.dataDir(sequencer.name), P2P_KEY_FILE));
    const supervisor = new DevnetSupervisor(
      {
        layout,
        host: o.host,
        sequencerMultiaddr: `/ip4/127.0.0.1/tcp/${sequencer.p2pPort}/p2p/${peerId}`,
        sequencerRpc: `http://${loopbackFor(o.host)}:${sequencer.rpcPort}`,
        logLevel: o.logLevel,
        proverWorkers: o.proverWorkers,
        startTimeoutMs: o.startTimeoutMs,
        onCrash: o.onCrash,
      },
      { info: out, error: err },
    );
    let signalled = false;
    const onSignal = () => {
      signalled = true;
      void supervisor.stop();
    };
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, onSignal);
    try {
      await supervisor.start(plan);
    } catch (e) {
      if (!signalled) throw e;
      process.exit(await supervisor.done);
    }
    out(`\n${formatBanner({ config, plan, layout, host: o.host })}`);
    const code = await supervisor.done;
    out(`devnet: stopped; data kept in ${layout.root}`);
    process.exit(code);
  },
);
