// The embedded cluster's kernel network: a fabric namespace with the underlay bridge, and one
// namespace per node with eth0 on that bridge. Commands are grouped per namespace into one
// `ip -n NS -batch -` call each (a few ms apiece), and the namespaces are set up in parallel.
import { run } from '../../exec/run.js';
import type { ClusterSpec, NodeSpec } from '../../cluster/spec.js';
import { netnsNames } from '../../cluster/names.js';

/** The underlay bridge in the fabric namespace. */
export const UNDERLAY_BRIDGE = 'underlay';

async function ipBatch(netns: string | undefined, lines: string[], timeoutMs = 20_000): Promise<void> {
  if (lines.length === 0) return;
  const argv = netns ? ['ip', '-n', netns, '-batch', '-'] : ['ip', '-batch', '-'];
  await run(argv, { input: `${lines.join('\n')}\n`, timeoutMs });
}

/** Set sysctls inside a namespace (entering only its network namespace, see REFERENCE.md). */
export async function sysctls(netns: string, settings: Record<string, string | number>): Promise<void> {
  await run(['sysctl', '-q', '-w', ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)], { netns });
}

export function prefixLen(cidr: string): number {
  return Number(cidr.split('/')[1]);
}

/** Create the fabric and all node namespaces with their underlay links. */
export async function createUnderlay(spec: ClusterSpec): Promise<void> {
  const fabric = netnsNames.fabric(spec.name);
  const nodeNs = spec.nodes.map((n) => netnsNames.node(spec.name, n.name));
  // One batch creates every namespace (ip netns add is cheap; it bind-mounts a new netns).
  await ipBatch(undefined, [fabric, ...nodeNs].map((ns) => `netns add ${ns}`));
  const plen = prefixLen(spec.underlaySubnet);
  const fabricLines = [
    'link set lo up',
    `link add ${UNDERLAY_BRIDGE} mtu ${spec.mtu} type bridge`,
    `addr add ${spec.underlayGateway}/${plen} dev ${UNDERLAY_BRIDGE}`,
    `link set ${UNDERLAY_BRIDGE} up`,
  ];
  for (const node of spec.nodes) {
    // Created directly with its peer in the node's namespace: no link ever sits in the host namespace.
    fabricLines.push(
      `link add ${node.name} mtu ${spec.mtu} type veth peer name eth0 netns ${netnsNames.node(spec.name, node.name)}`,
      `link set ${node.name} master ${UNDERLAY_BRIDGE} up`,
    );
  }
  await ipBatch(fabric, fabricLines);
  await Promise.all(spec.nodes.map((node) => configureNode(spec, node)));
}

async function configureNode(spec: ClusterSpec, node: NodeSpec): Promise<void> {
  const ns = netnsNames.node(spec.name, node.name);
  const plen = prefixLen(spec.underlaySubnet);
  await ipBatch(ns, [
    'link set lo up',
    `addr add ${node.underlayIp}/${plen} dev eth0`,
    'link set eth0 up',
    `route add default via ${spec.underlayGateway} dev eth0`,
  ]);
  // Nodes route pod traffic; rp_filter would drop asymmetric tunnel and host-gw paths.
  await sysctls(ns, {
    'net.ipv4.ip_forward': 1,
    'net.ipv4.conf.all.rp_filter': 0,
    'net.ipv4.conf.default.rp_filter': 0,
  });
}

/** host-gw routes for the reference-bridge CNI: each node reaches the other nodes' pod CIDRs directly. */
export async function addHostGwRoutes(spec: ClusterSpec): Promise<void> {
  await Promise.all(
    spec.nodes.map((node) =>
      ipBatch(
        netnsNames.node(spec.name, node.name),
        spec.nodes.filter((o) => o.name !== node.name).map((o) => `route replace ${o.podCidr} via ${o.underlayIp} dev eth0`),
      ),
    ),
  );
}

