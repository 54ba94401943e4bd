// The workload controllers on an in-process store, with a fake kubelet that marks pods Running and
// Ready: Deployment → ReplicaSet → pods, scaling, replacement of a deleted pod, rollout of a new
// template, deletion propagation (Background, Foreground, Orphan), DaemonSet per node, and the
// back-off that keeps a broken template from spinning.
import { afterEach, describe, expect, it } from 'vitest';
import { ObjectStore } from '../store.js';
import type { KubeObject } from '../objects.js';
import { ControllerManager } from './index.js';
import { deleteWithPropagation } from './garbage-collector.js';

const tick = () => new Promise((r) => setTimeout(r, 5));
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await tick();
}

let stops: Array<() => void> = [];
afterEach(() => {
  for (const s of stops) s();
  stops = [];
});

/** A store with nodes, the controllers, and a fake kubelet: each new pod becomes Running/Ready (or Failed). */
function cluster(opts: { fail?: (pod: KubeObject) => boolean } = {}) {
  const store = new ObjectStore();
  store.apply(
    [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } },
      ...['node1', 'node2', 'node3'].map((name) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { zone: name === 'node3' ? 'b' : 'a' } } })),
    ] as KubeObject[],
    { internal: true },
  );
  const created: string[] = [];
  const unwatch = store.watch((ev) => {
    if (ev.type !== 'ADDED' || ev.object.kind !== 'Pod') return;
    const p = ev.object;
    created.push(p.metadata.name);
    setImmediate(() => {
      try {
        const failed = opts.fail?.(p);
        store.updateStatus('Pod', p.metadata.namespace, p.metadata.name, failed ? { phase: 'Failed', reason: 'SandboxSetupFailed' } : { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] });
      } catch {
        /* deleted */
      }
    });
  });
  const cm = new ControllerManager(store, () => undefined);
  cm.start();
  stops.push(unwatch, () => cm.stop());
  return { store, created };
}

const deployment = (replicas: number, version = '1', extra: Record<string, unknown> = {}) =>
  ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web', version } }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/e2e-test-images/agnhost:2.47', args: ['pause'] }] } },
      ...extra,
    },
  }) as unknown as KubeObject;

const webPods = (store: ObjectStore) => store.list('Pod', 'default').filter((p) => p.metadata.labels?.app === 'web');

