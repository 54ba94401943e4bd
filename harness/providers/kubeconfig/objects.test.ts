// The kubeconfig provider's object verbs (list, remove, mergePatch) against the embedded Kubernetes
// API served in-process: what the policy suite needs to apply, delete and relabel through any cluster.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../cluster/kube/testing.js';
import { KubeconfigProvider } from './provider.js';

let t: TestApi;
let p: KubeconfigProvider;

beforeAll(async () => {
  t = await startTestApi();
  p = new KubeconfigProvider(t.kubeconfigPath);
});
afterAll(async () => t?.close());

describe('KubeconfigProvider objects', () => {
  it('lists with kind and apiVersion on every item and the API revision; a list is empty, not an error', async () => {
    await p.apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', labels: { ns: 'x', team: 'red' } } },
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny', namespace: 'x' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } },
      { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'cnp', namespace: 'x' }, spec: { endpointSelector: {}, ingress: [{}] } },
    ]);
    const np = await p.list('NetworkPolicy');
    expect(np.items.map((o) => [o.kind, o.apiVersion, o.metadata.namespace, o.metadata.name])).toEqual([['NetworkPolicy', 'networking.k8s.io/v1', 'x', 'deny']]);
    expect(Number(np.resourceVersion)).toBe(t.store.resourceVersion);
    expect((await p.list('CiliumNetworkPolicy', 'x')).items.map((o) => o.kind)).toEqual(['CiliumNetworkPolicy']);
    expect((await p.list('NetworkPolicy', 'default')).items).toEqual([]);
  });

  it('merge-patches labels (null removes one) and removes objects, a second time without error', async () => {
    const out = await p.mergePatch('Namespace', undefined, 'x', { metadata: { labels: { ns: 'y', team: null } } });
    expect(out.metadata.labels).toEqual({ ns: 'y', 'kubernetes.io/metadata.name': 'x' });
    await p.remove('NetworkPolicy', 'x', 'deny');
    await p.remove('NetworkPolicy', 'x', 'deny');
    expect((await p.list('NetworkPolicy')).items).toEqual([]);
  });

  it('keeps the fields the client\'s models rename (an ingress rule\'s `from`, an ipBlock\'s `except`) both ways', async () => {
    const ingress = [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }, { ipBlock: { cidr: '198.19.0.0/16', except: ['198.19.2.0/24'] } }], ports: [{ port: 81, protocol: 'TCP' }] }];
    const np = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p81', namespace: 'x' }, spec: { podSelector: {}, ingress } };
    await p.apply([np]);
    // What the API stores, not what the client's models say.
    expect((t.store.list('NetworkPolicy', 'x')[0]!.spec as { ingress: unknown }).ingress).toEqual(ingress);
    const listed = (await p.list('NetworkPolicy', 'x')).items[0]!;
    expect((listed.spec as { ingress: unknown }).ingress).toEqual(ingress);
    // Applying it again is a no-op (covered), a change replaces it with the fields intact.
    await p.apply([np]);
    const egress = [{ to: [{ ipBlock: { cidr: '198.18.0.0/24', except: ['198.18.0.1/32'] } }] }];
    await p.apply([{ ...np, spec: { podSelector: {}, ingress, egress, policyTypes: ['Ingress', 'Egress'] } }]);
    expect(t.store.list('NetworkPolicy', 'x')[0]!.spec).toMatchObject({ ingress, egress });
    await p.remove('NetworkPolicy', 'x', 'p81');
  });

  it('names a kind it knows no apiVersion for', async () => {
    await expect(p.list('Gizmo')).rejects.toThrow(/no known apiVersion for kind Gizmo/);
  });
});
