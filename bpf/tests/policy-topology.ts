// Two nodes on one underlay bridge, in tunnel (VXLAN, UDP 8472) or native routing mode (static routes
// standing in for bird2's BGP routes), node a with pods a1 and a2, node b with pod b1, the real datapath
// attached everywhere as the agent attaches it, and the ipcache each agent's sync would write. For the
// policy root tests: policies are set per endpoint by hand (no policy engine), traffic is real.
import { randomBytes } from 'node:crypto';
import { run } from '../../harness/exec/run.js';
import { openDatapath } from '../../agent/datapath/datapath.js';
import { withNetns } from '../../agent/datapath/netns.js';
import { RESERVED_IDENTITY } from '../../agent/datapath/constants.js';
import type { Datapath, DatapathEvent, RoutingMode } from '../../agent/datapath/types.js';
import { buildAndMount, removePinDir, tempPinDir } from './fixture.js';

export interface TopoPod {
  name: string;
  netns: string;
  ip: string;
  identity: number;
  endpointId: number;
  lxc: string;
}

export interface TopoNode {
  name: string;
  netns: string;
  /** Its port on the fabric bridge (capture there to see what it puts on the wire). */
  fabricPort: string;
  nodeIp: string;
  routerIp: string;
  podCidr: string;
  pods: TopoPod[];
  pinDir: string;
  dp?: Datapath;
  events: DatapathEvent[];
}

export class PolicyTopology {
  readonly tag = randomBytes(3).toString('hex');
  readonly fabricNs = `cnilab-poltest-${this.tag}-fab`;
  readonly nodes: [TopoNode, TopoNode];
  private stops: Array<() => void> = [];

  constructor(readonly mode: RoutingMode) {
    const ns = (what: string) => `cnilab-poltest-${this.tag}-${what}`;
    const pod = (node: number, i: number): TopoPod => ({
      name: `${node === 1 ? 'a' : 'b'}${i}`, netns: ns(`${node === 1 ? 'a' : 'b'}${i}`), ip: `198.19.${node}.${10 + i}`,
      identity: 5000 + node * 10 + i, endpointId: i, lxc: `lxc${i}`,
    });
    const node = (name: string, n: number, pods: number): TopoNode => ({
      name, netns: ns(name), fabricPort: `port-${name}`, nodeIp: `198.18.0.${10 + n}`, routerIp: `198.19.${n}.1`,
      podCidr: `198.19.${n}.0/24`, pods: Array.from({ length: pods }, (_, i) => pod(n, i + 1)), pinDir: '', events: [],
    });
    this.nodes = [node('a', 1, 2), node('b', 2, 1)];
  }

  pod(name: string): TopoPod {
    const p = this.nodes.flatMap((n) => n.pods).find((x) => x.name === name);
    if (!p) throw new Error(`no pod ${name}`);
    return p;
  }

  nodeOf(pod: TopoPod): TopoNode {
    return this.nodes.find((n) => n.pods.includes(pod))!;
  }

  async up(): Promise<void> {
    await buildAndMount();
    const all = [this.fabricNs, ...this.nodes.flatMap((n) => [n.netns, ...n.pods.map((p) => p.netns)])];
    for (const x of all) await run(['ip', 'netns', 'add', x]);
    const fab = (...a: string[]) => run(['ip', ...a], { netns: this.fabricNs });
    await fab('link', 'add', 'br0', 'type', 'bridge');
    await fab('link', 'set', 'br0', 'up');
    for (const n of this.nodes) {
      await fab('link', 'add', n.fabricPort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.netns);
      await fab('link', 'set', n.fabricPort, 'master', 'br0', 'up');
    }
    await this.setupNode(this.nodes[0], this.nodes[1]);
    await this.setupNode(this.nodes[1], this.nodes[0]);
  }

