// The embedded Kubernetes API against a real client (@kubernetes/client-node) and raw HTTPS:
// discovery, CRUD, selectors, patches, Status errors, Table output, watch with bookmarks and 410.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { apiRequest, startTestApi, type TestApi } from './testing.js';

let t: TestApi;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;

const pod = (name: string, labels: Record<string, string> = { app: 'web' }, image = 'registry.k8s.io/e2e-test-images/agnhost:2.47') => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels },
  spec: { containers: [{ name: 'c', image, args: ['netexec'] }] },
});

async function apiError(p: Promise<unknown>): Promise<{ code: number; status: any }> {
  try {
    await p;
  } catch (e) {
    const ex = e as k8s.ApiException<string>;
    return { code: ex.code, status: typeof ex.body === 'string' ? JSON.parse(ex.body) : ex.body };
  }
  throw new Error('expected the request to fail');
}

beforeAll(async () => {
  t = await startTestApi({ historyLimit: 40, bookmarkIntervalMs: 100 });
  kc = new k8s.KubeConfig();
  kc.loadFromFile(t.kubeconfigPath);
  core = kc.makeApiClient(k8s.CoreV1Api);
});
afterAll(async () => t?.close());

describe('discovery', () => {
  it('serves the core group, the API groups and the Cilium CRDs', async () => {
    expect((await apiRequest(t, 'GET', '/api')).body.versions).toEqual(['v1']);
    const groups = (await apiRequest(t, 'GET', '/apis')).body.groups.map((g: any) => g.name);
    expect(groups).toEqual(expect.arrayContaining(['apps', 'networking.k8s.io', 'cilium.io', 'apiextensions.k8s.io']));
    const cilium = (await apiRequest(t, 'GET', '/apis/cilium.io/v2')).body.resources.map((r: any) => r.name);
    expect(cilium).toEqual(expect.arrayContaining(['ciliumendpoints', 'ciliumidentities', 'ciliumnetworkpolicies']));
    const core1 = (await apiRequest(t, 'GET', '/api/v1')).body.resources.map((r: any) => r.name);
    expect(core1).toEqual(expect.arrayContaining(['pods', 'pods/status', 'pods/exec', 'pods/log', 'nodes', 'namespaces', 'services']));
    const crds = await kc.makeApiClient(k8s.ApiextensionsV1Api).listCustomResourceDefinition();
    expect(crds.items.map((c) => c.metadata?.name).sort()).toEqual(['ciliumendpoints.cilium.io', 'ciliumidentities.cilium.io', 'ciliumnetworkpolicies.cilium.io']);
    expect((await apiRequest(t, 'GET', '/version')).body.major).toBe('1');
  });
  it('refuses a request without the bearer token (401 Status)', async () => {
    const r = await apiRequest(t, 'GET', '/api/v1/pods', undefined, { authorization: 'Bearer wrong' });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
  });
});

