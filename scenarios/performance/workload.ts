// One configuration's cluster for the performance run: 2 nodes; pods client and server-same on node1,
// server-other on node2 (pinned with spec.nodeName so "same node" and "across nodes" are known); each
// server pod runs iperf3, sockperf and the CRR server for the whole run, so a sample costs one client.
import { resolveSpec, type ClusterSpec } from '../../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../../harness/cluster/client.js';
import { netnsNames } from '../../harness/cluster/names.js';
import { waitPodsReady } from '../../harness/cli/wait.js';
import { run } from '../../harness/exec/run.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { describeLeftovers, findLeftovers } from '../../harness/providers/netns/sweep.js';
import { startIperfServer } from '../../harness/traffic/iperf.js';
import { startSockperfServer } from '../../harness/traffic/sockperf.js';
import type { PathKind } from '../../reports/performance-model.js';
import type { PerfConfigDef } from './configs.js';
import { startCrrServer } from './crr.js';
import { benchCpus } from '../../harness/traffic/cpu-pin.js';
import { pausePod } from '../framework/pods.js';
import { start } from '../../harness/exec/run.js';
import { agnhostShimPath } from '../../harness/traffic/probe.js';
import { waitForListener } from '../../harness/traffic/wait-listen.js';
import { applyKubeProxyRules, type IptablesServicePort } from '../../harness/traffic/kube-proxy-iptables.js';
import type { Service } from '../../harness/cluster/objects.js';

export const PERF_NAMESPACE = 'cnilab-perf';
export const PORTS = { iperf: 5201, sockperf: 11111, crr: 7001, http: 8080 } as const;
/** Each server pod sits behind its own Service (port 80 → netexec's 8080) for the HTTP load test. */
export const HTTP_SERVICE: Record<'server-same' | 'server-other', string> = { 'server-same': 'http-same', 'server-other': 'http-other' };
export const POD_ROLES = ['client', 'server-same', 'server-other'] as const;
export type PodRole = (typeof POD_ROLES)[number];

export interface PerfPod {
  name: string;
  node: string;
  ip: string;
  netns: string;
}

export interface ConfigHandle {
  def: PerfConfigDef;
  spec: ClusterSpec;
  client: ControlPlaneClient;
  pods: Record<PodRole, PerfPod>;
  setupMs: number;
  /** ClusterIP of each server pod's Service (HTTP load test). */
  serviceIps: Record<'server-same' | 'server-other', string>;
  stopServers(): Promise<void>;
}

const NODE_OF: Record<PodRole, string> = { client: 'node1', 'server-same': 'node1', 'server-other': 'node2' };

export function serverFor(path: PathKind): PodRole {
  return path === 'same' ? 'server-same' : 'server-other';
}

export function perfObjects(): unknown[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: PERF_NAMESPACE, labels: { 'kubernetes.io/metadata.name': PERF_NAMESPACE } } },
    // "pause" only holds the netns: the traffic tools are started in it by the harness.
    ...POD_ROLES.map((role) => pausePod({ name: role, namespace: PERF_NAMESPACE, node: NODE_OF[role], labels: { app: 'cnilab-perf', role } })),
    ...(['server-same', 'server-other'] as const).map((role) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: HTTP_SERVICE[role], namespace: PERF_NAMESPACE },
      spec: { selector: { role }, ports: [{ name: 'http', port: 80, targetPort: PORTS.http }] },
    })),
  ];
}

/**
 * A configuration whose CNI has no service load balancer (the baselines) gets kube-proxy's: its
 * iptables rules for the two HTTP Services in every node, so the HTTP test crosses a ClusterIP
 * everywhere and compares load balancers, not "a service" with "no service".
 */
