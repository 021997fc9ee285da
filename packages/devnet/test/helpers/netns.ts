import { type ChildProcess, spawn, spawnSync } from "node:child_process";

/**
 * Test hosts made of Linux network namespaces: every host gets its own 10.x address on one
 * bridge, and the bridge lives in a fifth "switch" namespace (a bridge in the root namespace stops
 * forwarding once dockerd has set its iptables rules). The test process reaches the hosts through
 * one more veth from the root namespace into the switch. Needs root and iproute2.
 */
export class NetnsLab {
  readonly hosts = new Map<string, { ns: string; ip: string; ifname: string }>();
  private readonly switchNs: string;
  private readonly rootIf: string;
  private created: string[] = [];
  readonly rootIp: string;

  /** `subnet` like "10.231.7": hosts get .1, .2, …; the root namespace's leg gets .254. */
  constructor(
    private readonly tag: string,
    private readonly subnet: string,
  ) {
    this.switchNs = `${tag}-switch`;
    this.rootIf = `${tag}r`;
    this.rootIp = `${subnet}.254`;
  }

  /** Whether this process may create namespaces (root with iproute2). */
  static available(): { ok: boolean; why: string } {
    if (process.getuid?.() !== 0) return { ok: false, why: "needs root" };
    const r = spawnSync("ip", ["-V"]);
    if (r.status !== 0) return { ok: false, why: "needs iproute2 (ip)" };
    return { ok: true, why: "" };
  }

  create(hostNames: string[]): void {
    this.addNs(this.switchNs);
    ip("-n", this.switchNs, "link", "add", "br0", "type", "bridge");
    ip("-n", this.switchNs, "link", "set", "br0", "up");
    hostNames.forEach((name, i) => {
      const ns = `${this.tag}-${name}`;
      const ifname = `${this.tag}h${i}`;
      const hostIp = `${this.subnet}.${i + 1}`;
      this.addNs(ns);
      ip("-n", ns, "link", "set", "lo", "up");
      ip(
        "link",
        "add",
        ifname,
        "netns",
        ns,
        "type",
        "veth",
        "peer",
        "name",
        `${this.tag}s${i}`,
        "netns",
        this.switchNs,
      );
      ip("-n", ns, "addr", "add", `${hostIp}/24`, "dev", ifname);
      ip("-n", ns, "link", "set", ifname, "up");
      this.plug(`${this.tag}s${i}`);
      this.hosts.set(name, { ns, ip: hostIp, ifname });
    });
    ip("link", "add", this.rootIf, "type", "veth", "peer", "name", `${this.tag}sr`, "netns", this.switchNs);
    ip("addr", "add", `${this.rootIp}/24`, "dev", this.rootIf);
    ip("link", "set", this.rootIf, "up");
    this.plug(`${this.tag}sr`);
  }

  host(name: string): { ns: string; ip: string; ifname: string } {
    const h = this.hosts.get(name);
    if (h === undefined) throw new Error(`no host ${name}`);
    return h;
  }

  /** Pulls a host's cable (its interface down) or plugs it back in. */
  setLink(name: string, up: boolean): void {
    const h = this.host(name);
    ip("-n", h.ns, "link", "set", h.ifname, up ? "up" : "down");
  }

  /** Runs `argv` inside a host's namespace. */
  spawn(name: string, argv: string[], env: NodeJS.ProcessEnv): ChildProcess {
    return spawn("ip", ["netns", "exec", this.host(name).ns, ...argv], {
      stdio: ["ignore", "pipe", "pipe"],
      env,
    });
  }

  /** Deletes every namespace and the root leg. Never throws; safe to call twice. */
  destroy(): void {
    spawnSync("ip", ["link", "del", this.rootIf]);
    for (const ns of this.created.reverse()) spawnSync("ip", ["netns", "del", ns]);
    this.created = [];
  }

  private addNs(ns: string): void {
    spawnSync("ip", ["netns", "del", ns]); // a leftover from a killed run
    ip("netns", "add", ns);
    this.created.push(ns);
  }

  private plug(ifname: string): void {
    ip("-n", this.switchNs, "link", "set", ifname, "master", "br0");
    ip("-n", this.switchNs, "link", "set", ifname, "up");
  }
}

function ip(...args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim() || `exit ${r.status}`}`);
}
