// Shared pieces of the service benchmarks: a 2-node cluster (the performance workload's client and
// servers plus a third server, so a service has 3 real backends), many filler services, and the two
// measurements taken through a ClusterIP — connection rate (TCP_CRR-like) and request/response latency
// (sockperf ping-pong, p99).
import { LIMITS } from '../harness/cluster/limits.js';
import { netnsNames, paths } from '../harness/cluster/names.js';
import type { Service } from '../harness/cluster/objects.js';
import { waitPodsReady } from '../harness/cli/wait.js';
import { AgentClient } from '../agent/api/client.js';
import { readFileSync } from 'node:fs';
import { CommandError } from '../harness/exec/run.js';
import { applyKubeProxyRules, servicePortKey, type IptablesBackend, type IptablesServicePort } from '../harness/traffic/kube-proxy-iptables.js';
import { runSockperfPingPong, startSockperfServer } from '../harness/traffic/sockperf.js';
import { PERF_CONFIGS } from '../scenarios/performance/configs.js';
import { runCrrClient, startCrrServer } from '../scenarios/performance/crr.js';
import { bringUp, PERF_NAMESPACE, PORTS, type ConfigHandle } from '../scenarios/performance/workload.js';
import { pausePod } from '../scenarios/framework/pods.js';

export const BENCH_NAMESPACE = PERF_NAMESPACE;
export const TARGET = 'target';

export interface ScaleCluster {
  kind: 'cnilab' | 'iptables';
  handle: ConfigHandle;
  /** The three backends: ip of server-same, server-other, server-third. */
  backends: string[];
  /** Services created so far (the target included). */
  count: number;
  targetIp: string;
  /** iptables: the backend, the bound on one restore, and the service ports whose chains are loaded. */
  iptables?: { backend: IptablesBackend; restoreTimeoutMs: number; loaded: Set<string> };
  /** Set once the datapath could not be programmed (the iptables restore over its bound): why. */
  unavailable?: string;
}

/** Bring up a cluster of the performance workload and a third server pod (node2) with the same servers. */
/** A /18 of the benchmarking range: room for 16k ClusterIPs (the default /20 holds 4094). */
export const SCALE_SERVICE_SUBNET = '198.18.64.0/18';

export async function bringUpScale(
  config: 'cnilab-tunnel' | 'reference-bridge',
  name: string,
  networking: Record<string, unknown> = {},
  iptables: { backend: IptablesBackend; restoreTimeoutMs: number } = { backend: 'legacy', restoreTimeoutMs: 120_000 },
): Promise<ScaleCluster> {
  const h = await bringUp(PERF_CONFIGS[config], name, { timeoutMs: 90_000, networking: { serviceSubnet: SCALE_SERVICE_SUBNET, ...networking } });
  try {
    await h.client.apply([pausePod({ name: 'server-third', namespace: PERF_NAMESPACE, node: 'node2', labels: { app: 'cnilab-perf', role: 'server-third' } })]);
    await waitPodsReady(h.client, [{ namespace: PERF_NAMESPACE, name: 'server-third' }], 60_000);
    const third = await h.client.get('Pod', PERF_NAMESPACE, 'server-third');
    const netns = netnsNames.pod(name, PERF_NAMESPACE, 'server-third');
    const sp = await startSockperfServer({ netns, port: PORTS.sockperf, protocol: 'tcp' });
    const crr = await startCrrServer({ netns, port: PORTS.crr });
    const stopOld = h.stopServers;
    h.stopServers = async () => {
      await Promise.allSettled([sp.stop(), crr.stop()]);
      await stopOld();
    };
    const backends = [h.pods['server-same'].ip, h.pods['server-other'].ip, (third.status as { podIP: string }).podIP];
    const kind = config === 'cnilab-tunnel' ? 'cnilab' : 'iptables';
    return { kind, handle: h, backends, count: 0, targetIp: '', ...(kind === 'iptables' ? { iptables: { backend: iptables.backend, restoreTimeoutMs: iptables.restoreTimeoutMs, loaded: new Set<string>() } } : {}) };
  } catch (e) {
    await h.stopServers();
    throw e;
  }
}