  private async setupNode(n: TopoNode, peer: TopoNode): Promise<void> {
    const ip = (args: string[], netns = n.netns) => run(['ip', ...args], { netns });
    const sysctl = (kv: string, netns = n.netns) => run(['sysctl', '-qw', kv], { netns });
    const tunnel = this.mode === 'tunnel';
    await ip(['link', 'set', 'lo', 'up']);
    await sysctl('net.ipv4.ip_forward=1');
    for (const d of ['all', 'default']) await sysctl(`net.ipv4.conf.${d}.rp_filter=0`);
    await ip(['addr', 'add', `${n.nodeIp}/24`, 'dev', 'eth0']);
    await ip(['link', 'set', 'eth0', 'up']);
    await ip(['link', 'add', 'cilium_host', 'type', 'veth', 'peer', 'name', 'cilium_net']);
    for (const d of ['cilium_host', 'cilium_net']) {
      await ip(['link', 'set', d, 'arp', 'off']);
      await ip(['link', 'set', d, 'up']);
    }
    await ip(['addr', 'add', `${n.routerIp}/32`, 'dev', 'cilium_host']);
    if (tunnel) {
      await ip(['link', 'add', 'cilium_vxlan', 'type', 'vxlan', 'external', 'dstport', '8472']);
      await sysctl('net.ipv4.conf.cilium_vxlan.rp_filter=0');
      await ip(['link', 'set', 'cilium_vxlan', 'up']);
      await ip(['route', 'add', peer.podCidr, 'via', n.routerIp, 'dev', 'cilium_host', 'src', n.routerIp, 'mtu', '1450']);
    } else {
      await ip(['route', 'add', peer.podCidr, 'via', peer.nodeIp, 'dev', 'eth0']);
    }
    for (const p of n.pods) {
      await run(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { netns: p.netns });
      await ip(['link', 'add', p.lxc, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.netns]);
      await ip(['link', 'set', p.lxc, 'up']);
      await ip(['route', 'add', `${p.ip}/32`, 'dev', p.lxc]);
      await ip(['link', 'set', 'lo', 'up'], p.netns);
      await ip(['addr', 'add', `${p.ip}/32`, 'dev', 'eth0'], p.netns);
      await ip(['link', 'set', 'eth0', 'mtu', tunnel ? '1450' : '1500', 'up'], p.netns);
      await ip(['route', 'add', n.routerIp, 'dev', 'eth0', 'scope', 'link'], p.netns);
      await ip(['route', 'add', 'default', 'via', n.routerIp, 'dev', 'eth0'], p.netns);
    }
    const info = async (netns: string, dev: string) =>
      (JSON.parse((await run(['ip', '-j', 'link', 'show', 'dev', dev], { netns })).stdout) as Array<{ ifindex: number; address: string }>)[0]!;
    const host = await info(n.netns, 'cilium_host');
    const eth0 = await info(n.netns, 'eth0');
    const vxlan = tunnel ? await info(n.netns, 'cilium_vxlan') : undefined;
    const eps = [];
    for (const p of n.pods) eps.push({ p, lxc: await info(n.netns, p.lxc), pod: await info(p.netns, 'eth0') });
    n.pinDir = tempPinDir(`poltop-${n.name}`);
    withNetns(n.netns, () => {
      const dp = openDatapath({ pinDir: n.pinDir, routing: this.mode, nodeIp: n.nodeIp, routerIp: n.routerIp, podCidr: n.podCidr });
      n.dp = dp;
      for (const { p, lxc, pod } of eps) {
        dp.upsertEndpoint({ ifindex: lxc.ifindex, ip: p.ip, podMac: pod.address, hostMac: lxc.address, identity: p.identity, endpointId: p.endpointId });
      }
      // What the agent's ipcache sync writes.
      dp.upsertIpcache(peer.podCidr, { identity: RESERVED_IDENTITY.remoteNode, tunnelEndpoint: peer.nodeIp });
      dp.upsertIpcache(peer.nodeIp, { identity: RESERVED_IDENTITY.remoteNode });
      for (const p of peer.pods) dp.upsertIpcache(p.ip, { identity: p.identity, tunnelEndpoint: peer.nodeIp });
      dp.attachHostDevice('cilium_host', host.ifindex);
      if (vxlan) dp.attachOverlayDevice('cilium_vxlan', vxlan.ifindex);
      else dp.attachNetdevDevice!('eth0', eth0.ifindex);
      for (const { p, lxc } of eps) dp.attachEndpointDevice(p.lxc, lxc.ifindex);
    });
    this.stops.push(n.dp!.onEvents((e) => n.events.push(e)));
  }

  /** Forget the events seen so far. */
  clearEvents(): void {
    for (const n of this.nodes) n.events.length = 0;
  }

  /**
   * Waits until no event has arrived for quietMs (at most maxMs), then forgets them all. A case's probes
   * that timed out leave stragglers (a SYN retransmitted just before the probe's socket closed, read
   * from the ring a moment later) that would otherwise land in the next case's events: a CI run saw the
   * previous case's retransmitted SYN as a drop on the node the next case asserts saw none.
   */
  async settleEvents(quietMs = 300, maxMs = 3000): Promise<void> {
    const deadline = Date.now() + maxMs;
    const count = () => this.nodes.reduce((k, n) => k + n.events.length, 0);
    let seen = count();
    let quietSince = Date.now();
    while (Date.now() - quietSince < quietMs && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      if (count() !== seen) { seen = count(); quietSince = Date.now(); }
    }
    this.clearEvents();
  }

  /** Waits (up to timeoutMs) until pred holds for the events collected so far; returns whether it did. */
  async waitEvents(pred: () => boolean, timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  async down(): Promise<void> {
    this.stops.forEach((s) => s());
    for (const n of this.nodes) {
      n.dp?.close();
      for (const p of n.pods) await run(['ip', 'netns', 'del', p.netns], { allowFailure: true });
      await run(['ip', 'netns', 'del', n.netns], { allowFailure: true });
      if (n.pinDir) removePinDir(n.pinDir);
    }
    await run(['ip', 'netns', 'del', this.fabricNs], { allowFailure: true });
  }
}
