import { describe, expect, it } from 'vitest';
import { ObjectStore } from './store.js';
import { FIRST_CLUSTER_IDENTITY, IdentityAllocator } from './identity-allocator.js';
import type { KubeObject } from './objects.js';

const endpoint = (name: string, id: number) =>
  ({ apiVersion: 'cilium.io/v2', kind: 'CiliumEndpoint', metadata: { name, namespace: 'default' }, status: { identity: { id, labels: [] } } }) as unknown as KubeObject;

function setup(last?: number) {
  const store = new ObjectStore();
  store.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } } as KubeObject], { internal: true });
  let now = 0;
  const alloc = new IdentityAllocator(store, { last, now: () => now });
  return { store, alloc, tick: (ms: number) => (now += ms) };
}

describe('IdentityAllocator', () => {
  it('gives one label set one number, whatever the order, and writes CiliumIdentity objects', () => {
    const { store, alloc } = setup();
    expect(alloc.allocate(['k8s:b=1', 'k8s:a=1'])).toBe(FIRST_CLUSTER_IDENTITY);
    expect(alloc.allocate(['k8s:a=1', 'k8s:b=1', 'k8s:a=1'])).toBe(FIRST_CLUSTER_IDENTITY);
    expect(alloc.allocate(['k8s:c=1'])).toBe(FIRST_CLUSTER_IDENTITY + 1);
    expect(store.list('CiliumIdentity').map((o) => [o.metadata.name, (o as any).securityLabels])).toEqual([
      ['256', ['k8s:a=1', 'k8s:b=1']],
      ['257', ['k8s:c=1']],
    ]);
    // A new allocator over the same store continues where the old one stopped.
    const again = new IdentityAllocator(store);
    expect(again.allocate(['k8s:c=1'])).toBe(257);
    expect(again.allocate(['k8s:d=1'])).toBe(258);
  });

  it('numbers 20k label sets densely, each once', () => {
    const { alloc } = setup();
    for (let i = 0; i < 20_000; i++) alloc.allocate([`k8s:app=a${i}`]);
    expect(alloc.allocate(['k8s:app=a19999'])).toBe(FIRST_CLUSTER_IDENTITY + 19_999);
    expect(alloc.allocate(['k8s:app=a0'])).toBe(FIRST_CLUSTER_IDENTITY);
    expect(alloc.size).toBe(20_000);
  });

  it('collects an identity no endpoint carries after the grace period, not before, and never one in use', () => {
    const { store, alloc, tick } = setup();
    const used = alloc.allocate(['k8s:app=used']);
    const unused = alloc.allocate(['k8s:app=unused']);
    store.apply([endpoint('p', used)], { internal: true });
    tick(30_000);
    expect(alloc.gc(60_000)).toEqual([]);
    tick(30_000);
    expect(alloc.gc(60_000)).toEqual([unused]);
    expect(store.get('CiliumIdentity', undefined, String(unused))).toBeUndefined();
    expect(store.get('CiliumIdentity', undefined, String(used))).toBeDefined();
    // Allocating again refreshes: a label set asked for just now is not collected.
    tick(120_000);
    store.delete('CiliumEndpoint', 'default', 'p');
    expect(alloc.gc(60_000)).toEqual([]); // first round that finds it unused: the grace starts now
    tick(30_000);
    alloc.allocate(['k8s:app=used']); // asked for again: the grace starts again
    tick(30_000);
    expect(alloc.gc(60_000)).toEqual([]);
    tick(29_000);
    expect(alloc.gc(60_000)).toEqual([]);
    tick(1_000);
    expect(alloc.gc(60_000)).toEqual([used]);
    expect(alloc.size).toBe(0);
  });

  it('uses fresh numbers first, then reuses collected ones oldest first, and says when none is left', () => {
    const { alloc, tick } = setup(FIRST_CLUSTER_IDENTITY + 2);
    expect([alloc.allocate(['k8s:a=1']), alloc.allocate(['k8s:a=2'])]).toEqual([256, 257]);
    tick(100_000);
    expect(alloc.gc(60_000)).toEqual([256, 257]);
    expect(alloc.allocate(['k8s:a=3'])).toBe(258); // still a fresh one
    expect(alloc.allocate(['k8s:a=4'])).toBe(256); // then the oldest collected
    expect(alloc.allocate(['k8s:a=5'])).toBe(257);
    expect(() => alloc.allocate(['k8s:a=6'])).toThrow(/no free security identity/);
    expect(alloc.allocate(['k8s:a=4'])).toBe(256);
  });
});
