// Two nodes in native routing mode, for the real-device test and the throughput comparison: a fabric
// netns with the underlay bridge (like the cluster's), each node's eth0 on it, static routes standing in
// for the BGP routes bird2 installs (`<other pod CIDR> via <other node> dev eth0`), a default route to an
// absent underlay gateway (as in the cluster: a withdrawn pod route falls through to it), one pod per node.
// The datapath can be attached and detached, so the same devices serve as the plain-kernel baseline.
import { randomBytes } from 'node:crypto';
import { run } from '../../harness/exec/run.js';
import { openDatapath } from '../../agent/datapath/datapath.js';
import { withNetns } from '../../agent/datapath/netns.js';
import { BPF_TC_EGRESS, BPF_TC_INGRESS, tcDetach } from '../../agent/datapath/libbpf.js';
import { TC_HANDLE, TC_PRIORITY } from '../../agent/datapath/constants.js';
import type { Datapath, DatapathEvent } from '../../agent/datapath/types.js';
import { buildAndMount, removePinDir, tempPinDir } from './fixture.js';

export interface NativeNode {
  name: string;
  nodeNs: string;
  podNs: string;
  /** This node's port on the fabric bridge (capture here to see its underlay traffic). */
  fabricPort: string;
  nodeIp: string;
  routerIp: string;
  podCidr: string;
  podIp: string;
  identity: number;
  pinDir: string;
  ifindex: { lxc: number; eth0: number; host: number };
  dp?: Datapath;
  events: DatapathEvent[];
}

export const GATEWAY = '198.18.0.1';
/** Cilium's reserved identity remote-node. */
export const REMOTE_NODE_IDENTITY = 6;

export class NativeTopology {
  readonly tag = randomBytes(3).toString('hex');
  readonly fabricNs = `cnilab-nattest-${this.tag}-fab`;
  readonly nodes: [NativeNode, NativeNode];
  private stopEvents: Array<() => void> = [];

  constructor() {
    const mk = (name: string, n: number): NativeNode => ({
      name, nodeNs: `cnilab-nattest-${this.tag}-${name}`, podNs: `cnilab-nattest-${this.tag}-${name}-pod`, fabricPort: `port-${name}`,
      nodeIp: `198.18.0.${10 + n}`, routerIp: `198.19.${n}.1`, podCidr: `198.19.${n}.0/24`, podIp: `198.19.${n}.10`,
      identity: 5000 + n, pinDir: '', ifindex: { lxc: 0, eth0: 0, host: 0 }, events: [],
    });
    this.nodes = [mk('a', 1), mk('b', 2)];
  }

  async up(): Promise<void> {
    await buildAndMount();
    const [A, B] = this.nodes;
    for (const x of [this.fabricNs, A.nodeNs, A.podNs, B.nodeNs, B.podNs]) await run(['ip', 'netns', 'add', x]);
    const fab = (...a: string[]) => run(['ip', ...a], { netns: this.fabricNs });
    await fab('link', 'add', 'br0', 'type', 'bridge');
    await fab('link', 'set', 'br0', 'up');
    for (const n of this.nodes) {
      await fab('link', 'add', n.fabricPort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.nodeNs);
      await fab('link', 'set', n.fabricPort, 'master', 'br0', 'up');
    }
    await this.setupNode(A, B);
    await this.setupNode(B, A);
  }