/** A selector-less Service and the EndpointSlice naming its 3 backends (as a controller would). */
function serviceObjects(name: string, backends: string[], ports: Array<{ name: string; port: number; target: number }>): unknown[] {
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: BENCH_NAMESPACE }, spec: { ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.target })) } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-1`, namespace: BENCH_NAMESPACE, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      endpoints: backends.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
      ports: ports.map((p) => ({ name: p.name, port: p.target, protocol: 'TCP' })),
    },
  ];
}

const TARGET_PORTS = [
  { name: 'crr', port: PORTS.crr, target: PORTS.crr },
  { name: 'rr', port: PORTS.sockperf, target: PORTS.sockperf },
];

/**
 * Grow the cluster to `total` services (the target is the first one; kube-proxy's rules put it in the
 * middle of KUBE-SERVICES at every count, see iptablesPorts, so a new connection walks half the chain,
 * as an average service's would). Returns how long the cluster took until the datapath had them all:
 * for cnilab, from the apply until every agent reports the frontends; for iptables, the apply plus
 * iptables-restore in every node.
 */
export async function growServices(c: ScaleCluster, total: number): Promise<{ programmingMs: number; added: number }> {
  const objects: unknown[] = [];
  for (let i = c.count; i < total; i++) {
    if (i === 0) objects.push(...serviceObjects(TARGET, c.backends, TARGET_PORTS));
    else objects.push(...serviceObjects(`filler-${i}`, c.backends, [{ name: 'http', port: 80, target: PORTS.crr }]));
  }
  const t0 = performance.now();
  // Batches within the control plane's per-apply limit; the store applies each atomically.
  for (let i = 0; i < objects.length; i += LIMITS.objectsPerApply) await c.handle.client.apply(objects.slice(i, i + LIMITS.objectsPerApply));
  c.count = total;
  c.targetIp ||= ((await c.handle.client.get('Service', BENCH_NAMESPACE, TARGET)) as Service).spec.clusterIP!;
  if (c.kind === 'cnilab') {
    // Every port of every service is one frontend; wait until both agents have all of them.
    const want = total + TARGET_PORTS.length - 1;
    for (;;) {
      const counts = await Promise.all(c.handle.spec.nodes.map(async (n) => (await new AgentClient(c.handle.spec.name, n.name).services()).length));
      if (counts.every((n) => n >= want)) break;
      if (performance.now() - t0 > 600_000) throw new Error(`agents programmed ${counts.join('/')} of ${want} frontends after 600 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } else {
    // kube-proxy's way: one iptables-restore per sync with every new chain and KUBE-SERVICES rewritten.
    const ports = await iptablesPorts(c);
    const ipt = c.iptables!;
    try {
      await Promise.all(c.handle.spec.nodes.map((n) => applyKubeProxyRules(netnsNames.node(c.handle.spec.name, n.name), ports, { backend: ipt.backend, loaded: ipt.loaded, timeoutMs: ipt.restoreTimeoutMs })));
    } catch (e) {
      if (!(e instanceof CommandError && e.result.timedOut)) throw e;
      c.unavailable = `iptables-${ipt.backend === 'system' ? '' : `${ipt.backend}-`}restore of ${total} services took > ${ipt.restoreTimeoutMs / 1000} s`;
      return { programmingMs: NaN, added: objects.length / 2 };
    }
    for (const p of ports) ipt.loaded.add(servicePortKey(p));
  }
  return { programmingMs: Math.round(performance.now() - t0), added: objects.length / 2 };
}

/**
 * Shrink a cnilab cluster back to `total` services (the fillers above it deleted, Service and slice, a
 * few requests in flight at a time), for an A-B-A measurement: the same count measured before and after
 * the large one tells the machine's drift over the run from a cost of the count. Returns how long until
 * every agent had dropped the frontends.
 */