describe('objects', () => {
  it('creates, gets and lists with server-owned metadata', async () => {
    await core.createNamespace({ body: { metadata: { name: 'x' } } });
    const created = await core.createNamespacedPod({ namespace: 'x', body: pod('a') as k8s.V1Pod });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(0);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.metadata?.generation).toBe(1);
    expect(created.status?.phase).toBe('Pending');
    expect((await core.readNamespacedPod({ namespace: 'x', name: 'a' })).metadata?.uid).toBe(created.metadata?.uid);
    const list = await core.listNamespacedPod({ namespace: 'x' });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['a']);
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThanOrEqual(Number(created.metadata?.resourceVersion));
  });

  it('answers errors as Status objects: 404 NotFound, 409 AlreadyExists and Conflict, 422 Invalid with causes', async () => {
    const nf = await apiError(core.readNamespacedPod({ namespace: 'x', name: 'nope' }));
    expect(nf.code).toBe(404);
    expect(nf.status).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'pods "nope" not found', details: { name: 'nope', kind: 'pods' } });
    const ae = await apiError(core.createNamespacedPod({ namespace: 'x', body: pod('a') as k8s.V1Pod }));
    expect(ae.status).toMatchObject({ reason: 'AlreadyExists', code: 409, message: 'pods "a" already exists' });
    const current = await core.readNamespacedPod({ namespace: 'x', name: 'a' });
    await core.patchNamespacedPod({ namespace: 'x', name: 'a', body: { metadata: { labels: { app: 'web', touched: 'yes' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    const cf = await apiError(core.replaceNamespacedPod({ namespace: 'x', name: 'a', body: current }));
    expect(cf.status).toMatchObject({ reason: 'Conflict', code: 409 });
    expect(cf.status.message).toContain('the object has been modified');
    const bad = pod('b');
    (bad.spec.containers[0] as any).image = '';
    (bad.spec.containers[0] as any).ports = [{ containerPort: 70000 }];
    const inv = await apiError(core.createNamespacedPod({ namespace: 'x', body: bad as k8s.V1Pod }));
    expect(inv.status).toMatchObject({ reason: 'Invalid', code: 422, details: { name: 'b', kind: 'Pod' } });
    expect(inv.status.details.causes.map((c: any) => c.field).sort()).toEqual(['spec.containers[0].image', 'spec.containers[0].ports[0].containerPort']);
    const ns404 = await apiError(core.createNamespacedPod({ namespace: 'nowhere', body: pod('c') as k8s.V1Pod }));
    expect(ns404.status).toMatchObject({ reason: 'NotFound', message: 'namespaces "nowhere" not found' });
  });

  it('selects by labels and by fields (metadata.name, spec.nodeName, status.phase); an unknown field is a 400', async () => {
    await core.createNamespacedPod({ namespace: 'x', body: pod('db', { app: 'db', tier: 'back' }) as k8s.V1Pod });
    const names = async (q: { labelSelector?: string; fieldSelector?: string }) => (await core.listNamespacedPod({ namespace: 'x', ...q })).items.map((p) => p.metadata?.name);
    expect(await names({ labelSelector: 'app=db' })).toEqual(['db']);
    expect(await names({ labelSelector: 'app in (web,db),tier' })).toEqual(['db']);
    expect(await names({ labelSelector: '!tier' })).toEqual(['a']);
    expect(await names({ labelSelector: 'app!=db' })).toEqual(['a']);
    expect(await names({ fieldSelector: 'metadata.name=a' })).toEqual(['a']);
    expect(await names({ fieldSelector: 'status.phase=Pending,metadata.name!=a' })).toEqual(['db']);
    t.store.bindPod('x', 'db', 'node2');
    expect(await names({ fieldSelector: 'spec.nodeName=node2' })).toEqual(['db']);
    const all = await core.listPodForAllNamespaces({ fieldSelector: 'metadata.namespace=x' });
    expect(all.items).toHaveLength(2);
    const e = await apiError(core.listNamespacedPod({ namespace: 'x', fieldSelector: 'spec.image=x' }));
    expect(e.status).toMatchObject({ reason: 'BadRequest', code: 400, message: 'field label not supported: spec.image' });
  });

  it('patches with merge, strategic merge (containers by name) and JSON patch; refuses a Pod spec change', async () => {
    const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    const p1 = await core.patchNamespacedPod({ namespace: 'x', name: 'a', body: { metadata: { annotations: { note: 'hi' }, labels: { touched: null } } } }, merge);
    expect(p1.metadata?.annotations).toEqual({ note: 'hi' });
    expect(p1.metadata?.labels).toEqual({ app: 'web' });
    const json = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
    const p2 = await core.patchNamespacedPod({ namespace: 'x', name: 'a', body: [{ op: 'add', path: '/metadata/labels/extra', value: 'yes' }] }, json);
    expect(p2.metadata?.labels).toEqual({ app: 'web', extra: 'yes' });
    const smp = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);
    const e = await apiError(core.patchNamespacedPod({ namespace: 'x', name: 'a', body: { spec: { containers: [{ name: 'c', image: 'other' }] } } }, smp));
    expect(e.status).toMatchObject({ reason: 'Invalid', code: 422 });
    expect(e.status.details.causes[0].field).toBe('spec');
    // A no-op patch keeps the resourceVersion.
    const p3 = await core.patchNamespacedPod({ namespace: 'x', name: 'a', body: { metadata: { labels: { extra: 'yes' } } } }, smp);
    expect(p3.metadata?.resourceVersion).toBe(p2.metadata?.resourceVersion);
  });

  it('prints tables for kubectl (Accept: as=Table), with wide columns at priority 1', async () => {
    const r = await apiRequest(t, 'GET', '/api/v1/namespaces/x/pods', undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    expect(r.body.kind).toBe('Table');
    expect(r.body.columnDefinitions.map((c: any) => c.name)).toEqual(['Name', 'Ready', 'Status', 'Restarts', 'Age', 'IP', 'Node', 'Nominated Node', 'Readiness Gates']);
    expect(r.body.columnDefinitions.filter((c: any) => c.priority === 1).map((c: any) => c.name)).toContain('Node');
    const db = r.body.rows.find((row: any) => row.cells[0] === 'db');
    expect(db.cells.slice(1, 4)).toEqual(['0/1', 'Pending', '0']);
    expect(db.cells[6]).toBe('node2');
    expect(db.object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name: 'db', namespace: 'x' } });
  });
});

