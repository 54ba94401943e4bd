import { describe, expect, it } from 'vitest';
import { IdentityCache, labelsToMap, podSecurityLabels, securityLabelIndex } from './labels.js';

describe('podSecurityLabels', () => {
  it('uses Cilium\'s k8s: source prefix, adds the namespace and sorts', () => {
    expect(podSecurityLabels('x', { pod: 'a', app: 'web' })).toEqual(['k8s:app=web', 'k8s:io.kubernetes.pod.namespace=x', 'k8s:pod=a']);
  });
  it('gives a pod without labels its namespace label only', () => {
    expect(podSecurityLabels('default', undefined)).toEqual(['k8s:io.kubernetes.pod.namespace=default']);
  });
  it('does not let a pod label override the namespace', () => {
    expect(podSecurityLabels('x', { 'io.kubernetes.pod.namespace': 'kube-system' })).toEqual(['k8s:io.kubernetes.pod.namespace=x']);
  });
  it('adds the namespace labels the way Cilium does', () => {
    expect(podSecurityLabels('x', { pod: 'a' }, { 'kubernetes.io/metadata.name': 'x', team: 'blue' })).toEqual([
      'k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=x',
      'k8s:io.cilium.k8s.namespace.labels.team=blue',
      'k8s:io.kubernetes.pod.namespace=x',
      'k8s:pod=a',
    ]);
  });
  it('does not let a pod label pose as a namespace label', () => {
    expect(podSecurityLabels('x', { 'io.cilium.k8s.namespace.labels.team': 'red' }, { team: 'blue' })).toEqual([
      'k8s:io.cilium.k8s.namespace.labels.team=blue',
      'k8s:io.kubernetes.pod.namespace=x',
    ]);
  });
  it('is independent of label order', () => {
    expect(podSecurityLabels('x', { b: '1', a: '2' })).toEqual(podSecurityLabels('x', { a: '2', b: '1' }));
  });
});

describe('labelsToMap', () => {
  it('drops the source prefix', () => {
    expect(labelsToMap(['k8s:app=web', 'reserved:host'])).toEqual({ app: 'web', host: '' });
  });
});

describe('securityLabelIndex', () => {
  it('keys labels by source and key', () => {
    expect([...securityLabelIndex(['k8s:app=web', 'reserved:host', 'k8s:a.b/c=d=e'])]).toEqual([
      ['k8s:app', 'web'],
      ['reserved:host', ''],
      ['k8s:a.b/c', 'd=e'],
    ]);
  });
});

describe('IdentityCache', () => {
  it('asks the allocator for every resolve (it may have collected a number), sorted, and knows reserved identities', async () => {
    const calls: string[][] = [];
    const ids = new Map<string, number>();
    const cache = new IdentityCache(async (labels) => {
      calls.push(labels);
      const k = JSON.stringify(labels);
      if (!ids.has(k)) ids.set(k, 256 + ids.size);
      return ids.get(k)!;
    });
    expect(await cache.resolve(['k8s:b=1', 'k8s:a=1'])).toBe(256);
    expect(await cache.resolve(['k8s:a=1', 'k8s:b=1'])).toBe(256);
    expect(await cache.resolve(['k8s:c=1'])).toBe(257);
    expect(calls).toEqual([['k8s:a=1', 'k8s:b=1'], ['k8s:a=1', 'k8s:b=1'], ['k8s:c=1']]);
    expect(cache.labelsOf(2)).toEqual(['reserved:world']);
    expect(cache.labelsOf(6)).toEqual(['reserved:remote-node']);
    expect(cache.known(['k8s:c=1'])).toBe(257);
  });
  it('forgets a collected identity, and a number reused for other labels replaces the old mapping', () => {
    const cache = new IdentityCache(async () => 0);
    cache.remember(300, ['k8s:a=1']);
    cache.forget(300);
    expect(cache.labelsOf(300)).toBeUndefined();
    expect(cache.known(['k8s:a=1'])).toBeUndefined();
    cache.remember(301, ['k8s:a=1']);
    cache.remember(301, ['k8s:b=1']);
    expect(cache.known(['k8s:a=1'])).toBeUndefined();
    expect(cache.labelsOf(301)).toEqual(['k8s:b=1']);
    cache.forget(1);
    expect(cache.labelsOf(1)).toEqual(['reserved:host']);
  });
});
