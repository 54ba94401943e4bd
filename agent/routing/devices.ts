// The node's own devices, as Cilium sets them up: the cilium_host/cilium_net veth pair (the router IP,
// the pods' gateway, lives on cilium_host), cilium_vxlan (collect_md VXLAN on Cilium's port 8472) in
// tunnel mode, the sysctls forwarding needs, and one route per remote pod CIDR through cilium_host so
// that node → remote pod traffic meets the datapath's from_host program, which tunnels it.
// Everything is idempotent: a restarted agent finds the devices in place and changes nothing.
import type { AgentNetwork, AgentNode } from '../config.js';
import { parseCidr as parseCidrNum } from '../../lib/net/cidr.js';
import { run } from '../../lib/exec/run.js';
import { listLinks, setSysctl, type LinkInfo } from './links.js';

export const HOST_DEV = 'cilium_host';
export const NET_DEV = 'cilium_net';
export const VXLAN_DEV = 'cilium_vxlan';
export const VXLAN_PORT = 8472;

export interface NodeDevices {
  host: LinkInfo;
  net: LinkInfo;
  /** Present in tunnel mode. */
  vxlan?: LinkInfo;
}

async function ip(args: string[]): Promise<void> {
  await run(['ip', ...args], { timeoutMs: 10_000 });
}

export async function setupNodeDevices(spec: AgentNetwork, node: AgentNode): Promise<NodeDevices> {
  let links = await listLinks();
  const byName = (n: string) => links.find((l) => l.ifname === n);

  if (byName(HOST_DEV) && !byName(NET_DEV)) await ip(['link', 'del', HOST_DEV]); // half a pair: start over
  if (!byName(HOST_DEV)) await ip(['link', 'add', HOST_DEV, 'type', 'veth', 'peer', 'name', NET_DEV]);
  if (spec.routing === 'tunnel') {
    const vx = byName(VXLAN_DEV);
    if (vx && vx.kind !== 'vxlan') await ip(['link', 'del', VXLAN_DEV]);
    if (!vx || vx.kind !== 'vxlan') {
      await ip(['link', 'add', VXLAN_DEV, 'type', 'vxlan', 'external', 'dstport', String(VXLAN_PORT)]);
    }
    // The VXLAN device carries whole pod frames; its MTU is the underlay's and pods get 50 bytes less.
    await ip(['link', 'set', VXLAN_DEV, 'mtu', String(spec.mtu), 'up']);
  }
  await ip(['addr', 'replace', `${node.podGateway}/32`, 'dev', HOST_DEV]);
  // NOARP, as Cilium has it: routes to remote pod CIDRs name the router IP as gateway, but a gateway
  // that is a local address is ignored by the kernel, which would then ARP for every remote pod IP on
  // cilium_host (and fail) before from_host ever sees the packet. Without ARP the neighbour is
  // resolved at once (to cilium_host's own MAC) and from_host tunnels the packet.
  await ip(['link', 'set', HOST_DEV, 'arp', 'off', 'up']);
  await ip(['link', 'set', NET_DEV, 'arp', 'off', 'up']);

  setSysctl('net.ipv4.ip_forward', 1);
  // Pod traffic arrives on lxc devices and decapsulated traffic on cilium_vxlan with sources the kernel
  // would route elsewhere; reverse-path filtering would drop it.
  for (const dev of ['all', 'default', HOST_DEV, NET_DEV, ...(spec.routing === 'tunnel' ? [VXLAN_DEV] : [])]) {
    setSysctl(`net.ipv4.conf.${dev}.rp_filter`, 0);
  }
  // Replies from remote pods to this node's router IP come back through cilium_vxlan carrying a local
  // destination and, for host-originated flows, a source the node owns on another device.
  setSysctl(`net.ipv4.conf.${HOST_DEV}.accept_local`, 1);
  if (spec.routing === 'tunnel') setSysctl(`net.ipv4.conf.${VXLAN_DEV}.accept_local`, 1);
  setSysctl(`net.ipv4.conf.${HOST_DEV}.send_redirects`, 0);
  // NodePort (bpf/lib/nodeport.h): the datapath rewrites packets to carry this node's own address as
  // their source — SNAT towards a remote backend, the reverse NAT of a reply on its way to an outside
  // client — and hands them to the stack to route; without accept_local the kernel drops them as
  // martians. Forwarding them back out of eth0 is what a load balancer does: no ICMP redirects for it.
  setSysctl('net.ipv4.conf.all.accept_local', 1);
  setSysctl('net.ipv4.conf.all.send_redirects', 0);
  // Nothing on the underlay answers for the service range: a packet to a ClusterIP that no load
  // balancer translated (a ping, a port no Service has) fails here at once instead of leaving for the
  // fabric. Socket LB rewrites connect()/sendmsg() before any route lookup, pods' packets meet the
  // datapath on their lxc first, so load-balanced traffic never sees this route.
  if (spec.serviceSubnet) await ip(['route', 'replace', 'unreachable', spec.serviceSubnet]);

  links = await listLinks();
  return { host: byName(HOST_DEV)!, net: byName(NET_DEV)!, vxlan: spec.routing === 'tunnel' ? byName(VXLAN_DEV) : undefined };
}

/**
 * Make the routes through cilium_host match `remotePodCidrs` exactly (tunnel mode): one route per
 * remote node's pod CIDR, via the router IP with the pod MTU, and none for nodes that are gone.
 */
export async function syncRemoteRoutes(node: AgentNode, podMtu: number, remotePodCidrs: string[]): Promise<void> {
  const res = await run(['ip', '-j', 'route', 'show', 'dev', HOST_DEV], { timeoutMs: 10_000 });
  const current = (JSON.parse(res.stdout || '[]') as Array<{ dst: string; gateway?: string; metrics?: Array<{ mtu?: number }> }>).filter(
    (r) => r.gateway === node.podGateway && parseCidrNum(r.dst) !== undefined,
  );
  const want = new Set(remotePodCidrs);
  for (const r of current) {
    if (!want.has(r.dst)) await run(['ip', 'route', 'del', r.dst, 'dev', HOST_DEV], { allowFailure: true });
  }
  for (const cidr of want) {
    const have = current.find((r) => r.dst === cidr);
    if (have && have.metrics?.some((m) => m.mtu === podMtu)) continue;
    await ip(['route', 'replace', cidr, 'via', node.podGateway, 'dev', HOST_DEV, 'src', node.podGateway, 'mtu', String(podMtu)]);
  }
}