/** The kernel VXLAN device of the `kernel` CNI in tunnel mode (flannel's vxlan shape, no BPF). */
export const KERNEL_VXLAN = 'vxlan0';
/** Same VNI and port as Cilium, so captures of both tunnel configurations look alike. */
export const VXLAN_PORT = 8472;

/**
 * Kernel VXLAN between nodes: each node's vxlan0 holds the network address of its pod CIDR as a /32
 * (the VTEP address), remote pod CIDRs are routed via the remote VTEP address, and an all-zeros FDB
 * entry per peer floods ARP for VTEP addresses to every other node (head-end replication).
 */
export async function addKernelVxlan(spec: ClusterSpec): Promise<void> {
  const vtep = (n: NodeSpec) => n.podCidr.split('/')[0]!;
  await Promise.all(
    spec.nodes.map(async (node) => {
      const ns = netnsNames.node(spec.name, node.name);
      const peers = spec.nodes.filter((o) => o.name !== node.name);
      await ipBatch(ns, [
        `link add ${KERNEL_VXLAN} mtu ${spec.mtu - 50} type vxlan id 1 local ${node.underlayIp} dev eth0 dstport ${VXLAN_PORT} nolearning`,
        `addr add ${vtep(node)}/32 dev ${KERNEL_VXLAN}`,
        `link set ${KERNEL_VXLAN} up`,
        ...peers.map((p) => `route replace ${p.podCidr} via ${vtep(p)} dev ${KERNEL_VXLAN} onlink`),
      ]);
      // FDB entries are the bridge tool's, not ip's.
      for (const p of peers) {
        await run(['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', KERNEL_VXLAN, 'dst', p.underlayIp], { netns: ns });
      }
      await sysctls(ns, { [`net.ipv4.conf.${KERNEL_VXLAN}.rp_filter`]: 0 });
    }),
  );
}

/** Create a pod's network namespace with loopback up (what the runtime's sandbox does before CNI). */
export async function createPodNetns(netns: string): Promise<void> {
  await run(['ip', 'netns', 'add', netns], { timeoutMs: 10_000 });
  await run(['ip', '-n', netns, 'link', 'set', 'lo', 'up'], { timeoutMs: 10_000 });
}

export async function deleteNetns(netns: string): Promise<void> {
  await run(['ip', 'netns', 'del', netns], { timeoutMs: 10_000, allowFailure: true });
}

/**
 * A client outside the cluster: its own namespace with eth0 on the fabric bridge and an underlay address
 * no node has (the subnet's .200), as a machine on the nodes' network would be. Part of the cluster
 * (its name carries the cluster's prefix, so `down` sweeps it). Idempotent; returns its netns and address.
 */
export async function createOutsideHost(spec: ClusterSpec): Promise<{ netns: string; ip: string }> {
  const netns = netnsNames.outside(spec.name);
  const base = spec.underlaySubnet.split('/')[0]!.split('.').map(Number);
  const ip = `${base[0]}.${base[1]}.${base[2]}.${base[3]! + 200}`;
  const existing = await run(['ip', 'netns', 'list'], { timeoutMs: 10_000 });
  if (existing.stdout.split('\n').some((l) => l.split(' ')[0] === netns)) return { netns, ip };
  await run(['ip', 'netns', 'add', netns], { timeoutMs: 10_000 });
  await ipBatch(netnsNames.fabric(spec.name), [
    `link add outside mtu ${spec.mtu} type veth peer name eth0 netns ${netns}`,
    `link set outside master ${UNDERLAY_BRIDGE} up`,
  ]);
  await ipBatch(netns, ['link set lo up', `addr add ${ip}/${prefixLen(spec.underlaySubnet)} dev eth0`, 'link set eth0 up']);
  return { netns, ip };
}

export async function deleteOutsideHost(spec: ClusterSpec): Promise<void> {
  await deleteNetns(netnsNames.outside(spec.name));
}
