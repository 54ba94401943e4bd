// Benchmark: network policy update latency on a real cluster, apply → enforced on every node, with
// 1k (and more) policies and thousands of identities present. Root, under the root lock:
//   flock /tmp/cnilab-root.lock node dist/bench/policy-update-bench.js [--policies 1000,5000]
//       [--identities 5000] [--samples 50] [--nodes 3]
// Each sample changes one policy (a port) through the control plane API; T0 is taken just before the
// request. Each agent records the wall-clock time at which its datapath realized each store revision
// (/v1/policy history); the latency of a node is that time minus T0, and "all nodes" is the slowest
// node of the sample. Same host, same clock. Identities beyond the 9 x/y/z pods are CiliumEndpoints of
// a node that does not exist ("ghost" pods, never sent any traffic), each with its own identity
// allocated by the control plane, which the agents learn as remote peers. The engine's own share,
// without control plane and BPF, comes from policy-engine-bench.ts and is printed first.
import { run } from '../harness/exec/run.js';
import { REPO_ROOT } from '../harness/paths.js';
import { sweep } from '../harness/providers/netns/sweep.js';
import { paths } from '../harness/cluster/names.js';
import { ControlPlaneClient } from '../harness/cluster/client.js';
import { waitPolicyRealized } from '../harness/cli/wait.js';
import { AgentClient } from '../agent/api/client.js';
import { podSecurityLabels } from '../agent/identity/labels.js';
import { engineBench, formatEngineResult } from './policy-engine-bench.js';
import { machineSummary, percentile } from './stats.js';

const CLUSTER = 'pol-bench';
const CNILAB = `${REPO_ROOT}/bin/cnilab`;
const NAMESPACES = ['x', 'y', 'z'];

function arg(name: string, d: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : d;
}

/** Policy i of the x/y/z model: selects one pod, allows it from a pod of its namespace and from the
 *  ghost pods of one tier (across namespaces) on one port, and lets it reach its namespace. */
function policy(i: number, port = 1000 + (i % 500)): Record<string, unknown> {
  const ns = NAMESPACES[i % 3]!;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `bench-${i}`, namespace: ns },
    spec: {
      podSelector: { matchLabels: { pod: ['a', 'b', 'c'][Math.floor(i / 3) % 3] } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        { from: [{ podSelector: { matchLabels: { pod: ['a', 'b', 'c'][i % 3] } } }, { namespaceSelector: {}, podSelector: { matchLabels: { tier: `t${i % 500}` } } }], ports: [{ port, protocol: 'TCP' }] },
        // The probes of the x/y/z model still work: 80 and 81 stay open.
        { ports: [{ port: 80, endPort: 81, protocol: 'TCP' }, { port: 80, endPort: 81, protocol: 'UDP' }] },
      ],
      egress: [{ to: [{ podSelector: { matchExpressions: [{ key: 'pod', operator: 'Exists' }] } }], ports: [{ port: 53, protocol: 'UDP' }, { port }] }, { ports: [{ port: 80, endPort: 81, protocol: 'TCP' }, { port: 80, endPort: 81, protocol: 'UDP' }] }],
    },
  };
}

async function addGhosts(cp: ControlPlaneClient, n: number): Promise<void> {
  const batch: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const ns = NAMESPACES[i % 3]!;
    const labels = podSecurityLabels(ns, { app: `ghost${i}`, tier: `t${i % 500}` }, { 'kubernetes.io/metadata.name': ns, ns });
    const id = await cp.allocateIdentity(labels);
    batch.push({
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumEndpoint',
      metadata: { name: `ghost-${i}`, namespace: ns },
      status: { id: i + 1, identity: { id, labels }, networking: { addressing: [{ ipv4: `198.19.${192 + (i >> 8)}.${i & 255}` }], node: '198.18.0.250' }, nodeName: 'ghost', state: 'ready' },
    });
    if (batch.length === 500 || i === n - 1) await cp.apply(batch.splice(0), true);
  }
}

