// CRD identity allocation against the real embedded Kubernetes API: two allocators stand for two
// agents, each with its own CiliumIdentity informer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeApi, type TestKubeApi } from '../../lib/testing/kube-api.js';
import type { KubeObject } from '../../lib/k8s/object.js';
import { KubeTransport } from '../k8s/transport.js';
import { Informer } from '../k8s/informer.js';
import { RESOURCES } from '../k8s/resources.js';
import { CrdIdentityAllocator, FIRST_CLUSTER_IDENTITY, fromSecurityLabelMap, identityObject } from './crd-allocator.js';

const until = async (what: string, pred: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

async function agent(api: TestKubeApi, opts: ConstructorParameters<typeof CrdIdentityAllocator>[1] = {}) {
  const t = KubeTransport.load(api.kubeconfig);
  const alloc = new CrdIdentityAllocator(t, opts);
  const inf = new Informer(RESOURCES.CiliumIdentity, t);
  inf.on(alloc.handlers);
  await inf.start();
  await inf.synced;
  return { t, alloc, inf, close: () => (inf.stop(), t.close()) };
}

describe('CrdIdentityAllocator', () => {
  let api: TestKubeApi;
  beforeAll(async () => {
    api = await startKubeApi({ nodes: [] });
  });
  afterAll(async () => api?.close());

  it('writes Cilium CiliumIdentity objects: number as name, security-labels, valid labels in metadata', () => {
    const o = identityObject(300, ['k8s:app=web', 'k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=x', 'k8s:io.kubernetes.pod.namespace=x']);
    expect(o.metadata.name).toBe('300');
    expect(o['security-labels']).toEqual({ 'k8s:app': 'web', 'k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name': 'x', 'k8s:io.kubernetes.pod.namespace': 'x' });
    expect(o.metadata.labels).toEqual({ app: 'web', 'io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name': 'x', 'io.kubernetes.pod.namespace': 'x' });
    expect(identityObject(301, ['k8s:a/b/c=1', 'k8s:ok=this value has spaces', 'k8s:fine=1']).metadata.labels).toEqual({ fine: '1' }); // not valid label keys/values
    expect(fromSecurityLabelMap(o['security-labels'] as Record<string, string>)).toEqual(['k8s:app=web', 'k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=x', 'k8s:io.kubernetes.pod.namespace=x']);
  });

  it('one label set, one number, across agents and argument orders; fresh numbers densely', async () => {
    const a = await agent(api);
    const b = await agent(api);
    const id1 = await a.alloc.allocate(['k8s:b=1', 'k8s:a=1']);
    expect(id1).toBe(FIRST_CLUSTER_IDENTITY);
    expect(await a.alloc.allocate(['k8s:a=1', 'k8s:b=1', 'k8s:a=1'])).toBe(id1);
    await until('b sees it', () => b.alloc.size === 1);
    expect(await b.alloc.allocate(['k8s:a=1', 'k8s:b=1'])).toBe(id1);
    expect(b.alloc.stats.created).toBe(0);
    expect(await b.alloc.allocate(['k8s:c=1'])).toBe(FIRST_CLUSTER_IDENTITY + 1);
    const stored = await a.t.get<KubeObject>(RESOURCES.CiliumIdentity, undefined, String(id1));
    expect(stored['security-labels']).toEqual({ 'k8s:a': '1', 'k8s:b': '1' });
    a.close();
    b.close();
  });

  it('two agents racing for the same new label set end with one identity; for different ones, two numbers', async () => {
    const a = await agent(api);
    const b = await agent(api);
    const [x, y] = await Promise.all([a.alloc.allocate(['k8s:race=same']), b.alloc.allocate(['k8s:race=same'])]);
    expect(x).toBe(y);
    const [p, q] = await Promise.all([a.alloc.allocate(['k8s:race=p']), b.alloc.allocate(['k8s:race=q'])]);
    expect(p).not.toBe(q);
    const all = (await a.t.list(RESOURCES.CiliumIdentity)).items.map((o) => fromSecurityLabelMap(o['security-labels'] as Record<string, string>).join());
    expect(all.filter((l) => l === 'k8s:race=same')).toHaveLength(1);
    expect(a.alloc.stats.conflicts + b.alloc.stats.conflicts).toBeGreaterThan(0); // AlreadyExists was the lock
    a.close();
    b.close();
  });

  it('two numbers for one label set (agents that saw different highs): lookup gives the lowest and onDuplicate names the labels', async () => {
    const dups: string[][] = [];
    const a = await agent(api, { onDuplicate: (l) => dups.push(l) });
    const b = await agent(api);
    const first = await a.alloc.allocate(['k8s:dup=same']);
    // A second object for the same labels under a higher number, as an agent whose informer had not
    // shown it the first one yet would create it.
    const second = first + 5;
    await b.t.create(RESOURCES.CiliumIdentity, identityObject(second, ['k8s:dup=same']));
    await until('a sees the duplicate', () => dups.length > 0);
    expect(dups[0]).toEqual(['k8s:dup=same']);
    expect(a.alloc.lookup(['k8s:dup=same'])).toBe(first);
    expect(await b.alloc.allocate(['k8s:dup=same'])).toBe(first); // b too, once it has seen both
    // Seeing the same object again (a resync) is not a new duplicate.
    const n = dups.length;
    await b.t.create(RESOURCES.CiliumIdentity, identityObject(second + 1, ['k8s:dup=third']));
    await until('a sees the unrelated one', () => a.alloc.labelsOf(second + 1) !== undefined);
    expect(dups.length).toBe(n);
    a.close();
    b.close();
  });

  it('reuses collected numbers oldest first once the fresh ones are gone, and says when none is left', async () => {
    const small = await startKubeApi({ nodes: [] });
    try {
      const a = await agent(small, { first: 1000, last: 1002 });
      expect([await a.alloc.allocate(['k8s:n=1']), await a.alloc.allocate(['k8s:n=2'])]).toEqual([1000, 1001]);
      // The operator collects both (1001 first, then 1000).
      await small.storeDelete('CiliumIdentity', undefined, '1001');
      await small.storeDelete('CiliumIdentity', undefined, '1000');
      await until('both deletions seen', () => a.alloc.size === 0);
      expect(await a.alloc.allocate(['k8s:n=3'])).toBe(1002); // still a fresh one
      expect(await a.alloc.allocate(['k8s:n=4'])).toBe(1001); // then the oldest collected
      expect(await a.alloc.allocate(['k8s:n=5'])).toBe(1000);
      await expect(a.alloc.allocate(['k8s:n=6'])).rejects.toThrow(/no free security identity/);
      expect(await a.alloc.allocate(['k8s:n=4'])).toBe(1001);
      a.close();
      // A restarted agent knows no deletion order: it finds the gaps.
      await small.storeDelete('CiliumIdentity', undefined, '1002');
      const b = await agent(small, { first: 1000, last: 1002 });
      expect(await b.alloc.allocate(['k8s:n=7'])).toBe(1002);
      b.close();
    } finally {
      await small.close();
    }
  });

  it('creates again an identity local endpoints still use when it is deleted under them', async () => {
    const logs: string[] = [];
    let used: Array<{ id: number; labels: string[] }> = [];
    const a = await agent(api, { inUse: () => used, log: (m) => logs.push(m) });
    const id = await a.alloc.allocate(['k8s:app=kept']);
    used = [{ id, labels: ['k8s:app=kept'] }];
    await api.storeDelete('CiliumIdentity', undefined, String(id));
    await until('created again', () => a.alloc.stats.recreated === 1);
    const back = await a.t.get<KubeObject>(RESOURCES.CiliumIdentity, undefined, String(id));
    expect(back['security-labels']).toEqual({ 'k8s:app': 'kept' });
    expect(logs.join('\n')).toMatch(/created again/);
    a.close();
  });
});
