// The enforcement wait through a provider's API (the embedded Kubernetes API served in-process, with
// the agents played by a loop that answers on their Nodes), and the reset after a case: policies
// deleted and labels restored through the same API, whatever the provider.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../../harness/cluster/kube/testing.js';
import type { ClusterSpec } from '../../../harness/cluster/spec.js';
import { KubeconfigProvider } from '../../../harness/providers/kubeconfig/provider.js';
import { POLICY_LAST_WRITE_REVISION, POLICY_PROBLEM, POLICY_REALIZED_REVISION, POLICY_WANTED_REVISION } from '../../../lib/k8s/annotations.js';
import { Prober } from '../probe/prober.js';
import { resetCluster } from './execute.js';
import { waitPolicyEnforced } from './enforcement.js';
import type { PolicySession } from './session.js';

let t: TestApi;
let p: KubeconfigProvider;
const spec = (cni: ClusterSpec['cni']) => ({ name: 'pol-unit', cni, nodes: ['node1', 'node2', 'node3'].map((name) => ({ name })) }) as unknown as ClusterSpec;

/** Agents that answer what is wanted (a problem on one node instead, when given). */
function agents(o: { problemOn?: string; silent?: string } = {}): () => void {
  let on = true;
  void (async () => {
    while (on) {
      for (const n of (await p.list('Node')).items) {
        const wanted = n.metadata.annotations?.[POLICY_WANTED_REVISION];
        if (!wanted || n.metadata.name === o.silent || n.metadata.annotations?.[POLICY_REALIZED_REVISION] === wanted) continue;
        const annotations = n.metadata.name === o.problemOn ? { [POLICY_PROBLEM]: 'cannot enforce SCTP' } : { [POLICY_REALIZED_REVISION]: wanted, [POLICY_LAST_WRITE_REVISION]: '1' };
        await p.mergePatch('Node', undefined, n.metadata.name, { metadata: { annotations } });
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return () => void (on = false);
}

beforeAll(async () => {
  t = await startTestApi();
  p = new KubeconfigProvider(t.kubeconfigPath);
});
afterAll(async () => t?.close());

describe('waitPolicyEnforced through a provider', () => {
  it('waits until every node reports the API revision realized', async () => {
    const stop = agents();
    try {
      const w = await waitPolicyEnforced(p, spec('cnilab'), 5000);
      expect(w.state).toBe('enforced');
      const nodes = (await p.list('Node')).items;
      expect(nodes.every((n) => Number(n.metadata.annotations?.[POLICY_REALIZED_REVISION]) >= 1)).toBe(true);
    } finally {
      stop();
    }
  });

  it('says which node lags, or the problem an agent keeps reporting; never "enforced"', async () => {
    let stop = agents({ silent: 'node2' });
    try {
      // Long enough for the answering agents to answer on a loaded machine (300 ms once was not: node1 was
      // still behind too); node2 never answers, so the wait always times out.
      const w = await waitPolicyEnforced(p, spec('cnilab'), 2000);
      expect(w).toMatchObject({ state: 'timed-out', detail: expect.stringMatching(/behind: node2 at \d+/) });
    } finally {
      stop();
    }
    stop = agents({ problemOn: 'node3' });
    try {
      const w = await waitPolicyEnforced(p, spec('cnilab'), 6000);
      expect(w).toMatchObject({ state: 'timed-out', detail: expect.stringContaining('node3: cannot enforce SCTP') });
    } finally {
      stop();
    }
  }, 15_000);

  it('a CNI without cnilab agents cannot be waited for, and says so', async () => {
    expect(await waitPolicyEnforced(p, spec('kernel'))).toMatchObject({ state: 'not-reported', detail: expect.stringContaining('cni kernel') });
  });
});

describe('resetCluster through a provider', () => {
  it('deletes every policy and puts back the labels a case changed', async () => {
    const session: PolicySession = { spec: spec('kernel'), provider: p, prober: new Prober(), externals: [], close: async () => undefined };
    await p.apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'z', labels: { ns: 'x', extra: 'yes' } } },
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny', namespace: 'z' }, spec: { podSelector: {} } },
      { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'cnp', namespace: 'z' }, spec: { endpointSelector: {}, ingress: [{}] } },
    ]);
    const w = await resetCluster(session, { pods: new Set(), namespaces: new Set(['z']) });
    expect(w.state).toBe('not-reported');
    expect((await p.list('NetworkPolicy')).items).toEqual([]);
    expect((await p.list('CiliumNetworkPolicy')).items).toEqual([]);
    const z = (await p.list('Namespace')).items.find((n) => n.metadata.name === 'z')!;
    expect(z.metadata.labels).toEqual({ ns: 'z', 'kubernetes.io/metadata.name': 'z' });
  });
});
