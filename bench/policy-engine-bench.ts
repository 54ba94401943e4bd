// Benchmark of the agent's policy side alone (no root, no cluster): the policy controller fed with
// watch events as the control plane would send them, writing into the in-memory datapath. It measures
// - the bulk load: N policies and M remote identities arriving (the initial listing), until realized;
// - one policy update (a port changes) until realized, repeated: p50 / p99;
// - one new peer identity (a pod appears on another node) until realized, repeated: p50 / p99.
// The datapath here keeps what it is given without copying or compiling it, so the figures are the
// agent's share (engine, controller, materializing each changed endpoint's policy); the cluster
// benchmark (policy-update-bench.ts) adds the control plane, the watch stream and the real BPF writer.
//   node dist/bench/policy-engine-bench.js [--policies 1000] [--identities 5000] [--samples 200]
import { FakeDatapath } from '../agent/testing/fake-datapath.js';
import { IdentityCache, podSecurityLabels } from '../agent/identity/labels.js';
import { IpcacheSync } from '../agent/routing/ipcache-sync.js';
import { PolicyController, type PolicyWatchEvent } from '../agent/policy/controller.js';
import type { EndpointState } from '../agent/endpoint/state.js';
import type { EndpointPolicy } from '../agent/policy/types.js';
import { machineSummary, percentile } from './stats.js';

export interface EngineBenchResult {
  policies: number;
  identities: number;
  localEndpoints: number;
  rules: number;
  entries: number;
  bulkMs: number;
  updateMs: number[];
  newPeerMs: number[];
}

const NAMESPACES = 10;
const LOCAL = 30;

/** Policy i: selects one app of its namespace, allows it from one app of the same namespace and from
 *  a team of namespaces on one port, and lets it reach its namespace on one port. */
export function benchPolicy(i: number, port = 80 + (i % 50)): Record<string, unknown> {
  return {
    kind: 'NetworkPolicy',
    metadata: { name: `p${i}`, namespace: `ns${i % NAMESPACES}` },
    spec: {
      podSelector: { matchLabels: { app: `app${i % LOCAL}` } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: { matchLabels: { app: `app${i % 200}` } } }, { namespaceSelector: { matchLabels: { team: `t${i % 5}` } }, podSelector: { matchLabels: { tier: `tier${i % 7}` } } }], ports: [{ port, protocol: 'TCP' }] }],
      egress: [{ to: [{ podSelector: {} }], ports: [{ port: 53, protocol: 'UDP' }, { port }] }],
    },
  };
}

/** Labels of the i-th remote pod (one identity each). */
export function benchPeerLabels(i: number): { ns: string; labels: Record<string, string>; nsLabels: Record<string, string> } {
  const ns = `ns${i % NAMESPACES}`;
  return { ns, labels: { app: `app${i % 200}`, tier: `tier${i % 7}`, pod: `r${i}` }, nsLabels: { team: `t${i % NAMESPACES % 5}`, 'kubernetes.io/metadata.name': ns } };
}