describe('watch', () => {
  it('an informer lists, then sees an add, an update and a delete', async () => {
    const seen: string[] = [];
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/x/pods', () => core.listNamespacedPod({ namespace: 'x' }));
    const waitFor = async (entry: string) => {
      for (let i = 0; i < 200 && !seen.includes(entry); i++) await new Promise((r) => setTimeout(r, 25));
      expect(seen).toContain(entry);
    };
    informer.on('add', (p) => seen.push(`add ${p.metadata?.name}`));
    informer.on('update', (p) => seen.push(`update ${p.metadata?.name} ${p.metadata?.labels?.stage ?? ''}`));
    informer.on('delete', (p) => seen.push(`delete ${p.metadata?.name}`));
    await informer.start();
    try {
      await waitFor('add a');
      await core.createNamespacedPod({ namespace: 'x', body: pod('live') as k8s.V1Pod });
      await waitFor('add live');
      await core.patchNamespacedPod({ namespace: 'x', name: 'live', body: { metadata: { labels: { stage: 'two' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
      await waitFor('update live two');
      await core.deleteNamespacedPod({ namespace: 'x', name: 'live' });
      await waitFor('delete live');
      expect(informer.list('x').map((p) => p.metadata?.name).sort()).toEqual(['a', 'db']);
    } finally {
      await informer.stop();
    }
  });

  it('resumes from a resourceVersion, sends bookmarks, and answers 410 Expired after compaction', async () => {
    const rv = Number((await core.listNamespacedPod({ namespace: 'x' })).metadata?.resourceVersion);
    await core.createNamespacedPod({ namespace: 'x', body: pod('w1') as k8s.V1Pod });
    const events: any[] = [];
    const w = new k8s.Watch(kc);
    const req = await w.watch('/api/v1/namespaces/x/pods', { resourceVersion: String(rv), allowWatchBookmarks: true, labelSelector: 'app=web' }, (type, obj) => events.push({ type, obj }), () => undefined);
    for (let i = 0; i < 100 && !events.some((e) => e.type === 'BOOKMARK'); i++) await new Promise((r) => setTimeout(r, 20));
    req.abort();
    expect(events[0]).toMatchObject({ type: 'ADDED', obj: { metadata: { name: 'w1' } } });
    const bm = events.find((e) => e.type === 'BOOKMARK');
    expect(Number(bm.obj.metadata.resourceVersion)).toBeGreaterThan(rv);

    // A label change that takes a pod out of the selection is a DELETED for that watch.
    const rv2 = t.store.resourceVersion;
    await core.patchNamespacedPod({ namespace: 'x', name: 'w1', body: { metadata: { labels: { app: 'other' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    const r = await apiRequest(t, 'GET', `/api/v1/namespaces/x/pods?watch=1&resourceVersion=${rv2}&labelSelector=app%3Dweb&timeoutSeconds=1`);
    expect(r.text.trim().split('\n').map((l) => JSON.parse(l).type)).toEqual(['DELETED']);

    // Push the old resourceVersion out of the history (40 events), then resume from it: 410.
    for (let i = 0; i < 45; i++) {
      await core.patchNamespacedPod({ namespace: 'x', name: 'w1', body: { metadata: { labels: { n: String(i) } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    }
    const gone = await apiRequest(t, 'GET', `/api/v1/namespaces/x/pods?watch=1&resourceVersion=${rv}&timeoutSeconds=5`);
    const ev = JSON.parse(gone.text.trim().split('\n')[0]!);
    expect(ev).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
    expect(ev.object.message).toMatch(/^too old resource version: \d+ \(\d+\)$/);
  });
});