async function kubeProxyForBaselines(spec: ClusterSpec, client: ControlPlaneClient, pods: Record<PodRole, PerfPod>): Promise<Record<'server-same' | 'server-other', string>> {
  const ips = {} as Record<'server-same' | 'server-other', string>;
  const ports: IptablesServicePort[] = [];
  for (const role of ['server-same', 'server-other'] as const) {
    const svc = (await client.get('Service', PERF_NAMESPACE, HTTP_SERVICE[role])) as Service;
    ips[role] = svc.spec.clusterIP!;
    ports.push({ namespace: PERF_NAMESPACE, name: svc.metadata.name, portName: 'http', protocol: 'TCP' as const, clusterIP: ips[role], port: 80, endpoints: [{ ip: pods[role].ip, port: PORTS.http }] });
  }
  if (spec.cni !== 'cnilab') await Promise.all(spec.nodes.map((n) => applyKubeProxyRules(netnsNames.node(spec.name, n.name), ports)));
  return ips;
}

/** Create the cluster, its pods and servers. On any failure everything created is removed again. */
export async function bringUp(def: PerfConfigDef, clusterName: string, opts: { timeoutMs?: number; networking?: Record<string, unknown> } = {}): Promise<ConfigHandle> {
  const t0 = performance.now();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  // A crashed earlier run may have left a cluster of this name (pf-* clusters are ours alone).
  await destroyCluster(clusterName);
  const spec = resolveSpec(opts.networking ? { networking: opts.networking } : {}, 'perf', { name: clusterName, nodes: 2, cni: def.cni, routing: def.routing });
  const stops: Array<() => Promise<void>> = [];
  const stopServers = async () => {
    await Promise.allSettled(stops.splice(0).map((s) => s()));
  };
  try {
    const client = await createCluster(spec, { timeoutMs, ...(def.objectPath ? { env: { CNILAB_BPF_OBJECT: def.objectPath } } : {}) });
    await client.apply(perfObjects());
    await waitPodsReady(client, POD_ROLES.map((name) => ({ namespace: PERF_NAMESPACE, name })), timeoutMs);
    const listed = await client.list('Pod', PERF_NAMESPACE);
    const pods = {} as Record<PodRole, PerfPod>;
    for (const role of POD_ROLES) {
      const p = listed.find((x) => x.metadata.name === role);
      const ip = (p?.status as { podIP?: string } | undefined)?.podIP;
      if (!p || !ip) throw new Error(`pod ${PERF_NAMESPACE}/${role} has no IP`);
      pods[role] = { name: role, node: (p.spec as { nodeName?: string }).nodeName ?? NODE_OF[role], ip, netns: netnsNames.pod(clusterName, PERF_NAMESPACE, role) };
    }
    // The CRR client opens tens of thousands of connections per minute to one server address: reuse
    // TIME_WAIT ports and widen the ephemeral range, in the client pod's own netns only.
    await run(['sysctl', '-q', '-w', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65000'], { netns: pods.client.netns });
    for (const role of ['server-same', 'server-other'] as const) {
      const netns = pods[role].netns;
      // Servers on their own CPU, the load generators on another (harness/traffic/cpu-pin.ts).
      const cpu = benchCpus()?.server;
      const iperf = await startIperfServer({ netns, port: PORTS.iperf, cpu });
      stops.push(() => iperf.stop());
      const sp = await startSockperfServer({ netns, port: PORTS.sockperf, protocol: 'tcp', cpu });
      stops.push(() => sp.stop());
      const crr = await startCrrServer({ netns, port: PORTS.crr, cpu });
      stops.push(() => crr.stop());
      const http = start([agnhostShimPath(), 'netexec', `--http-port=${PORTS.http}`, '--udp-port=-1'], { netns });
      stops.push(() => http.stop());
      await waitForListener(http, { netns, proto: 'tcp', port: PORTS.http, what: `netexec in ${role}` });
    }
    const serviceIps = await kubeProxyForBaselines(spec, client, pods);
    return { def, spec, client, pods, setupMs: Math.round(performance.now() - t0), serviceIps, stopServers };
  } catch (err) {
    await stopServers();
    await destroyCluster(clusterName);
    throw err;
  }
}

/** Stop the servers and remove the cluster; returns what the sweep could not remove, if anything. */
export async function tearDown(clusterName: string, handle?: ConfigHandle): Promise<string[]> {
  if (handle) await handle.stopServers();
  await destroyCluster(clusterName);
  // destroyCluster returns what it removed; what is still there afterwards is what matters.
  return describeLeftovers(await findLeftovers(clusterName));
}