export async function engineBench(opts: { policies: number; identities: number; samples: number }): Promise<EngineBenchResult> {
  const dp = new FakeDatapath({ pinDir: '/tmp/none', routing: 'tunnel', nodeIp: '198.18.0.11', routerIp: '198.19.0.1', podCidr: '198.19.0.0/24' });
  const kept = new Map<number, EndpointPolicy>();
  dp.setEndpointPolicy = (p) => void kept.set(p.endpointId, p);
  dp.deleteEndpointPolicy = (id) => void kept.delete(id);
  dp.listEndpointPolicies = () => [...kept.values()];
  let next = 256;
  const identities = new IdentityCache(async () => next++);
  const ipcache = new IpcacheSync(dp, 'node1', identities, () => {});
  ipcache.handle({ type: 'SYNCED' });
  const local: EndpointState[] = [];
  const c = new PolicyController({ node: 'node1', datapath: dp, endpoints: { list: () => local, relabel: async () => false }, identities, ipcache, log: () => {} });
  let rv = 0;
  const send = (type: string, object: PolicyWatchEvent['object']) => {
    object!.metadata.resourceVersion = String(++rv);
    c.handle({ type, object });
  };
  const realized = async () => {
    while (c.revision < rv) await new Promise((r) => setImmediate(r));
    if (c.problem) throw new Error(c.problem);
  };
  for (let n = 0; n < NAMESPACES; n++) send('ADDED', { kind: 'Namespace', metadata: { name: `ns${n}`, labels: { team: `t${n % 5}` } } });
  for (let i = 0; i < LOCAL; i++) {
    const ns = `ns${i % NAMESPACES}`;
    const labels = podSecurityLabels(ns, { app: `app${i}`, tier: `tier${i % 7}` }, { team: `t${i % NAMESPACES % 5}`, 'kubernetes.io/metadata.name': ns });
    const st = { containerId: `c${i}`, endpointId: i + 1, podNamespace: ns, podName: `l${i}`, ip: `198.19.0.${i + 2}`, identity: next++, labels } as EndpointState;
    local.push(st);
  }
  c.handle({ type: 'SYNCED', resourceVersion: ++rv });
  await realized();

  const peer = (i: number): PolicyWatchEvent['object'] => {
    const p = benchPeerLabels(i);
    return {
      kind: 'CiliumEndpoint',
      metadata: { name: `r${i}`, namespace: p.ns },
      status: { nodeName: 'node2', identity: { id: 1000 + i, labels: podSecurityLabels(p.ns, p.labels, p.nsLabels) }, networking: { addressing: [{ ipv4: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }] } },
    };
  };
  const t0 = performance.now();
  for (let i = 0; i < opts.identities; i++) send('ADDED', peer(i));
  for (let i = 0; i < opts.policies; i++) send('ADDED', benchPolicy(i) as PolicyWatchEvent['object']);
  await realized();
  const bulkMs = performance.now() - t0;

  const updateMs: number[] = [];
  for (let s = 0; s < opts.samples; s++) {
    const i = (s * 7919) % opts.policies;
    const t = performance.now();
    send('MODIFIED', benchPolicy(i, 1000 + s) as PolicyWatchEvent['object']);
    await realized();
    updateMs.push(performance.now() - t);
  }
  const newPeerMs: number[] = [];
  for (let s = 0; s < opts.samples; s++) {
    const t = performance.now();
    send('ADDED', peer(opts.identities + s));
    await realized();
    newPeerMs.push(performance.now() - t);
  }
  const entries = dp.listEndpointPolicies().reduce((n, p) => n + p.entries.length, 0);
  c.stop();
  return { policies: opts.policies, identities: opts.identities, localEndpoints: LOCAL, rules: opts.policies * 2, entries, bulkMs, updateMs, newPeerMs };
}

export function formatEngineResult(r: EngineBenchResult): string {
  const f = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(2)} ms, p99 ${percentile(xs, 99).toFixed(2)} ms`;
  return [
    `${r.policies} policies (${r.rules} rules), ${r.identities} remote identities, ${r.localEndpoints} local endpoints → ${r.entries} map entries`,
    `  bulk load to realized: ${r.bulkMs.toFixed(0)} ms`,
    `  one policy updated:    ${f(r.updateMs)} (${r.updateMs.length} samples)`,
    `  one new peer identity: ${f(r.newPeerMs)} (${r.newPeerMs.length} samples)`,
  ].join('\n');
}

async function main(): Promise<void> {
  const arg = (name: string, d: number) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const identities = arg('--identities', 5000);
  const samples = arg('--samples', 200);
  console.log(`policy engine benchmark on ${machineSummary()}, Node ${process.version}`);
  for (const policies of process.argv.includes('--policies') ? [arg('--policies', 1000)] : [1000, 5000]) {
    console.log(formatEngineResult(await engineBench({ policies, identities, samples })));
  }
}

if (process.argv[1]?.endsWith('policy-engine-bench.js')) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
