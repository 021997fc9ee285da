import type { ChildProcess } from "node:child_process";
import { DaemonProcess } from "../../../fullnode/test/helpers/daemonProcess.ts";

/** Every prover started here, so an aborted test run never leaves one behind. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

/** A real staccato-prover process; its pino JSON lines are captured for assertions. */
export class ProverProcess extends DaemonProcess {
  p2p: string[] = [];

  /** Flags for a test prover: chain config, key, data dir, ephemeral ports, the sequencer as bootnode. */
  static args(o: {
    chain: string;
    keyFile: string;
    dataDir: string;
    bootnode: string;
    workers?: number;
  }): string[] {
    return [
      "--chain",
      o.chain,
      "--key-file",
      o.keyFile,
      "--data-dir",
      o.dataDir,
      "--workers",
      String(o.workers ?? 2),
      "--metrics-port",
      "0",
      "--p2p-listen",
      "/ip4/127.0.0.1/tcp/0",
      "--bootnodes",
      o.bootnode,
    ];
  }

  static async start(args: string[], startTimeoutMs = 30_000): Promise<ProverProcess> {
    const p = await DaemonProcess.spawnDaemon(
      (child) => new ProverProcess(child, args),
      "packages/prover/src/cli.ts",
      args,
      "prover started",
      live,
      startTimeoutMs,
    );
    p.p2p = p.started.p2p as string[];
    return p;
  }

  private constructor(
    child: ChildProcess,
    readonly args: string[],
  ) {
    super(child);
  }

  async health(): Promise<number> {
    return (await fetch(this.metricsUrl.replace(/\/metrics$/, "/health"))).status;
  }
}
