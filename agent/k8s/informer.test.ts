// The agent's informers against the real embedded Kubernetes API (started by the test factory, reached
// through a kubeconfig only): list + watch, bookmarks as progress, 410 → relist, reconnect with
// back-off after the API went away, resync, and the merged stream the agent's modules consume.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeApi, testNode, type TestKubeApi } from '../../lib/testing/kube-api.js';
import type { KubeObject } from '../../lib/k8s/object.js';
import { KubeTransport } from './transport.js';
import { Informer } from './informer.js';
import { KubeInformers, type StreamEvent } from './informers.js';
import { RESOURCES } from './resources.js';

const ns = (name: string, labels: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }) as KubeObject;
const until = async (what: string, pred: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('Informer', () => {
  let api: TestKubeApi;
  let t: KubeTransport;
  beforeAll(async () => {
    api = await startKubeApi({ nodes: [testNode('node1', '198.19.1.0/24', '198.18.0.11')], historyLimit: 20, bookmarkIntervalMs: 60_000 });
    t = KubeTransport.load(api.kubeconfig);
  });
  afterAll(async () => {
    t?.close();
    await api?.close();
  });

  it('lists, then watches: adds, updates and deletes reach the handlers and the cache, kind stamped', async () => {
    await t.create(RESOURCES.Namespace, ns('a'));
    const seen: string[] = [];
    const inf = new Informer(RESOURCES.Namespace, t);
    inf.on({ add: (o) => seen.push(`add ${o.metadata.name} ${o.kind}`), update: (o) => seen.push(`update ${o.metadata.name}`), delete: (o) => seen.push(`delete ${o.metadata.name}`) });
    await inf.start();
    await inf.synced;
    expect(seen.sort()).toEqual(['add a Namespace', 'add default Namespace']);
    seen.length = 0;
    await t.create(RESOURCES.Namespace, ns('b'));
    await t.mergePatch(RESOURCES.Namespace, undefined, 'a', { metadata: { labels: { team: 'x' } } });
    await t.delete(RESOURCES.Namespace, undefined, 'b');
    await until('three events', () => seen.length === 3);
    expect(seen).toEqual(['add b Namespace', 'update a', 'delete b']);
    expect(inf.get('a')?.metadata.labels).toMatchObject({ team: 'x' });
    expect(inf.get('b')).toBeUndefined();
    inf.stop();
  });

  it('advances its progress on bookmarks when only other kinds change', async () => {
    const inf = new Informer(RESOURCES.Node, t);
    await inf.start();
    await inf.synced;
    const before = inf.progress;
    const created = (await t.create(RESOURCES.Namespace, ns('c'))) as KubeObject;
    const rv = Number(created.metadata.resourceVersion);
    expect(rv).toBeGreaterThan(before);
    await until('a bookmark at the namespace revision', () => inf.progress >= rv);
    expect(inf.stats.bookmarks).toBeGreaterThan(0);
    expect(inf.stats.events).toBe(0);
    inf.stop();
  });

  it('after the API was away: reconnects with back-off, and relists on 410 (deletions seen as deletes)', async () => {
    for (const n of ['r1', 'r2', 'r3']) await t.create(RESOURCES.Namespace, ns(n));
    const deleted: string[] = [];
    const added: string[] = [];
    const logs: string[] = [];
    const inf = new Informer(RESOURCES.Namespace, t, { backoff: { initialMs: 50, maxMs: 200 }, log: (m) => logs.push(m) });
    inf.on({ delete: (o) => deleted.push(o.metadata.name), add: (o) => added.push(o.metadata.name) });
    await inf.start();
    await inf.synced;
    await api.pause(600);
    // While the API is away: more changes than its watch history keeps (20), r1 and r2 among them.
    await api.storeDelete('Namespace', undefined, 'r1');
    await api.storeDelete('Namespace', undefined, 'r2');
    for (let i = 0; i < 25; i++) await api.storeApply([{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node1', labels: { i: String(i) } } } as KubeObject]);
    await api.storeApply([ns('late')]);
    await until('the deletes and the late namespace', () => deleted.length === 2 && added.includes('late'), 15_000);
    expect(deleted.sort()).toEqual(['r1', 'r2']);
    expect(inf.stats.errors).toBeGreaterThan(0); // refused connections, retried
    expect(inf.stats.lists).toBeGreaterThanOrEqual(2); // the 410 made it list again
    expect(logs.some((l) => /reconnecting in \d+ ms/.test(l))).toBe(true);
    expect(inf.lastError).toBeUndefined();
    inf.stop();
  });

  it('resumes a broken watch from its resourceVersion without listing again', async () => {
    const inf = new Informer(RESOURCES.Namespace, t, { backoff: { initialMs: 20, maxMs: 100 } });
    const added: string[] = [];
    inf.on({ add: (o) => added.push(o.metadata.name) });
    await inf.start();
    await inf.synced;
    const lists = inf.stats.lists;
    await api.disconnect();
    await t.create(RESOURCES.Namespace, ns('after-drop'));
    await until('the namespace created after the drop', () => added.includes('after-drop'));
    expect(inf.stats.lists).toBe(lists);
    inf.stop();
  });

  it('resync hands the cached objects to the update handlers again', async () => {
    const updates: string[] = [];
    const inf = new Informer(RESOURCES.Node, t, { resyncMs: 50 });
    inf.on({ update: (o) => updates.push(o.metadata.name) });
    await inf.start();
    await inf.synced;
    await until('two resyncs', () => updates.filter((n) => n === 'node1').length >= 2);
    inf.stop();
  });
});

describe('KubeInformers', () => {
  let api: TestKubeApi;
  let t: KubeTransport;
  beforeAll(async () => {
    api = await startKubeApi({ nodes: [testNode('node1', '198.19.1.0/24', '198.18.0.11')] });
    t = KubeTransport.load(api.kubeconfig);
  });
  afterAll(async () => {
    t?.close();
    await api?.close();
  });

  it('checks that the API serves every watched kind, the Cilium CRDs included', async () => {
    await new KubeInformers(t).checkServed();
  });

  it('streams the old watch shape: ADDED for what exists, one SYNCED, then changes and BOOKMARKs of the progress', async () => {
    const inf = new KubeInformers(t, { kinds: ['Node', 'Namespace', 'CiliumEndpoint'] });
    const events: StreamEvent[] = [];
    inf.watch(['Node', 'CiliumEndpoint'], (ev) => events.push(ev));
    inf.start();
    await inf.synced(10_000);
    await until('SYNCED', () => events.some((e) => e.type === 'SYNCED'));
    const synced = events.findIndex((e) => e.type === 'SYNCED');
    expect(events.slice(0, synced).map((e) => (e as { object: KubeObject }).object.metadata.name)).toEqual(['node1']);
    // A namespace is not in this stream, but it moves the stream's progress.
    const created = (await t.create(RESOURCES.Namespace, ns('moved'))) as KubeObject;
    const rv = Number(created.metadata.resourceVersion);
    await until('a BOOKMARK at the namespace revision', () => events.some((e) => e.type === 'BOOKMARK' && e.resourceVersion >= rv));
    expect(inf.progress()).toBeGreaterThanOrEqual(rv);
    // A late subscriber gets the cache replayed, then SYNCED at once.
    const late: StreamEvent[] = [];
    inf.watch(['Namespace'], (ev) => late.push(ev));
    expect(late.map((e) => e.type)).toContain('SYNCED');
    expect(late.filter((e) => e.type === 'ADDED').map((e) => (e as { object: KubeObject }).object.metadata.name).sort()).toEqual(['default', 'moved']);
    expect(inf.node('node1')?.spec?.podCIDR).toBe('198.19.1.0/24');
    inf.stop();
  });
});
