// Benchmark: a pod's network set up through containerd's CRI (RunPodSandbox: containerd makes the
// netns, runc starts the pause container, libcni calls cnilab's plugin) versus through cnilab's own
// runtime (the embedded cluster's path: `ip netns add`, then the CNI ADD as runtime.ts calls it), on
// the same node, interleaved sample by sample. The agent's own share of each ADD (from its log line,
// identical work on both paths) is printed beside, so the ratio shows what the runtime adds.
//   node dist/bench/cri-add-bench.js [--samples 20]
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { netnsNames, NETNS_DIR, paths } from '../harness/cluster/names.js';
import { resolveSpec, type ClusterSpec } from '../harness/cluster/spec.js';
import { createCluster, destroyCluster } from '../harness/providers/netns/cluster.js';
import { cniAdd, cniDel } from '../harness/providers/common/cni-runtime.js';
import { cniConfigFor, cniPathFor } from '../harness/providers/netns/cni-config.js';
import { createPodNetns, deleteNetns } from '../harness/providers/netns/network.js';
import { startContainerd, stopContainerd, type StartedContainerd } from '../harness/cri/containerd.js';
import { machineSummary, median, percentile, spread } from './stats.js';

async function ownRuntime(spec: ClusterSpec, i: number): Promise<number> {
  const node = spec.nodes[0]!;
  const conf = cniConfigFor(spec, node);
  const netns = netnsNames.pod(spec.name, 'bench', `own${i}`);
  const inv = {
    containerId: `own${i}`,
    netns: `${NETNS_DIR}/${netns}`,
    ifname: 'eth0',
    cniPath: cniPathFor(),
    args: { IgnoreUnknown: 'true', K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: `own-${i}` },
    runInNetns: netnsNames.node(spec.name, node.name),
  };
  const t0 = performance.now();
  await createPodNetns(netns);
  const result = await cniAdd(conf, inv);
  const ms = performance.now() - t0;
  await cniDel(conf, inv, result);
  await deleteNetns(netns);
  return ms;
}

async function throughCri(rt: StartedContainerd, i: number): Promise<number> {
  const t0 = performance.now();
  const id = await rt.client.runPodSandbox({ metadata: { name: `cri-${i}`, uid: `uid-cri-${i}`, namespace: 'default' }, linux: { cgroup_parent: rt.paths.cgroupParent } });
  const ms = performance.now() - t0;
  await rt.client.stopPodSandbox(id);
  await rt.client.removePodSandbox(id);
  return ms;
}

/** The agent's time per ADD ("… ms: veth a, pod b, …, published N") for pods named prefix-<i>. */
function agentShare(cluster: string, prefix: string): number[] {
  const log = readFileSync(paths.daemonLog(cluster), 'utf8');
  const re = new RegExp(`default/${prefix}-\\d+ .*published (\\d+)`, 'g');
  return [...log.matchAll(re)].map((m) => Number(m[1]));
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--samples');
  const samples = i > 0 ? Number(process.argv[i + 1]) : 20;
  const spec = resolveSpec({}, 'bench', { name: 'bench-cri', nodes: 1, cni: 'cnilab', routing: 'tunnel' });
  await destroyCluster(spec.name);
  try {
    await createCluster(spec);
    const rt = await startContainerd(spec, spec.nodes[0]!, cniConfigFor(spec, spec.nodes[0]!));
    // Warm-up (first exec of every binary, containerd's first sandbox), discarded.
    await ownRuntime(spec, 1000);
    await throughCri(rt, 1000);
    const own: number[] = [];
    const cri: number[] = [];
    for (let s = 0; s < samples; s++) {
      own.push(await ownRuntime(spec, s));
      cri.push(await throughCri(rt, s));
    }
    rt.client.close();
    await stopContainerd(spec.name, spec.nodes[0]!.name);
    const f = (xs: number[]) => `p50 ${median(xs).toFixed(1)} p90 ${percentile(xs, 90).toFixed(1)} (${spread(xs, 1)}) ms`;
    const agentOwn = agentShare(spec.name, 'own').slice(-samples);
    const agentCri = agentShare(spec.name, 'cri').slice(-samples);
    console.log(`machine: ${machineSummary()}; ${samples} samples each, interleaved`);
    console.log(`cnilab's runtime  (netns + CNI ADD)                 ${f(own)}; agent's share ${agentOwn.length ? f(agentOwn) : 'n/a'}`);
    console.log(`containerd CRI    (RunPodSandbox: netns, pause, ADD) ${f(cri)}; agent's share ${agentCri.length ? f(agentCri) : 'n/a'}`);
    console.log(`ratio CRI / cnilab's runtime, p50: ${(median(cri) / median(own)).toFixed(2)}`);
  } finally {
    await destroyCluster(spec.name);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
