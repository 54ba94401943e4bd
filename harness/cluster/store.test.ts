import { describe, expect, it } from 'vitest';
import { ObjectStore } from './store.js';
import { InvalidInputError, InvalidInputList } from '../errors.js';
import type { KubeObject } from './objects.js';

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }) as KubeObject;
const pod = (namespace: string, name: string, extra: Record<string, unknown> = {}) =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { pod: name } },
    spec: { containers: [{ name: 'c', image: 'registry.k8s.io/e2e-test-images/agnhost:2.47', args: ['netexec'] }], ...extra },
  }) as KubeObject;

describe('object store', () => {
  it('applies a batch with its namespace, then reports unchanged and configured', () => {
    const s = new ObjectStore();
    expect(s.apply([ns('x'), pod('x', 'a')]).map((r) => r.action)).toEqual(['created', 'created']);
    expect(s.apply([ns('x'), pod('x', 'a')]).map((r) => r.action)).toEqual(['unchanged', 'unchanged']);
    const relabeled = pod('x', 'a');
    relabeled.metadata.labels = { pod: 'a', extra: 'yes' };
    expect(s.apply([relabeled])[0]!.action).toBe('configured');
    expect(s.list('Pod', 'x')).toHaveLength(1);
  });
  it('is all-or-nothing: one bad object and nothing is stored', () => {
    const s = new ObjectStore();
    const bad = pod('x', 'Bad_Name');
    expect(() => s.apply([ns('x'), pod('x', 'a'), bad])).toThrow(InvalidInputError);
    expect(s.list('Pod')).toHaveLength(0);
    expect(s.list('Namespace')).toHaveLength(0);
  });
  it('rejects an unknown namespace naming the field', () => {
    const s = new ObjectStore();
    const err = (() => {
      try {
        s.apply([pod('nowhere', 'a')]);
      } catch (e) {
        return e as InvalidInputError | InvalidInputList;
      }
    })();
    expect(err?.message).toMatch(/metadata.namespace: namespace "nowhere" not found/);
  });
  it('refuses to change a pod spec, and deleting a namespace deletes its pods', () => {
    const s = new ObjectStore();
    s.apply([ns('x'), pod('x', 'a')]);
    expect(() => s.apply([pod('x', 'a', { nodeName: 'node2' })])).toThrow(/cannot be changed/);
    const events: string[] = [];
    s.watch((e) => events.push(`${e.type} ${e.object.kind}/${e.object.metadata.name}`));
    s.delete('Namespace', undefined, 'x');
    expect(events).toEqual(['DELETED Pod/a', 'DELETED Namespace/x']);
  });
});

describe('object store: labels and revisions', () => {
  it('patchLabels sets, overwrites only with overwrite, removes, and reports absent keys', () => {
    const s = new ObjectStore();
    s.apply([ns('x'), pod('x', 'a')]);
    const events: string[] = [];
    s.watch((ev) => events.push(`${ev.type} ${ev.object.kind}`));
    expect(s.patchLabels('Pod', 'x', 'a', { set: { tier: 'web' } }).changed).toBe(true);
    expect(() => s.patchLabels('Pod', 'x', 'a', { set: { tier: 'db' } })).toThrow(/already has a value \(web\), and --overwrite is false/);
    expect(s.patchLabels('Pod', 'x', 'a', { set: { tier: 'db' }, overwrite: true }).object.metadata.labels).toEqual({ pod: 'a', tier: 'db' });
    const r = s.patchLabels('Pod', 'x', 'a', { remove: ['tier', 'nope'] });
    expect([r.changed, r.missing, r.object.metadata.labels]).toEqual([true, ['nope'], { pod: 'a' }]);
    expect(s.patchLabels('Pod', 'x', 'a', { set: { pod: 'a' } }).changed).toBe(false);
    expect(events).toEqual(['MODIFIED Pod', 'MODIFIED Pod', 'MODIFIED Pod']);
  });
  it('patchLabels rejects bad keys and values naming the label, and keeps the namespace name label', () => {
    const s = new ObjectStore();
    s.apply([ns('x'), pod('x', 'a')]);
    expect(() => s.patchLabels('Pod', 'x', 'a', { set: { 'Bad Key': 'v' } })).toThrow(/label "Bad Key": invalid label key/);
    expect(() => s.patchLabels('Pod', 'x', 'a', { set: { k: 'no spaces' } })).toThrow(/invalid label value/);
    expect(() => s.patchLabels('Namespace', undefined, 'x', { remove: ['kubernetes.io/metadata.name'] })).toThrow(/cannot be removed/);
    expect(() => s.patchLabels('Namespace', undefined, 'x', { set: { 'kubernetes.io/metadata.name': 'y' }, overwrite: true })).toThrow(/cannot change/);
    expect(() => s.patchLabels('Pod', 'x', 'zz', { set: { a: 'b' } })).toThrow(/not found/);
    expect(s.get('Pod', 'x', 'a')!.metadata.labels).toEqual({ pod: 'a' });
  });
  it('a DELETED event carries the revision of the deletion', () => {
    const s = new ObjectStore();
    s.apply([ns('x'), pod('x', 'a')]);
    const seen: string[] = [];
    s.watch((ev) => seen.push(`${ev.type} ${ev.object.metadata.resourceVersion}`));
    s.delete('Pod', 'x', 'a');
    expect(seen).toEqual([`DELETED ${s.resourceVersion}`]);
  });
  it('keeps exactly the last historyLimit events for resuming watches, however many were trimmed', () => {
    const s = new ObjectStore(5);
    for (let i = 0; i < 23; i++) s.apply([ns(`n${i}`)]); // 23 events: the window was trimmed and cut off several times
    expect(s.oldestResumableVersion).toBe(18);
    expect(s.eventsSince(17)).toBeUndefined(); // 18 is gone: resuming after 17 would miss it
    expect(s.eventsSince(18)!.map((e) => e.object.metadata.name)).toEqual(['n18', 'n19', 'n20', 'n21', 'n22']);
    expect(s.eventsSince(21)!.map((e) => e.object.metadata.name)).toEqual(['n21', 'n22']); // n<i> is at resourceVersion i+1
    expect(s.eventsSince(23)).toEqual([]);
    s.compact(20);
    expect(s.eventsSince(19)).toBeUndefined();
    expect(s.eventsSince(20)!.map((e) => e.object.metadata.name)).toEqual(['n20', 'n21', 'n22']);
  });
});
