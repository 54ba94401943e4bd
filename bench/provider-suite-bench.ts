// Benchmark: suites run through the kubeconfig provider (Kubernetes API, pods/exec over WebSocket, node
// commands through a host-network helper pod) and through the netns provider, on one embedded cluster,
// in interleaved rounds.
// - connectivity: the connectivity scenario (pod↔pod, pod↔node, node→pod, path MTU, pod link config,
//   the cnilab checks). The netns provider (nsenter) is timed twice: as the suite runs there (with the
//   flow and metric checks read from the agents' relay) and with the same checks the kubeconfig
//   provider can make (no relay), so the ratio compares like with like.
// - policy: five policy cases with their full 81-pair matrices (default deny, a port rule, a relabelled
//   pod over two steps, a UDP-only rule; 1,620 probes) plus a Cilium-style echo ingress. Through netns
//   the socket prober settles each block by its drop flow; timed also without flows (blocks settled by
//   the 1 s timeout, the evidence the kubeconfig provider has) so that ratio compares like with like.
// - services: the services scenario (ClusterIP/NodePort from pods and nodes, no endpoints, affinity, a
//   backend deleted). Through netns its exchanges are in-process sockets and it reads the agents; through
//   kubeconfig they are `agnhost cnilab-svc-ask` exec'd in the pods, the deletion is judged after the
//   EndpointSlices change plus a 2 s grace, and the outside-host, drop-counter and flow checks are
//   unavailable (so kubeconfig makes fewer checks: compare with that in mind).
// - wire: the wire scenario (captures on two nodes' underlay devices while six probes run): tcpdump in
//   the node namespaces through netns, in the privileged host-network helper pods (pcap over exec)
//   through kubeconfig; the same 12 checks both ways.
// - faults: the faults suite (agent restart under a stream, bird SIGKILL/down/SIGSTOP, a link pulled):
//   node faults from this host through netns, through the nodes' privileged helper pods (hostPID) and
//   exec'd probes through kubeconfig. Asked for alone (`--suite faults`) the cluster routes natively,
//   so bgp-peer-loss runs too; beside other suites the cluster is tunnel and it is skipped.
//   node dist/bench/provider-suite-bench.js [--rounds 3] [--suite connectivity|policy|services|wire|faults]...
import { performance } from 'node:perf_hooks';
import { paths } from '../harness/cluster/names.js';
import { resolveSpec } from '../harness/cluster/spec.js';
import { createCluster, destroyCluster } from '../harness/providers/netns/cluster.js';
import { NetnsProvider } from '../harness/providers/netns/provider.js';
import { KubeconfigProvider } from '../harness/providers/kubeconfig/provider.js';
import { connectivityScenario } from '../scenarios/connectivity/connectivity.js';
import { servicesScenario } from '../scenarios/connectivity/services.js';
import { wireScenario } from '../scenarios/connectivity/wire.js';
import { runThroughProvider } from '../scenarios/framework/provider-run.js';
import { buildPolicySuite } from '../scenarios/policy/index.js';
import { faultsSuite } from '../scenarios/faults/index.js';
import type { Suite } from '../scenarios/framework/model.js';
import { machineSummary, median, spread } from './stats.js';

const POLICY_CASES = ['default-deny-ingress', 'ports-tcp-81-from-namespace', 'updated-pod-labels', 'bug-udp-only-rule-no-tcp', 'cilium-echo-ingress'];

type Runs = Record<string, () => ReturnType<typeof runThroughProvider>>;

