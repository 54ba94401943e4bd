// The policy controller with the in-memory datapath: watch events in, policy map and ipcache out, the
// realized revision, identity re-resolution on label changes, resync after a reconnect.
import { describe, expect, it } from 'vitest';
import { FakeDatapath } from '../testing/fake-datapath.js';
import { IdentityCache, podSecurityLabels } from '../identity/labels.js';
import { IpcacheSync } from '../routing/ipcache-sync.js';
import type { EndpointState } from '../endpoint/state.js';
import { PolicyController, type PolicyWatchEvent } from './controller.js';
import { endpointVerdict } from './verdict.js';

const cfg = { pinDir: '/tmp/x', routing: 'tunnel' as const, nodeIp: '198.18.0.11', routerIp: '198.19.0.1', podCidr: '198.19.0.0/24' };
let rv = 0;
const ev = (type: string, kind: string, ns: string | undefined, name: string, extra: { labels?: Record<string, string>; spec?: unknown; status?: unknown } = {}): PolicyWatchEvent => ({
  type,
  object: { kind, metadata: { name, namespace: ns, labels: extra.labels, resourceVersion: String(++rv) }, spec: extra.spec, status: extra.status },
});
const nsEv = (name: string, labels: Record<string, string>, type = 'ADDED') => ev(type, 'Namespace', undefined, name, { labels: { ...labels, 'kubernetes.io/metadata.name': name } });
const podEv = (ns: string, name: string, labels: Record<string, string>, type = 'ADDED') =>
  ev(type, 'Pod', ns, name, { labels, spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] } });
const npEv = (ns: string, name: string, spec: unknown, type = 'ADDED') => ev(type, 'NetworkPolicy', ns, name, { spec });
const cepEv = (ns: string, name: string, id: number, labels: string[], ip: string, node = 'node2', type = 'ADDED') =>
  ev(type, 'CiliumEndpoint', ns, name, { status: { nodeName: node, identity: { id, labels }, networking: { addressing: [{ ipv4: ip }], node: '198.18.0.12' } } });

function setup() {
  const dp = new FakeDatapath(cfg);
  const ids = new Map<string, number>();
  const identities = new IdentityCache(async (labels) => {
    const k = JSON.stringify(labels);
    if (!ids.has(k)) ids.set(k, 256 + ids.size);
    return ids.get(k)!;
  });
  const ipcache = new IpcacheSync(dp, 'node1', identities, () => {});
  ipcache.handle({ type: 'SYNCED' });
  const local: EndpointState[] = [];
  const relabels: string[] = [];
  const log: string[] = [];
  // A stand-in for the endpoint manager: relabel resolves the identity and tells the controller first.
  const endpoints = {
    list: () => [...local],
    async relabel(containerId: string, labels: string[]) {
      const i = local.findIndex((e) => e.containerId === containerId);
      const identity = await identities.resolve(labels);
      if (local[i]!.identity === identity) return false;
      const next = { ...local[i]!, labels: [...labels].sort(), identity };
      c.beforeActivate(next);
      local[i] = next;
      relabels.push(`${next.podName}:${identity}`);
      return true;
    },
  };
  const c = new PolicyController({ node: 'node1', datapath: dp, endpoints, identities, ipcache, log: (m) => log.push(m) });
  const add = async (ns: string, name: string, labels: Record<string, string>, nsLabels: Record<string, string>, ip: string) => {
    const sl = podSecurityLabels(ns, labels, { ...nsLabels, 'kubernetes.io/metadata.name': ns });
    const st = { containerId: `c-${name}`, endpointId: local.length + 1, podNamespace: ns, podName: name, ip, identity: await identities.resolve(sl), labels: sl } as EndpointState;
    c.beforeActivate(st); // what EndpointManager.add does before the endpoint enters the maps
    local.push(st);
    return st;
  };
  const settle = () => new Promise((r) => setTimeout(r, 20));
  return { dp, c, local, add, settle, relabels, log, identities, ipcache };
}