  private async setupNode(n: NativeNode, peer: NativeNode): Promise<void> {
    const ip = (args: string[], netns = n.nodeNs) => run(['ip', ...args], { netns });
    const sysctl = (kv: string, netns = n.nodeNs) => run(['sysctl', '-qw', kv], { netns });
    await ip(['link', 'set', 'lo', 'up']);
    // What agent/routing/devices.ts sets: forwarding on (before the lxc exists, so it inherits it), no
    // reverse-path filtering.
    await sysctl('net.ipv4.ip_forward=1');
    for (const d of ['all', 'default']) await sysctl(`net.ipv4.conf.${d}.rp_filter=0`);
    await ip(['addr', 'add', `${n.nodeIp}/24`, 'dev', 'eth0']);
    await ip(['link', 'set', 'eth0', 'up']);
    await ip(['route', 'add', 'default', 'via', GATEWAY, 'dev', 'eth0']);
    // The BGP route for the other node's pods (bird2 would install it with proto bird).
    await ip(['route', 'add', peer.podCidr, 'via', peer.nodeIp, 'dev', 'eth0']);
    // cilium_host carries the router IP (the pods' gateway); in native mode nothing is routed through it.
    await ip(['link', 'add', 'cilium_host', 'type', 'veth', 'peer', 'name', 'cilium_net']);
    for (const d of ['cilium_host', 'cilium_net']) {
      await ip(['link', 'set', d, 'arp', 'off']);
      await ip(['link', 'set', d, 'up']);
    }
    await ip(['addr', 'add', `${n.routerIp}/32`, 'dev', 'cilium_host']);
    // Pod: MTU of the underlay (no encapsulation overhead in native mode).
    await run(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { netns: n.podNs });
    await ip(['link', 'add', 'lxc0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.podNs]);
    await ip(['link', 'set', 'lxc0', 'up']);
    await ip(['route', 'add', `${n.podIp}/32`, 'dev', 'lxc0']);
    await ip(['link', 'set', 'lo', 'up'], n.podNs);
    await ip(['addr', 'add', `${n.podIp}/32`, 'dev', 'eth0'], n.podNs);
    await ip(['link', 'set', 'eth0', 'up'], n.podNs);
    await ip(['route', 'add', n.routerIp, 'dev', 'eth0', 'scope', 'link'], n.podNs);
    await ip(['route', 'add', 'default', 'via', n.routerIp, 'dev', 'eth0'], n.podNs);

    const info = async (netns: string, dev: string) =>
      (JSON.parse((await run(['ip', '-j', 'link', 'show', 'dev', dev], { netns })).stdout) as Array<{ ifindex: number; address: string }>)[0]!;
    const lxc = await info(n.nodeNs, 'lxc0');
    const pod = await info(n.podNs, 'eth0');
    n.ifindex = { lxc: lxc.ifindex, eth0: (await info(n.nodeNs, 'eth0')).ifindex, host: (await info(n.nodeNs, 'cilium_host')).ifindex };
    n.pinDir = tempPinDir(`nat-${n.name}`);
    withNetns(n.nodeNs, () => {
      const dp = openDatapath({ pinDir: n.pinDir, routing: 'native', nodeIp: n.nodeIp, routerIp: n.routerIp, podCidr: n.podCidr });
      n.dp = dp;
      dp.upsertEndpoint({ ifindex: lxc.ifindex, ip: n.podIp, podMac: pod.address, hostMac: lxc.address, identity: n.identity, endpointId: 1 });
      // What the agent's ipcache sync writes (tunnelEndpoint = hosting node, in both routing modes).
      dp.upsertIpcache(peer.podCidr, { identity: REMOTE_NODE_IDENTITY, tunnelEndpoint: peer.nodeIp });
      dp.upsertIpcache(peer.podIp, { identity: peer.identity, tunnelEndpoint: peer.nodeIp });
      dp.upsertIpcache(peer.nodeIp, { identity: REMOTE_NODE_IDENTITY });
    });
    this.stopEvents.push(n.dp!.onEvents((e) => n.events.push(e)));
    this.attach(n);
  }

  /** The agent's native-mode attach sequence (endpoints are already in the maps). */
  attach(n: NativeNode): void {
    withNetns(n.nodeNs, () => {
      n.dp!.attachHostDevice('cilium_host', n.ifindex.host);
      n.dp!.attachNetdevDevice!('eth0', n.ifindex.eth0);
      n.dp!.attachEndpointDevice('lxc0', n.ifindex.lxc);
    });
  }

  /** Remove every program: the same devices and routes then forward with plain kernel routing. */
  detach(n: NativeNode): void {
    withNetns(n.nodeNs, () => {
      tcDetach(n.ifindex.lxc, BPF_TC_INGRESS, TC_HANDLE, TC_PRIORITY);
      tcDetach(n.ifindex.lxc, BPF_TC_EGRESS, TC_HANDLE, TC_PRIORITY);
      tcDetach(n.ifindex.eth0, BPF_TC_INGRESS, TC_HANDLE, TC_PRIORITY);
      tcDetach(n.ifindex.host, BPF_TC_EGRESS, TC_HANDLE, TC_PRIORITY);
    });
  }

  async down(): Promise<void> {
    this.stopEvents.forEach((s) => s());
    for (const n of this.nodes) {
      n.dp?.close();
      for (const x of [n.podNs, n.nodeNs]) await run(['ip', 'netns', 'del', x], { allowFailure: true });
      if (n.pinDir) removePinDir(n.pinDir);
    }
    await run(['ip', 'netns', 'del', this.fabricNs], { allowFailure: true });
  }
}
