// Benchmark of the embedded Kubernetes API (in-process, no cluster, no root): listing 1000 pods
// (JSON and kubectl's Table) through @kubernetes/client-node over HTTPS, and watch latency: from
// the create request to the ADD callback of a client-node informer, p50/p99. Prints figures with
// the machine; run: node dist/bench/kube-api-bench.js [--pods 1000] [--samples 30] [--watch 300]
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { startTestApi, apiRequest } from '../harness/cluster/kube/testing.js';
import type { KubeObject } from '../harness/cluster/objects.js';
import { machineSummary, median, percentile } from './stats.js';

const { values } = parseArgs({ options: { pods: { type: 'string', default: '1000' }, samples: { type: 'string', default: '30' }, watch: { type: 'string', default: '300' } } });
const PODS = Number(values.pods);
const SAMPLES = Number(values.samples);
const WATCHES = Number(values.watch);

const pod = (ns: string, name: string): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: 'bench', idx: name } },
    spec: { nodeName: `node${(Number(name.slice(1)) % 3) + 1}`, containers: [{ name: 'c', image: 'registry.k8s.io/e2e-test-images/agnhost:2.47', args: ['netexec'] }] },
    status: { phase: 'Running', podIP: `198.19.${Number(name.slice(1)) % 250}.${(Number(name.slice(1)) % 200) + 2}`, conditions: [{ type: 'Ready', status: 'True' }] },
  }) as KubeObject;

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const fmt = (xs: number[]) => `p50 ${median(xs).toFixed(2)} ms, p99 ${percentile(xs, 99).toFixed(2)} ms, min ${Math.min(...xs).toFixed(2)} ms (n=${xs.length})`;

async function main(): Promise<void> {
  const t = await startTestApi({ controllers: false });
  try {
    t.store.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } } as KubeObject, ...Array.from({ length: PODS }, (_, i) => pod('bench', `p${i}`))], { internal: true });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(t.kubeconfigPath);
    const core = kc.makeApiClient(k8s.CoreV1Api);

    const listJson: number[] = [];
    const listTable: number[] = [];
    const listRaw: number[] = [];
    for (let i = 0; i < SAMPLES + 3; i++) {
      let t0 = process.hrtime.bigint();
      const l = await core.listNamespacedPod({ namespace: 'bench' });
      const a = ms(t0);
      if (l.items.length !== PODS) throw new Error(`listed ${l.items.length} pods, expected ${PODS}`);
      t0 = process.hrtime.bigint();
      const r = await apiRequest(t, 'GET', '/api/v1/namespaces/bench/pods');
      const c = ms(t0);
      t0 = process.hrtime.bigint();
      const tab = await apiRequest(t, 'GET', '/api/v1/namespaces/bench/pods', undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
      const b = ms(t0);
      if (tab.body.rows.length !== PODS || r.body.items.length !== PODS) throw new Error('short list');
      if (i >= 3) {
        listJson.push(a);
        listRaw.push(c);
        listTable.push(b);
      }
    }

    // Watch latency: an informer on a namespace; each sample creates one pod through the API and
    // waits for the informer's add callback.
    t.store.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'w' } } as KubeObject], { internal: true });
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/w/pods', () => core.listNamespacedPod({ namespace: 'w' }));
    const waiting = new Map<string, (v: number) => void>();
    informer.on('add', (p) => waiting.get(p.metadata!.name!)?.(0));
    await informer.start();
    const watchLat: number[] = [];
    const createLat: number[] = [];
    for (let i = 0; i < WATCHES + 10; i++) {
      const name = `w${i}`;
      const seen = new Promise<number>((r) => waiting.set(name, r));
      const t0 = process.hrtime.bigint();
      await core.createNamespacedPod({ namespace: 'w', body: { metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox', command: ['true'] }] } } });
      const created = ms(t0);
      await seen;
      const total = ms(t0);
      waiting.delete(name);
      if (i >= 10) {
        watchLat.push(total);
        createLat.push(created);
      }
    }
    await informer.stop();

    const lines = [
      `kube-api-bench on ${machineSummary()}, Node ${process.version}`,
      `list ${PODS} pods, client-node CoreV1Api (HTTPS, JSON, parsed into V1Pod): ${fmt(listJson)}`,
      `list ${PODS} pods, raw HTTPS GET (JSON):                                 ${fmt(listRaw)}`,
      `list ${PODS} pods as a Table (kubectl get):                               ${fmt(listTable)}`,
      `create → informer ADD (client-node informer, HTTPS watch):             ${fmt(watchLat)}`,
      `  of which the create request (201 answered):                          ${fmt(createLat)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await t.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