describe('PolicyController', () => {
  it('realizes policies in the datapath, reports the revision, and removes every entry when the policies go', async () => {
    const { dp, c, add, settle } = setup();
    c.resetWatchState();
    for (const e of [nsEv('x', {}), nsEv('y', {}), podEv('x', 'a', { pod: 'a' }), podEv('y', 'b', { pod: 'b' })]) c.handle(e);
    const xa = await add('x', 'a', { pod: 'a' }, {}, '198.19.0.2');
    const yb = await add('y', 'b', { pod: 'b' }, {}, '198.19.0.3');
    c.handle({ type: 'SYNCED', resourceVersion: rv });
    await settle();
    expect(c.revision).toBe(rv);
    expect(dp.listEndpointPolicies()).toEqual([]); // nothing to enforce: nothing written
    c.handle(npEv('y', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }));
    await settle();
    expect(c.revision).toBe(rv);
    const p = dp.policies.get(yb.endpointId)!;
    expect(endpointVerdict(p, 'ingress', xa.identity, 6, 80)).toBe('default-deny');
    expect(endpointVerdict(p, 'ingress', 1, 6, 80)).toBe('allowed');
    expect(dp.policies.has(xa.endpointId)).toBe(false);
    c.handle(npEv('y', 'deny', { podSelector: {} }, 'DELETED'));
    await settle();
    expect(dp.listEndpointPolicies()).toEqual([]);
    expect(c.revision).toBe(rv);
  });

  it('a BOOKMARK or an event of another kind moves the realized revision', async () => {
    const { c, settle } = setup();
    c.handle({ type: 'SYNCED', resourceVersion: 5 });
    c.handle({ type: 'BOOKMARK', resourceVersion: 9 });
    await settle();
    expect(c.revision).toBe(9);
    c.handle({ type: 'MODIFIED', object: { kind: 'Node', metadata: { name: 'n', resourceVersion: '12' } } });
    await settle();
    expect(c.revision).toBe(12);
  });

  it('learns peers from other nodes\' CiliumEndpoints and drops them when they go', async () => {
    const { dp, c, add, settle } = setup();
    c.handle(nsEv('y', {}));
    const yb = await add('y', 'b', { pod: 'b' }, {}, '198.19.0.3');
    c.handle({ type: 'SYNCED' });
    c.handle(npEv('y', 'from-a', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { pod: 'a' } } }] }] }));
    await settle();
    expect(endpointVerdict(dp.policies.get(yb.endpointId), 'ingress', 700, 6, 80)).toBe('default-deny');
    c.handle(cepEv('x', 'a', 700, podSecurityLabels('x', { pod: 'a' }, {}), '198.19.1.5'));
    await settle();
    expect(endpointVerdict(dp.policies.get(yb.endpointId), 'ingress', 700, 6, 80)).toBe('allowed');
    c.handle(cepEv('x', 'a', 700, [], '198.19.1.5', 'node2', 'DELETED'));
    await settle();
    expect(endpointVerdict(dp.policies.get(yb.endpointId), 'ingress', 700, 6, 80)).toBe('default-deny');
  });

  it('moves a local pod to a new identity when its labels or its namespace\'s labels change', async () => {
    const { dp, c, add, settle, relabels } = setup();
    c.handle(nsEv('x', {}));
    c.handle(nsEv('y', {}));
    c.handle(podEv('x', 'a', { pod: 'a' }));
    c.handle(podEv('y', 'b', { pod: 'b' }));
    const xa = await add('x', 'a', { pod: 'a' }, {}, '198.19.0.2');
    const yb = await add('y', 'b', { pod: 'b' }, {}, '198.19.0.3');
    c.handle({ type: 'SYNCED' });
    c.handle(npEv('y', 'p', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'blue' } } }] }] }));
    await settle();
    expect(endpointVerdict(dp.policies.get(yb.endpointId), 'ingress', xa.identity, 6, 80)).toBe('default-deny');
    c.handle(nsEv('x', { team: 'blue' }, 'MODIFIED'));
    await settle();
    expect(relabels).toHaveLength(1);
    const xa2 = c.engine.localEndpoints().find((e) => e.pod === 'x/a')!;
    expect(xa2.identity).not.toBe(xa.identity);
    expect(endpointVerdict(dp.policies.get(yb.endpointId), 'ingress', xa2.identity, 6, 80)).toBe('allowed');
    // y/b relabelled out of the policy: nothing enforced on it any more.
    c.handle(podEv('y', 'b', { pod: 'other' }, 'MODIFIED'));
    await settle();
    expect(relabels).toHaveLength(2);
    expect(dp.policies.has(yb.endpointId)).toBe(false);
  });

  it('writes the CIDR identities into the ipcache and takes them out again', async () => {
    const { dp, c, add, settle } = setup();
    c.handle(nsEv('x', {}));
    await add('x', 'a', { pod: 'a' }, {}, '198.19.0.2');
    c.handle({ type: 'SYNCED' });
    c.handle(npEv('x', 'out', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '203.0.113.0/24', except: ['203.0.113.0/28'] } }] }] }));
    await settle();
    const keys = () => [...dp.ipcache.keys()].filter((k) => k.startsWith('203.')).sort();
    expect(keys()).toEqual(['203.0.113.0/24', '203.0.113.0/28']);
    expect(dp.ipcache.get('203.0.113.0/24')!.identity).toBeGreaterThanOrEqual(1 << 24);
    c.handle(npEv('x', 'out', {}, 'DELETED'));
    await settle();
    expect(keys()).toEqual([]);
  });

  it('after a reconnect, drops what was deleted while the stream was down and stale map entries', async () => {
    const { dp, c, add, settle } = setup();
    c.resetWatchState();
    c.handle(nsEv('y', {}));
    const yb = await add('y', 'b', { pod: 'b' }, {}, '198.19.0.3');
    c.handle(npEv('y', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }));
    c.handle({ type: 'SYNCED' });
    await settle();
    expect(dp.policies.has(yb.endpointId)).toBe(true);
    dp.setEndpointPolicy({ endpointId: 99, ingressEnforced: true, egressEnforced: false, entries: [] }); // a leftover
    c.resetWatchState();
    c.handle(nsEv('y', {}));
    c.handle({ type: 'SYNCED' }); // the policy is not listed again: it was deleted meanwhile
    await settle();
    expect(dp.listEndpointPolicies()).toEqual([]);
  });

  it('says so, and does not claim the revision, when the datapath cannot enforce', async () => {
    const { dp, c, add, settle } = setup();
    (dp as { setEndpointPolicy?: unknown }).setEndpointPolicy = undefined;
    c.handle(nsEv('y', {}));
    await add('y', 'b', { pod: 'b' }, {}, '198.19.0.3');
    c.handle({ type: 'SYNCED', resourceVersion: rv });
    await settle();
    const before = rv;
    expect(c.revision).toBe(before);
    c.handle(npEv('y', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }));
    await settle();
    expect(c.revision).toBe(before);
    expect(c.problem).toMatch(/no policy map/);
  });

  it('reports a policy it cannot use instead of applying part of it', async () => {
    const { c, settle, log } = setup();
    c.handle({ type: 'SYNCED' });
    c.handle(npEv('y', 'bad', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: 'not-a-cidr' } }] }] }));
    await settle();
    expect(c.status().rejected).toEqual({ 'NetworkPolicy/y/bad': expect.stringMatching(/not a CIDR/) });
    expect(log.join('\n')).toMatch(/not imported/);
  });
});