/** Interleaved rounds of `runs`, round 0 a warm-up; prints medians and the ratios asked for. */
async function measure(title: string, rounds: number, runs: Runs, ratios: Array<[string, string, string]>): Promise<void> {
  const t: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  const checks: Record<string, string> = {};
  // Round 0 warms up (pods created, helper pods started) and is not counted.
  for (let n = 0; n <= rounds; n++) {
    for (const [name, go] of Object.entries(runs)) {
      const t0 = performance.now();
      const r = await go();
      const ms = performance.now() - t0;
      if (r.error) throw new Error(`${name}: ${r.error}`);
      const cs = r.suites.flatMap((s) => s.scenarios).flatMap((s) => s.checks);
      const bad = cs.filter((c) => c.verdict === 'fail');
      const unavailable = cs.filter((c) => c.verdict === 'unavailable').length;
      if (bad.length) throw new Error(`${name}: ${bad.length} checks failed, e.g. ${bad[0]!.id}: ${bad[0]!.observed}`);
      const probes = cs.reduce((p, c) => p + (c.reachability ? c.reachability.correct + c.reachability.incorrect : 0), 0);
      checks[name] = `${cs.length} checks${unavailable ? ` (${unavailable} unavailable)` : ''}${probes ? `, ${probes} probes` : ''}`;
      if (n > 0) t[name]!.push(ms);
    }
  }
  const f = (xs: number[]) => `median ${(median(xs) / 1000).toFixed(1)} s (${spread(xs.map((x) => x / 1000), 1)} s)`;
  console.log(`${title}, ${rounds} interleaved rounds after a warm-up`);
  for (const [name, xs] of Object.entries(t)) console.log(`  ${name.padEnd(40)} ${f(xs)}, ${checks[name]}`);
  for (const [label, a, b] of ratios) console.log(`  ratio ${label}: ${(median(t[a]!) / median(t[b]!)).toFixed(2)}`);
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--rounds');
  const rounds = i > 0 ? Number(process.argv[i + 1]) : 3;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a whole number ≥ 1, got ${process.argv[i + 1]}`);
  const suites = process.argv.flatMap((a, j) => (process.argv[j - 1] === '--suite' ? [a] : []));
  for (const s of suites) if (!['connectivity', 'policy', 'services', 'wire', 'faults'].includes(s)) throw new Error(`--suite: expected connectivity, policy, services, wire or faults, got ${s}`);
  const want = (s: string) => suites.length === 0 || suites.includes(s);
  const routing = suites.length === 1 && suites[0] === 'faults' ? 'native' : 'tunnel';
  const spec = resolveSpec({}, 'bench', { name: 'prv-bench', nodes: 3, cni: 'cnilab', routing });
  await destroyCluster(spec.name);
  let kube: KubeconfigProvider | undefined;
  try {
    await createCluster(spec);
    // The cluster's own kubeconfig exists once it is up.
    kube = new KubeconfigProvider(paths.kubeconfig(spec.name));
    const api = kube;
    const netns = new NetnsProvider(spec.name);
    console.log(`machine: ${machineSummary()}; one 3-node cnilab ${routing} cluster`);
    if (want('connectivity')) {
      const suite: Suite = { name: 'connectivity', scenarios: [connectivityScenario] };
      await measure('connectivity scenario', rounds, {
        'netns (with relay flow checks)': () => runThroughProvider(netns, [suite], { name: spec.name, spec }),
        'netns (same checks as kubeconfig)': () => runThroughProvider(netns, [suite], { name: spec.name, spec, flowChecks: false }),
        'kubeconfig (API, WebSocket exec)': () => runThroughProvider(api, [suite], { name: spec.name, podMtu: spec.podMtu }),
      }, [
        ['kubeconfig / netns, same checks', 'kubeconfig (API, WebSocket exec)', 'netns (same checks as kubeconfig)'],
        ['kubeconfig / netns, as each runs', 'kubeconfig (API, WebSocket exec)', 'netns (with relay flow checks)'],
      ]);
    }
    if (want('services')) {
      const suite: Suite = { name: 'connectivity', scenarios: [servicesScenario] };
      await measure('services scenario', rounds, {
        'netns (in-process sockets, agents)': () => runThroughProvider(netns, [suite], { name: spec.name, spec }),
        'kubeconfig (API, exec cnilab-svc-ask)': () => runThroughProvider(api, [suite], { name: spec.name, podMtu: spec.podMtu }),
      }, [['kubeconfig / netns', 'kubeconfig (API, exec cnilab-svc-ask)', 'netns (in-process sockets, agents)']]);
    }
    if (want('wire')) {
      const suite: Suite = { name: 'connectivity', scenarios: [wireScenario] };
      await measure('wire scenario', rounds, {
        'netns (tcpdump in the node namespaces)': () => runThroughProvider(netns, [suite], { name: spec.name, spec }),
        'kubeconfig (tcpdump in helper pods, pcap over exec)': () => runThroughProvider(api, [suite], { name: spec.name, podMtu: spec.podMtu, routing: 'tunnel' }),
      }, [['kubeconfig / netns', 'kubeconfig (tcpdump in helper pods, pcap over exec)', 'netns (tcpdump in the node namespaces)']]);
    }
    if (want('faults')) {
      await measure(`faults suite (${routing} routing)`, rounds, {
        'netns (this host: pids, fabric port)': () => runThroughProvider(netns, [faultsSuite], { name: spec.name, spec, flowChecks: false }),
        'kubeconfig (helper pods, exec probes)': () => runThroughProvider(api, [faultsSuite], { name: spec.name, podMtu: spec.podMtu, routing }),
      }, [['kubeconfig / netns', 'kubeconfig (helper pods, exec probes)', 'netns (this host: pids, fabric port)']]);
    }
    if (want('policy')) {
      const withFlows = buildPolicySuite({ only: POLICY_CASES });
      const noFlows = buildPolicySuite({ only: POLICY_CASES, flows: false });
      await measure(`policy suite (${POLICY_CASES.join(', ')})`, rounds, {
        'netns (sockets, drop flows)': () => runThroughProvider(netns, [withFlows], { name: spec.name, spec }),
        'netns (sockets, timeouts as evidence)': () => runThroughProvider(netns, [noFlows], { name: spec.name, spec }),
        'kubeconfig (API, exec probes)': () => runThroughProvider(api, [withFlows], { name: spec.name, podMtu: spec.podMtu }),
      }, [
        ['kubeconfig / netns, same evidence', 'kubeconfig (API, exec probes)', 'netns (sockets, timeouts as evidence)'],
        ['kubeconfig / netns, as each runs', 'kubeconfig (API, exec probes)', 'netns (sockets, drop flows)'],
      ]);
    }
  } finally {
    await kube?.destroy().catch(() => undefined);
    await destroyCluster(spec.name);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
