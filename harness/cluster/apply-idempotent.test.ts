// `apply` is idempotent: applying an object that has not changed answers "unchanged", whatever the
// order of its keys and whatever the system has added since (a scheduled Pod's nodeName, uid,
// creationTimestamp, resourceVersion, status). A real change is still a change (or, for a Pod spec,
// still refused).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ObjectStore } from './store.js';
import { canonicalJson } from './canonical.js';
import { InvalidInputError } from '../errors.js';
import type { KubeObject } from './objects.js';

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }) as KubeObject;
const pod = () =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'a', namespace: 'x', labels: { app: 'a', tier: 'web' }, annotations: { note: 'n' } },
    spec: {
      containers: [{ name: 'c', image: 'registry.k8s.io/e2e-test-images/agnhost:2.47', args: ['netexec', '--http-port=80'], ports: [{ containerPort: 80, name: 'http' }] }],
      restartPolicy: 'Always',
    },
  }) as unknown as KubeObject;
const svc = () =>
  ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'x' }, spec: { selector: { app: 'a' }, ports: [{ port: 80, name: 'http' }] } }) as unknown as KubeObject;

/** The same value with the keys of every object in a random order (arrays keep their order). */
function shuffled(v: unknown, rand: () => number): unknown {
  if (Array.isArray(v)) return v.map((x) => shuffled(x, rand));
  if (!v || typeof v !== 'object') return v;
  const entries = Object.entries(v as Record<string, unknown>);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return Object.fromEntries(entries.map(([k, x]) => [k, shuffled(x, rand)]));
}

describe('apply idempotency', () => {
  it('re-applying a scheduled Pod unchanged is "unchanged" (the scheduler added spec.nodeName)', () => {
    const s = new ObjectStore();
    s.apply([ns('x'), pod()]);
    s.bindPod('x', 'a', 'node1');
    s.updateStatus('Pod', 'x', 'a', { phase: 'Running', podIP: '198.19.0.2' });
    expect(s.apply([pod()]).map((r) => r.action)).toEqual(['unchanged']);
    const stored = s.get('Pod', 'x', 'a')!;
    expect((stored.spec as { nodeName?: string }).nodeName).toBe('node1');
    expect(stored.status).toMatchObject({ phase: 'Running' });
  });

  it('key order never matters (any permutation of every object is "unchanged")', () => {
    const s = new ObjectStore();
    s.apply([ns('x'), pod(), svc()]);
    s.bindPod('x', 'a', 'node1');
    fc.assert(
      fc.property(fc.infiniteStream(fc.double({ min: 0, max: 0.999, noNaN: true })), (stream) => {
        const it = stream[Symbol.iterator]();
        const rand = () => it.next().value as number;
        const objs = [ns('x'), pod(), svc()].map((o) => shuffled(o, rand) as KubeObject);
        expect(s.apply(objs).map((r) => r.action)).toEqual(['unchanged', 'unchanged', 'unchanged']);
      }),
      { numRuns: 50 },
    );
  });

  it('what the system sets is ignored in a user apply; a real change is still seen', () => {
    const s = new ObjectStore();
    s.apply([ns('x'), pod()]);
    const uid = s.get('Pod', 'x', 'a')!.metadata.uid;
    const withSystemFields = { ...pod(), metadata: { ...pod().metadata, uid: 'other', resourceVersion: '999', creationTimestamp: '2000-01-01T00:00:00Z' }, status: { phase: 'Failed' } };
    expect(s.apply([withSystemFields as KubeObject])[0]!.action).toBe('unchanged');
    expect(s.get('Pod', 'x', 'a')!.metadata.uid).toBe(uid);
    const relabeled = pod();
    relabeled.metadata.labels = { app: 'a', tier: 'db' };
    expect(s.apply([relabeled])[0]!.action).toBe('configured');
  });

  it('a Pod spec change is refused, and so is a nodeName other than the one it is bound to', () => {
    const s = new ObjectStore();
    s.apply([ns('x'), pod()]);
    s.bindPod('x', 'a', 'node1');
    const changed = pod() as unknown as { spec: { containers: Array<{ args: string[] }> } };
    changed.spec.containers[0]!.args = ['pause'];
    expect(() => s.apply([changed as unknown as KubeObject])).toThrow(/cannot be changed/);
    const moved = pod() as unknown as { spec: { nodeName?: string } };
    moved.spec.nodeName = 'node2';
    expect(() => s.apply([moved as unknown as KubeObject])).toThrow(InvalidInputError);
    const same = pod() as unknown as { spec: { nodeName?: string } };
    same.spec.nodeName = 'node1';
    expect(s.apply([same as unknown as KubeObject])[0]!.action).toBe('unchanged');
  });

  it('canonicalJson keeps a "__proto__" key as data (the case fast-check found once)', () => {
    const a = JSON.parse('{"__proto__":{"x":1},"b":2}');
    const b = JSON.parse('{"b":2,"__proto__":{"x":2}}');
    expect(canonicalJson(a)).toBe('{"__proto__":{"x":1},"b":2}');
    expect(canonicalJson(a)).not.toBe(canonicalJson(b));
  });

  it('canonicalJson: equal for any key order, different for any value change', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.infiniteStream(fc.double({ min: 0, max: 0.999, noNaN: true })), (v, stream) => {
        const it = stream[Symbol.iterator]();
        expect(canonicalJson(shuffled(v, () => it.next().value as number))).toBe(canonicalJson(v));
        expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 200 },
    );
  });
});
