// Benchmark of the agent's informers (agent/k8s) against the embedded Kubernetes API, in-process over
// HTTPS, no cluster, no root: the latency from a create request to the agent's merged event stream
// (where the ipcache and the policy controller get it), for a Pod and a CiliumEndpoint, and the latency
// of the stream's progress (BOOKMARK) after a change of a kind the agent does not watch — what
// `apply --wait` of, say, a Deployment waits on. The agent's informers are all running (nine kinds),
// as in the agent. Prints p50/p99 with the machine:
//   node dist/bench/agent-watch-bench.js [--samples 300]
import { parseArgs } from 'node:util';
import { startTestApi } from '../harness/cluster/kube/testing.js';
import type { KubeObject } from '../harness/cluster/objects.js';
import { KubeTransport } from '../agent/k8s/transport.js';
import { KubeInformers, type StreamEvent } from '../agent/k8s/informers.js';
import { RESOURCES } from '../agent/k8s/resources.js';
import { machineSummary, median, percentile } from './stats.js';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '300' } } });
const SAMPLES = Number(values.samples);
const WARMUP = 10;

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const fmt = (xs: number[]) => `p50 ${median(xs).toFixed(2)} ms, p99 ${percentile(xs, 99).toFixed(2)} ms (n=${xs.length})`;

async function main(): Promise<void> {
  const api = await startTestApi({ controllers: false, bookmarkIntervalMs: 60_000 });
  const t = KubeTransport.load(api.kubeconfigPath);
  const agent = new KubeInformers(t);
  const writer = KubeTransport.load(api.kubeconfigPath);
  try {
    await writer.create(RESOURCES.Namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'w' } });
    const waiting = new Map<string, () => void>();
    let progressWaiter: { rv: number; done: () => void } | undefined;
    agent.watch(['Node', 'Namespace', 'Pod', 'NetworkPolicy', 'CiliumNetworkPolicy', 'CiliumEndpoint', 'CiliumIdentity'], (ev: StreamEvent) => {
      if (ev.type === 'ADDED') waiting.get(`${ev.object.kind}/${ev.object.metadata.name}`)?.();
      if (ev.type === 'BOOKMARK' && progressWaiter && ev.resourceVersion >= progressWaiter.rv) progressWaiter.done();
    });
    agent.start();
    await agent.synced(10_000);

    const requests: number[] = [];
    const measure = async (kind: 'Pod' | 'CiliumEndpoint', make: (name: string) => KubeObject) => {
      const out: number[] = [];
      for (let i = 0; i < SAMPLES + WARMUP; i++) {
        const name = `${kind.toLowerCase()}-${i}`;
        const seen = new Promise<void>((r) => waiting.set(`${kind}/${name}`, r));
        const t0 = process.hrtime.bigint();
        await writer.create(RESOURCES[kind], make(name));
        const request = ms(t0);
        await seen;
        if (i >= WARMUP) (out.push(ms(t0)), requests.push(request));
        waiting.delete(`${kind}/${name}`);
      }
      return out;
    };
    const pods = await measure('Pod', (name) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'w', labels: { app: 'bench' } }, spec: { containers: [{ name: 'c', image: 'busybox', command: ['true'] }] } }));
    const ceps = await measure('CiliumEndpoint', (name) => ({
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumEndpoint',
      metadata: { name, namespace: 'w' },
      status: { id: 1, identity: { id: 300, labels: ['k8s:app=bench'] }, networking: { addressing: [{ ipv4: '198.19.9.9' }], node: '198.18.0.12' }, nodeName: 'node2', state: 'ready' },
    }));
    // Progress: a Deployment (no agent watches Deployments) must still move every informer's progress.
    const progress: number[] = [];
    const deployments = { kind: 'Deployment', group: 'apps', version: 'v1', plural: 'deployments', namespaced: true };
    for (let i = 0; i < SAMPLES + WARMUP; i++) {
      const t0 = process.hrtime.bigint();
      const created = await writer.create(deployments, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: `d${i}`, namespace: 'w' },
        spec: { replicas: 0, selector: { matchLabels: { d: `d${i}` } }, template: { metadata: { labels: { d: `d${i}` } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
      });
      const rv = Number(created.metadata.resourceVersion);
      if (agent.progress() < rv) await new Promise<void>((done) => (progressWaiter = { rv, done }));
      progressWaiter = undefined;
      if (i >= WARMUP) progress.push(ms(t0));
    }
    console.log(`agent informers against the embedded Kubernetes API (HTTPS, in-process) on ${machineSummary()}, Node ${process.version}`);
    console.log(`  create Pod → agent stream ADDED:            ${fmt(pods)}`);
    console.log(`  create CiliumEndpoint → agent stream ADDED: ${fmt(ceps)}`);
    console.log(`  create Deployment (unwatched) → progress:   ${fmt(progress)}  (a BOOKMARK on each of the agent's watches)`);
    console.log(`  the create request alone:                   ${fmt(requests)}  (the rest is the watch)`);
    console.log(`  informers: ${JSON.stringify(Object.fromEntries(Object.entries(agent.status()).map(([k, v]) => [k, { events: v.events, bookmarks: v.bookmarks }])))}`);
  } finally {
    agent.stop();
    t.close();
    writer.close();
    await api.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