export async function shrinkServices(c: ScaleCluster, total: number): Promise<{ programmingMs: number; removed: number }> {
  if (c.kind !== 'cnilab') throw new Error('shrinkServices: cnilab clusters only (the iptables side is loaded, not unloaded)');
  const names: string[] = [];
  for (let i = Math.max(total, 1); i < c.count; i++) names.push(`filler-${i}`);
  const t0 = performance.now();
  const inFlight = 16;
  for (let i = 0; i < names.length; i += inFlight) {
    await Promise.all(
      names.slice(i, i + inFlight).map(async (n) => {
        await c.handle.client.delete('EndpointSlice', BENCH_NAMESPACE, `${n}-1`);
        await c.handle.client.delete('Service', BENCH_NAMESPACE, n);
      }),
    );
  }
  c.count = total;
  // Wait until no agent programs a deleted filler (the workload's own Services stay).
  const stale = (fs: Array<{ service?: string }>) => fs.filter((f) => Number(/filler-(\d+)/.exec(f.service ?? '')?.[1] ?? -1) >= total).length;
  for (;;) {
    const counts = await Promise.all(c.handle.spec.nodes.map(async (n) => stale(await new AgentClient(c.handle.spec.name, n.name).services())));
    if (counts.every((n) => n === 0)) break;
    if (performance.now() - t0 > 600_000) throw new Error(`agents still program ${counts.join('/')} deleted frontends after 600 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { programmingMs: Math.round(performance.now() - t0), removed: names.length };
}

/** The services of the cluster as kube-proxy would see them (in store order: creation order by name). */
async function iptablesPorts(c: ScaleCluster): Promise<IptablesServicePort[]> {
  const services = (await c.handle.client.list('Service', BENCH_NAMESPACE)) as Service[];
  const order = (s: Service) => (s.metadata.name === TARGET ? Math.floor(c.count / 2) : Number(s.metadata.name.split('-')[1]));
  return services
    .sort((a, b) => order(a) - order(b))
    .flatMap((s) =>
      s.spec.ports.map((p) => ({
        namespace: BENCH_NAMESPACE,
        name: s.metadata.name,
        portName: p.name ?? '',
        protocol: 'TCP' as const,
        clusterIP: s.spec.clusterIP!,
        port: p.port,
        endpoints: c.backends.map((ip) => ({ ip, port: Number(p.targetPort) })),
      })),
    );
}

export async function measureCrr(c: ScaleCluster, durationSec: number): Promise<number> {
  return (await runCrrClient({ netns: c.handle.pods.client.netns, host: c.targetIp, port: PORTS.crr, durationSec })).rate;
}

export async function measureRr(c: ScaleCluster, durationSec: number): Promise<{ p50: number; p99: number }> {
  const r = await runSockperfPingPong({ netns: c.handle.pods.client.netns, host: c.targetIp, port: PORTS.sockperf, protocol: 'tcp', durationSec });
  if (r.receivedMessages === 0) throw new Error(`sockperf measured no round trip through ${c.targetIp}`);
  return { p50: r.p50, p99: r.p99 };
}

/** Resident memory (MiB) of the control plane and of each node's agent (cnilab), read from /proc. */
export async function memoryMiB(c: ScaleCluster): Promise<{ controlPlane: number; agents: number[] }> {
  const rss = (pid: number) => {
    try {
      const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      return kb ? Math.round(Number(kb) / 1024) : NaN;
    } catch {
      return NaN;
    }
  };
  const daemon = Number(readFileSync(paths.daemonPid(c.handle.spec.name), 'utf8').trim());
  const agents = c.kind === 'cnilab' ? await c.handle.client.getPath<Array<{ pid?: number }>>('/v1/agents') : [];
  return { controlPlane: rss(daemon), agents: agents.map((a) => (a.pid ? rss(a.pid) : NaN)) };
}