describe('Deployment and ReplicaSet controllers', () => {
  it('create a ReplicaSet and its pods, report status, scale down and up, and replace a deleted pod', async () => {
    const { store } = cluster();
    store.apply([deployment(3)]);
    await settle();
    const [rs] = store.list('ReplicaSet', 'default');
    expect(rs!.metadata.name).toMatch(/^web-[a-z0-9]{10}$/);
    expect(rs!.metadata.ownerReferences).toMatchObject([{ kind: 'Deployment', name: 'web', controller: true }]);
    const pods = webPods(store);
    expect(pods).toHaveLength(3);
    for (const p of pods) {
      expect(p.metadata.name.startsWith(`${rs!.metadata.name}-`)).toBe(true);
      expect(p.metadata.labels?.['pod-template-hash']).toBe(rs!.metadata.name.slice(4));
      expect(p.metadata.ownerReferences).toMatchObject([{ kind: 'ReplicaSet', uid: rs!.metadata.uid }]);
    }
    expect(store.get('Deployment', 'default', 'web')!.status).toMatchObject({ replicas: 3, readyReplicas: 3, availableReplicas: 3, updatedReplicas: 3, observedGeneration: 1 });

    store.apply([deployment(1)]);
    await settle();
    expect(webPods(store)).toHaveLength(1);
    store.apply([deployment(4)]);
    await settle();
    expect(webPods(store)).toHaveLength(4);

    // Break it on purpose: a pod goes away; the ReplicaSet makes a new one.
    const victim = webPods(store)[0]!;
    store.delete('Pod', 'default', victim.metadata.name);
    await settle();
    expect(webPods(store)).toHaveLength(4);
    expect(webPods(store).map((p) => p.metadata.name)).not.toContain(victim.metadata.name);
  });

  it('a changed template rolls out a new ReplicaSet and scales the old one to 0', async () => {
    const { store } = cluster();
    store.apply([deployment(2, '1')]);
    await settle();
    store.apply([deployment(2, '2')]);
    await settle();
    const sets = store.list('ReplicaSet', 'default');
    expect(sets).toHaveLength(2);
    expect(sets.map((s) => (s.spec as { replicas: number }).replicas).sort()).toEqual([0, 2]);
    expect(webPods(store).map((p) => p.metadata.labels?.version)).toEqual(['2', '2']);
    expect(store.get('Deployment', 'default', 'web')!.metadata.generation).toBe(2);
  });

  it('deletion propagates: Background (GC), Foreground, and Orphan', async () => {
    const { store } = cluster();
    store.apply([deployment(2)]);
    await settle();
    store.delete('Deployment', 'default', 'web');
    await settle();
    expect(store.list('ReplicaSet', 'default')).toHaveLength(0);
    expect(webPods(store)).toHaveLength(0);

    store.apply([deployment(2)]);
    await settle();
    deleteWithPropagation(store, store.get('Deployment', 'default', 'web')!, 'Foreground');
    expect(store.list('ReplicaSet', 'default')).toHaveLength(0);
    expect(webPods(store)).toHaveLength(0);

    store.apply([deployment(2)]);
    await settle();
    deleteWithPropagation(store, store.get('Deployment', 'default', 'web')!, 'Orphan');
    await settle();
    const [rs] = store.list('ReplicaSet', 'default');
    expect(rs).toBeDefined();
    expect(rs!.metadata.ownerReferences).toBeUndefined();
    expect(webPods(store)).toHaveLength(2);
  });

  it('backs off instead of spinning when every pod of a template fails', async () => {
    const { store, created } = cluster({ fail: () => true });
    store.apply([deployment(2)]);
    await settle();
    // The first 2 pods failed at once; their replacements wait for the back-off (at least 1 s).
    expect(created).toHaveLength(2);
    for (let i = 0; i < 120 && created.length <= 2; i++) await new Promise((r) => setTimeout(r, 50));
    // It does retry, and a failing template costs a handful of pods, not hundreds.
    expect(created.length).toBeGreaterThan(2);
    expect(created.length).toBeLessThanOrEqual(4);
  });
});

describe('DaemonSet controller', () => {
  it('runs one pod per matching node, replaces pods on a template change, and follows nodeSelector', async () => {
    const { store } = cluster();
    const ds = (version: string, nodeSelector?: Record<string, string>) =>
      ({
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'agent', namespace: 'default' },
        spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent', version } }, spec: { nodeSelector, containers: [{ name: 'c', image: 'registry.k8s.io/e2e-test-images/agnhost:2.47', args: ['pause'] }] } } },
      }) as unknown as KubeObject;
    const agentPods = () => store.list('Pod', 'default').filter((p) => p.metadata.labels?.app === 'agent');
    store.apply([ds('1')]);
    await settle();
    expect(agentPods().map((p) => (p.spec as { nodeName: string }).nodeName).sort()).toEqual(['node1', 'node2', 'node3']);
    expect(store.get('DaemonSet', 'default', 'agent')!.status).toMatchObject({ desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 3 });
    const before = new Set(agentPods().map((p) => p.metadata.name));
    store.apply([ds('2')]);
    await settle();
    expect(agentPods()).toHaveLength(3);
    expect(agentPods().some((p) => before.has(p.metadata.name))).toBe(false);
    store.apply([ds('2', { zone: 'b' })]);
    await settle();
    expect(agentPods().map((p) => (p.spec as { nodeName: string }).nodeName)).toEqual(['node3']);
  });
});
