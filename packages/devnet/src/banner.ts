import { relative } from "node:path";
import { toChecksumAddress } from "@ethereumjs/util";
import { type ChainConfig, DEV_ACCOUNT_BALANCE, DEV_MNEMONIC, devAccounts } from "@staccato/common";
import { loopbackFor } from "./daemons.ts";
import type { DaemonPlan, DevnetLayout } from "./layout.ts";

/** The first line of the banner: tests and scripts wait for it. */
export const READY_LINE = "Staccato devnet is up";

/**
 * The dashboard on the sequencer's RPC port, told about every daemon of the devnet (by name and
 * port on the same host) so its nodes table shows them all.
 */
export function dashboardUrl(plan: DaemonPlan[], host: string): string {
  const order: Record<DaemonPlan["role"], number> = { sequencer: 0, fullnode: 1, prover: 2 };
  const nodes = [...plan]
    .sort((a, b) => order[a.role] - order[b.role] || a.index - b.index)
    .map((d) => `${d.name}@${d.rpcPort}`)
    .join(",");
  return `http://${host}:${plan[0].rpcPort}/?nodes=${nodes}`;
}

/** What the devnet prints once every daemon answers `/health`. */
export function formatBanner(args: {
  config: ChainConfig;
  plan: DaemonPlan[];
  layout: DevnetLayout;
  host: string;
}): string {
  const { config, plan, layout } = args;
  const host = loopbackFor(args.host);
  const where = (p: string) => {
    const r = relative(process.cwd(), p);
    return r === "" ? "." : r.startsWith("..") ? p : r;
  };
  const sequencer = plan[0];
  const seqUrl = `http://${host}:${sequencer.rpcPort}`;
  const out: string[] = [];
  out.push(`${READY_LINE} (chain id ${config.chainId}, data in ${where(layout.root)})`, "");
  out.push(`Dashboard: ${dashboardUrl(plan, host)}`, "");
  out.push("JSON-RPC (HTTP and WebSocket on the same port):");
  for (const d of plan) {
    if (d.role === "prover") continue;
    const url = `${host}:${d.rpcPort}`;
    out.push(`  ${d.name.padEnd(11)} http://${url}  ws://${url}`);
  }
  const provers = plan.filter((d) => d.role === "prover");
  if (provers.length > 0) {
    out.push("", `Provers (a block is finalized once ${config.proverQuorum} of them attest it):`);
    for (const d of provers)
      out.push(
        `  ${d.name.padEnd(11)} ${toChecksumAddress(config.provers[d.index - 1])}  metrics http://127.0.0.1:${d.metricsPort}/metrics  node info http://${host}:${d.rpcPort}`,
      );
  } else out.push("", "No provers: every sealed block is final.");
  out.push(
    "",
    `Chain id: ${config.chainId}`,
    "",
    `Dev accounts, ${DEV_ACCOUNT_BALANCE / 10n ** 18n} ETH each (mnemonic "${DEV_MNEMONIC}"):`,
  );
  devAccounts().forEach((a, i) => {
    const key = `0x${Buffer.from(a.privateKey).toString("hex")}`;
    out.push(`  (${String(i).padStart(2)}) ${toChecksumAddress(a.address)}  ${key}`);
  });
  out.push(
    "",
    "MetaMask: Settings > Networks > Add a network manually:",
    "  Network name     Staccato devnet",
    `  New RPC URL      ${seqUrl}   (or a full node's)`,
    `  Chain ID         ${config.chainId}`,
    "  Currency symbol  ETH",
    "then Add account > Import account, and paste one of the private keys above.",
    "",
    `Logs: ${where(layout.logsDir)}/{${plan.map((d) => d.name).join(",")}}.log`,
    `DA:   ${where(layout.daDir)} (every block, published by the sequencer, read by provers and full nodes)`,
    "Ctrl-C stops every daemon. Run the devnet again to resume this chain; --fresh starts a new one.",
  );
  return `${out.join("\n")}\n`;
}
