import { describe, expect, it } from 'vitest';
import { IdentityCache, labelsToMap, podSecurityLabels } from './labels.js';

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
  it('is independent of label order', () => {
    expect(podSecurityLabels('x', { b: '1', a: '2' })).toEqual(podSecurityLabels('x', { a: '2', b: '1' }));
  });
});

describe('labelsToMap', () => {
  it('drops the source prefix', () => {
    expect(labelsToMap(['k8s:app=web', 'reserved:host'])).toEqual({ app: 'web', host: '' });
  });
});

describe('IdentityCache', () => {
  it('asks the allocator once per label set and knows reserved identities', async () => {
    const calls: string[][] = [];
    const cache = new IdentityCache(async (labels) => {
      calls.push(labels);
      return 256 + calls.length - 1;
    });
    expect(await cache.resolve(['k8s:b=1', 'k8s:a=1'])).toBe(256);
    expect(await cache.resolve(['k8s:a=1', 'k8s:b=1'])).toBe(256);
    expect(await cache.resolve(['k8s:c=1'])).toBe(257);
    expect(calls).toEqual([['k8s:a=1', 'k8s:b=1'], ['k8s:c=1']]);
    expect(cache.labelsOf(2)).toEqual(['reserved:world']);
    expect(cache.labelsOf(6)).toEqual(['reserved:remote-node']);
  });
});
