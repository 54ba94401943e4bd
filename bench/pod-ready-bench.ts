// Benchmark: pod network ready latency — from the runtime invoking CNI ADD to the first packet the
// pod gets answered — for 30 pods, for cnilab's CNI and, in the same run, for the reference bridge
// plugin. The first packet is a TCP SYN from a socket opened inside the pod's namespace by this
// process to a closed port of the pod's gateway: the node's RST back proves the round trip (ARP
// answered by the datapath included), with no process start-up in the measurement.
//   node dist/bench/pod-ready-bench.js [--pods 30]
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Socket } from 'node:net';
import { createSocketIn, netnsPath } from '../harness/traffic/netns.js';
import { netnsNames, NETNS_DIR } from '../harness/cluster/names.js';
import { resolveSpec, type ClusterSpec } from '../harness/cluster/spec.js';
import { createCluster, destroyCluster } from '../harness/providers/netns/cluster.js';
import { cniAdd, cniDel } from '../harness/providers/common/cni-runtime.js';
import { cniConfigFor, cniPathFor } from '../harness/providers/netns/cni-config.js';
import { createPodNetns, deleteNetns } from '../harness/providers/netns/network.js';
import { machineSummary, median, percentile } from './stats.js';

/** Closed port on the gateway: the answer is an RST (ECONNREFUSED), a complete round trip. */
const CLOSED_PORT = 9;

/** One SYN from inside the pod; true when the node answered within 100 ms. */
function answeredFromPod(netns: string, gateway: string): Promise<boolean> {
  const fd = createSocketIn(netnsPath(netns), 'tcp');
  return new Promise((resolve) => {
    const sock = new Socket({ fd });
    const done = (answered: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(answered);
    };
    const timer = setTimeout(() => done(false), 100);
    sock.once('connect', () => done(true));
    sock.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED'));
    sock.connect(CLOSED_PORT, gateway);
  });
}

export interface Sample {
  addMs: number;
  readyMs: number;
}

export async function measure(spec: ClusterSpec, pods: number): Promise<Sample[]> {
  const node = spec.nodes[0]!;
  const conf = cniConfigFor(spec, node);
  const samples: Sample[] = [];
  for (let i = 0; i < pods; i++) {
    const netns = netnsNames.pod(spec.name, 'bench', `p${i}`);
    await createPodNetns(netns);
    const inv = {
      containerId: `bench${i}`,
      netns: `${NETNS_DIR}/${netns}`,
      ifname: 'eth0',
      cniPath: cniPathFor(),
      args: { IgnoreUnknown: 'true', K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: `bench-p${i}` },
      runInNetns: netnsNames.node(spec.name, node.name),
    };
    const t0 = performance.now();
    const result = await cniAdd(conf, inv);
    const addMs = performance.now() - t0;
    for (let tries = 0; !(await answeredFromPod(netns, node.podGateway)); tries++) {
      if (tries > 50) throw new Error(`pod ${i} never reached its gateway ${node.podGateway}`);
    }
    samples.push({ addMs, readyMs: performance.now() - t0 });
    await cniDel(conf, inv, result).catch(() => undefined);
    await deleteNetns(netns);
  }
  return samples;
}

function summary(label: string, s: Sample[]): string {
  const add = s.map((x) => x.addMs);
  const ready = s.map((x) => x.readyMs);
  const f = (n: number) => n.toFixed(1).padStart(6);
  return `${label.padEnd(18)} ADD p50 ${f(median(add))} p90 ${f(percentile(add, 90))} | ADD→first packet p50 ${f(median(ready))} p90 ${f(percentile(ready, 90))} max ${f(Math.max(...ready))} ms`;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--pods');
  const pods = i > 0 ? Number(process.argv[i + 1]) : 30;
  const cnilab = resolveSpec({}, 'bench', { name: 'bench-ready-c', nodes: 1, cni: 'cnilab', routing: 'tunnel' });
  const bridge = resolveSpec({}, 'bench', { name: 'bench-ready-b', nodes: 1, cni: 'reference-bridge' });
  await destroyCluster(cnilab.name);
  await destroyCluster(bridge.name);
  try {
    await createCluster(cnilab);
    await createCluster(bridge);
    // One warm-up pod each (first exec of every binary, page cache), discarded.
    await measure(cnilab, 1);
    await measure(bridge, 1);
    const c = await measure(cnilab, pods);
    const b = await measure(bridge, pods);
    console.log(`machine: ${machineSummary()}; ${pods} pods each, one after another`);
    console.log(summary('cnilab', c));
    console.log(summary('reference-bridge', b));
    console.log(`ratio cnilab/reference-bridge ADD→first packet p50: ${(median(c.map((x) => x.readyMs)) / median(b.map((x) => x.readyMs))).toFixed(2)}   (target: cnilab p50 < 50 ms)`);
  } finally {
    await destroyCluster(cnilab.name);
    await destroyCluster(bridge.name);
  }
}

// Run when executed, not when another benchmark imports measure().
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
