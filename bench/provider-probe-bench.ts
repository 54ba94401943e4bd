// Benchmark: the same probes through the kubeconfig provider (Kubernetes API, pods/exec over
// WebSocket) and through the netns provider (nsenter), on one embedded cluster, interleaved: what a
// real-cluster run pays per probe for going through the API.
//   node dist/bench/provider-probe-bench.js [--probes 40]
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseAllDocuments } from 'yaml';
import { paths } from '../harness/cluster/names.js';
import { resolveSpec } from '../harness/cluster/spec.js';
import { REPO_ROOT } from '../harness/paths.js';
import { createCluster, destroyCluster } from '../harness/providers/netns/cluster.js';
import { NetnsProvider } from '../harness/providers/netns/provider.js';
import { KubeconfigProvider } from '../harness/providers/kubeconfig/provider.js';
import { machineSummary, median, percentile, spread } from './stats.js';

async function main(): Promise<void> {
  const i = process.argv.indexOf('--probes');
  const probes = i > 0 ? Number(process.argv[i + 1]) : 40;
  const spec = resolveSpec({}, 'bench', { name: 'bench-prov', nodes: 3, cni: 'cnilab', routing: 'tunnel' });
  await destroyCluster(spec.name);
  try {
    await createCluster(spec);
    const netns = new NetnsProvider(spec.name);
    const kube = new KubeconfigProvider(paths.kubeconfig(spec.name));
    await kube.apply(parseAllDocuments(readFileSync(`${REPO_ROOT}/scenarios/manifests/xyz.yaml`, 'utf8')).map((d) => d.toJSON()).filter(Boolean));
    const pods = (await Promise.all(['x', 'y', 'z'].map((ns) => kube.waitPodsReady(ns, 60_000)))).flat();
    const targets = pods.filter((p) => !(p.namespace === 'x' && p.name === 'a'));
    const t = { api: [] as number[], netns: [] as number[] };
    for (let n = -2; n < probes; n++) {
      const to = targets[((n % targets.length) + targets.length) % targets.length]!;
      const argv = ['agnhost', 'connect', `${to.ip}:80`, '--timeout=2s'];
      for (const [name, p] of [['api', kube], ['netns', netns]] as const) {
        const t0 = performance.now();
        const r = await p.execInPod('x', 'a', argv, { allowFailure: true });
        if (r.code !== 0) throw new Error(`${name}: probe to ${to.ip} failed: ${r.stderr}`);
        if (n >= 0) t[name].push(performance.now() - t0); // two warm-up rounds discarded
      }
    }
    const f = (xs: number[]) => `p50 ${median(xs).toFixed(1)} p90 ${percentile(xs, 90).toFixed(1)} (${spread(xs, 1)}) ms`;
    console.log(`machine: ${machineSummary()}; ${probes} TCP probes each (agnhost connect), interleaved`);
    console.log(`netns provider (nsenter)                 ${f(t.netns)}`);
    console.log(`kubeconfig provider (API, WebSocket exec) ${f(t.api)}`);
    console.log(`ratio kubeconfig / netns, p50: ${(median(t.api) / median(t.netns)).toFixed(2)}`);
  } finally {
    await destroyCluster(spec.name);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
