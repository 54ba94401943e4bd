import { describe, expect, it } from 'vitest';
import { ObjectStore } from './store.js';
import { IdentityGarbageCollector } from './identity-gc.js';
import type { KubeObject } from './objects.js';

const endpoint = (name: string, id: number) =>
  ({ apiVersion: 'cilium.io/v2', kind: 'CiliumEndpoint', metadata: { name, namespace: 'default' }, status: { identity: { id, labels: [] } } }) as unknown as KubeObject;
const identity = (id: number, app: string) =>
  ({ apiVersion: 'cilium.io/v2', kind: 'CiliumIdentity', metadata: { name: String(id) }, 'security-labels': { 'k8s:app': app } }) as unknown as KubeObject;

function setup() {
  const store = new ObjectStore();
  store.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } } as KubeObject], { internal: true });
  let now = 0;
  const gc = new IdentityGarbageCollector(store, { now: () => now });
  return { store, gc, tick: (ms: number) => (now += ms) };
}

describe('IdentityGarbageCollector', () => {
  it('collects an identity no endpoint carries after the grace period, counted from the first round that found it unused; never one in use', () => {
    const { store, gc, tick } = setup();
    store.apply([identity(256, 'used'), identity(257, 'unused'), endpoint('p', 256)], { internal: true });
    expect(gc.gc(60_000)).toEqual([]); // first round: the grace of 257 starts
    tick(59_000);
    expect(gc.gc(60_000)).toEqual([]);
    tick(1_000);
    expect(gc.gc(60_000)).toEqual([257]);
    expect(store.get('CiliumIdentity', undefined, '257')).toBeUndefined();
    expect(store.get('CiliumIdentity', undefined, '256')).toBeDefined();
    // Its last endpoint goes: the grace starts at the next round, and a new endpoint in time saves it.
    tick(120_000);
    store.delete('CiliumEndpoint', 'default', 'p');
    expect(gc.gc(60_000)).toEqual([]);
    tick(30_000);
    store.apply([endpoint('q', 256)], { internal: true });
    expect(gc.gc(60_000)).toEqual([]);
    store.delete('CiliumEndpoint', 'default', 'q');
    tick(60_000);
    expect(gc.gc(60_000)).toEqual([]); // unused again: a new grace period
    tick(60_000);
    expect(gc.gc(60_000)).toEqual([256]);
    expect(store.list('CiliumIdentity')).toEqual([]);
  });
});
