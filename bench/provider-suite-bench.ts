// Benchmark: the connectivity scenario (pod↔pod, pod↔node, node→pod, path MTU, pod link config, the
// cnilab checks) run through the kubeconfig provider (Kubernetes API, pods/exec over WebSocket, node
// commands through a host-network helper pod) and through the netns provider (nsenter), on one
// embedded cluster, in interleaved rounds. The netns provider is timed twice: as the suite runs there
// (with the flow and metric checks read from the agents' relay) and with the same checks the kubeconfig
// provider can make (no relay), so the ratio compares like with like.
//   node dist/bench/provider-suite-bench.js [--rounds 3]
import { performance } from 'node:perf_hooks';
import { paths } from '../harness/cluster/names.js';
import { resolveSpec } from '../harness/cluster/spec.js';
import { createCluster, destroyCluster } from '../harness/providers/netns/cluster.js';
import { NetnsProvider } from '../harness/providers/netns/provider.js';
import { KubeconfigProvider } from '../harness/providers/kubeconfig/provider.js';
import { connectivityScenario } from '../scenarios/connectivity/connectivity.js';
import { runThroughProvider } from '../scenarios/framework/provider-run.js';
import type { Suite } from '../scenarios/framework/model.js';
import { machineSummary, median, spread } from './stats.js';

async function main(): Promise<void> {
  const i = process.argv.indexOf('--rounds');
  const rounds = i > 0 ? Number(process.argv[i + 1]) : 3;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a whole number ≥ 1, got ${process.argv[i + 1]}`);
  const spec = resolveSpec({}, 'bench', { name: 'prv-bench', nodes: 3, cni: 'cnilab', routing: 'tunnel' });
  const suite: Suite = { name: 'connectivity', scenarios: [connectivityScenario] };
  await destroyCluster(spec.name);
  let kube: KubeconfigProvider | undefined;
  try {
    await createCluster(spec);
    // The cluster's own kubeconfig exists once it is up.
    kube = new KubeconfigProvider(paths.kubeconfig(spec.name));
    const api = kube;
    const netns = new NetnsProvider(spec.name);
    const runs = {
      'netns (with relay flow checks)': () => runThroughProvider(netns, [suite], { name: spec.name, spec }),
      'netns (same checks as kubeconfig)': () => runThroughProvider(netns, [suite], { name: spec.name, spec, flowChecks: false }),
      'kubeconfig (API, WebSocket exec)': () => runThroughProvider(api, [suite], { name: spec.name, podMtu: spec.podMtu }),
    };
    const t: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
    const checks: Record<string, number> = {};
    // Round 0 warms up (pods created, helper pods started) and is not counted.
    for (let n = 0; n <= rounds; n++) {
      for (const [name, go] of Object.entries(runs)) {
        const t0 = performance.now();
        const r = await go();
        const ms = performance.now() - t0;
        if (r.error) throw new Error(`${name}: ${r.error}`);
        const cs = r.suites.flatMap((s) => s.scenarios).flatMap((s) => s.checks);
        const bad = cs.filter((c) => c.verdict === 'fail');
        if (bad.length) throw new Error(`${name}: ${bad.length} checks failed, e.g. ${bad[0]!.id}: ${bad[0]!.observed}`);
        checks[name] = cs.length;
        if (n > 0) t[name]!.push(ms);
      }
    }
    const f = (xs: number[]) => `median ${(median(xs) / 1000).toFixed(1)} s (${spread(xs.map((x) => x / 1000), 1)} s)`;
    console.log(`machine: ${machineSummary()}; connectivity scenario, ${rounds} interleaved rounds after a warm-up`);
    for (const [name, xs] of Object.entries(t)) console.log(`${name.padEnd(36)} ${f(xs)}, ${checks[name]} checks`);
    const k = median(t['kubeconfig (API, WebSocket exec)']!);
    console.log(`ratio kubeconfig / netns, same checks: ${(k / median(t['netns (same checks as kubeconfig)']!)).toFixed(2)}`);
    console.log(`ratio kubeconfig / netns, as each runs: ${(k / median(t['netns (with relay flow checks)']!)).toFixed(2)}`);
  } finally {
    await kube?.destroy().catch(() => undefined);
    await destroyCluster(spec.name);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