async function realizedAt(agents: AgentClient[], revision: number): Promise<number[]> {
  return Promise.all(
    agents.map(async (a) => {
      const h = (await a.policy({ entries: false, timeoutMs: 60_000 })).history;
      const hit = h.find((x) => x.revision >= revision);
      if (!hit) throw new Error(`${a.node}: no realization of revision ${revision} in its history`);
      return hit.at;
    }),
  );
}

async function measure(cp: ControlPlaneClient, agents: AgentClient[], policies: number, samples: number): Promise<{ perNode: number[][]; all: number[] }> {
  const perNode: number[][] = agents.map(() => []);
  const all: number[] = [];
  for (let s = 0; s < samples; s++) {
    const i = (s * 7919) % policies;
    const t0 = performance.timeOrigin + performance.now();
    const { resourceVersion } = await cp.applyAt([policy(i, 2000 + s)]);
    await waitPolicyRealized(cp, CLUSTER, resourceVersion, 30_000);
    const at = await realizedAt(agents, resourceVersion);
    at.forEach((t, n) => perNode[n]!.push(t - t0));
    all.push(Math.max(...at) - t0);
  }
  return { perNode, all };
}

async function main(): Promise<void> {
  const counts = arg('--policies', '1000').split(',').map(Number);
  const identities = Number(arg('--identities', '5000'));
  const samples = Number(arg('--samples', '50'));
  const nodes = arg('--nodes', '3');
  const f = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms`;
  console.log(`policy update benchmark on ${machineSummary()}, Node ${process.version}`);
  console.log('\nagent share (engine + controller, no control plane, no BPF):');
  for (const p of counts) console.log(formatEngineResult(await engineBench({ policies: p, identities, samples: 100 })));

  const phase = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await fn();
    process.stderr.write(`  ${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    return r;
  };
  await phase('sweep', () => sweep(CLUSTER));
  try {
    await phase('up', () => run([CNILAB, 'up', '--name', CLUSTER, '--nodes', nodes, '-q'], { timeoutMs: 120_000 }));
    await phase('xyz pods', () => run([CNILAB, 'apply', '--name', CLUSTER, '-f', `${REPO_ROOT}/scenarios/manifests/xyz.yaml`, '--wait'], { timeoutMs: 120_000 }));
    const cp = new ControlPlaneClient(paths.controlSocket(CLUSTER), CLUSTER);
    const agents = (await cp.cluster()).nodes.map((n) => new AgentClient(CLUSTER, n.name));
    let t = performance.now();
    await addGhosts(cp, identities);
    await waitPolicyRealized(cp, CLUSTER, (await cp.healthz()).resourceVersion, 300_000);
    console.log(`\ncluster: ${nodes} nodes (tunnel), 9 pods + ${identities} ghost identities known to every agent in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    let present = 0;
    for (const target of counts) {
      t = performance.now();
      const before = present;
      for (let i = present; i < target; i += 250) {
        const { resourceVersion } = await cp.applyAt(Array.from({ length: Math.min(250, target - i) }, (_, k) => policy(i + k)));
        await waitPolicyRealized(cp, CLUSTER, resourceVersion, 300_000);
      }
      present = target;
      const loadS = (performance.now() - t) / 1000;
      const st = await Promise.all(agents.map((a) => a.policy({ entries: false, timeoutMs: 60_000 })));
      const entries = st.map((x) => x.counts.entries);
      console.log(`\n${target} policies (${target * 4} rules; the ${target - before} new ones applied and enforced in ${loadS.toFixed(1)} s); map entries per node: ${entries.join(', ')}`);
      const m = await phase('samples', () => measure(cp, agents, target, samples));
      agents.forEach((a, n) => console.log(`  ${a.node}: ${f(m.perNode[n]!)}`));
      console.log(`  apply → enforced on all nodes: ${f(m.all)} (${samples} samples; goal p99 < 100 ms)`);
    }
  } finally {
    await phase('down', () => run([CNILAB, 'down', '--name', CLUSTER], { timeoutMs: 120_000, allowFailure: true }));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
