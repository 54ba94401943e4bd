// CiliumNetworkPolicy semantics of the engine, against hand-written expectations.
import { describe, expect, it } from 'vitest';
import { PolicyWorld } from '../testing/policy-world.js';
import { RESERVED_IDENTITY } from '../identity/labels.js';
import { compilePolicy } from './compile.js';

const cnp = (ns: string, name: string, spec: string) => `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec.replace(/^/gm, '  ')}
`;

describe('CiliumNetworkPolicy', () => {
  it('endpointSelector and fromEndpoints are limited to the policy\'s namespace unless they name it', () => {
    const w = PolicyWorld.xyz();
    w.apply(cnp('y', 'p', 'endpointSelector: {matchLabels: {pod: b}}\ningress:\n- fromEndpoints: [{matchLabels: {pod: a}}]'));
    expect(w.verdict('y/a', 'y/b')).toBe('allowed');
    expect(w.verdict('x/a', 'y/b')).toBe('default-deny');
    expect(w.verdict('x/a', 'x/b')).toBe('allowed'); // x/b is not selected: the subject is limited to y
    w.apply(cnp('y', 'p', 'endpointSelector: {matchLabels: {pod: b}}\ningress:\n- fromEndpoints: [{matchLabels: {pod: a, k8s:io.kubernetes.pod.namespace: x}}]'));
    expect(w.verdict('x/a', 'y/b')).toBe('allowed');
    expect(w.verdict('y/a', 'y/b')).toBe('default-deny');
  });

  it('`fromEndpoints: [{}]` is every endpoint of the namespace; namespace labels select through the identity', () => {
    const w = PolicyWorld.xyz();
    w.apply(cnp('y', 'p', 'endpointSelector: {}\ningress:\n- fromEndpoints: [{}]'));
    expect(w.verdict('y/a', 'y/b')).toBe('allowed');
    expect(w.verdict('z/a', 'y/b')).toBe('default-deny');
    w.apply(
      cnp('y', 'q', 'endpointSelector: {}\ningress:\n- fromEndpoints: [{matchLabels: {"k8s:io.cilium.k8s.namespace.labels.ns": z}, matchExpressions: [{key: "k8s:io.kubernetes.pod.namespace", operator: Exists}]}]'),
    );
    expect(w.verdict('z/a', 'y/b')).toBe('allowed');
    expect(w.verdict('x/a', 'y/b')).toBe('default-deny');
  });

  it('toPorts without protocol means ANY (TCP, UDP and SCTP); port "0" every port', () => {
    const w = PolicyWorld.xyz();
    w.apply(cnp('y', 'p', 'endpointSelector: {}\ningress:\n- toPorts: [{ports: [{port: "80"}]}]'));
    expect(w.verdict('x/a', 'y/b', 'TCP', 80)).toBe('allowed');
    expect(w.verdict('x/a', 'y/b', 'UDP', 80)).toBe('allowed');
    expect(w.verdict('x/a', 'y/b', 'SCTP', 80)).toBe('allowed');
    expect(w.verdict('x/a', 'y/b', 'TCP', 81)).toBe('default-deny');
    w.apply(cnp('y', 'p', 'endpointSelector: {}\ningress:\n- toPorts: [{ports: [{port: "0", protocol: UDP}]}]'));
    expect(w.verdict('x/a', 'y/b', 'UDP', 4242)).toBe('allowed');
    expect(w.verdict('x/a', 'y/b', 'TCP', 80)).toBe('default-deny');
    w.apply(cnp('y', 'p', 'endpointSelector: {}\ningress:\n- toPorts: [{ports: [{port: "80", endPort: 90, protocol: TCP}]}]'));
    expect(w.verdict('x/a', 'y/b', 'TCP', 90)).toBe('allowed');
    expect(w.verdict('x/a', 'y/b', 'TCP', 91)).toBe('default-deny');
    w.apply(cnp('y', 'p', 'endpointSelector: {}\ningress:\n- toPorts: [{ports: [{port: serve-81-udp}]}]'));
    expect(w.verdict('x/a', 'y/b', 'UDP', 81)).toBe('allowed');
    expect(w.verdict('x/a', 'y/b', 'TCP', 81)).toBe('default-deny');
  });

  it('an empty rule `ingress: [{}]` only puts the endpoint into default deny; `ingress: []` does nothing', () => {
    const w = PolicyWorld.xyz();
    w.apply(cnp('y', 'p', 'endpointSelector: {matchLabels: {pod: b}}\ningress: [{}]'));
    expect(w.verdict('y/a', 'y/b')).toBe('default-deny');
    expect(w.policyOf('y/b').entries.filter((e) => e.identity !== RESERVED_IDENTITY.host)).toEqual([]);
    w.apply(cnp('y', 'p', 'endpointSelector: {matchLabels: {pod: b}}\ningress: []'));
    expect(w.verdict('y/a', 'y/b')).toBe('allowed');
    expect(w.policyOf('y/b').ingressEnforced).toBe(false);
  });

  it('entities: world, host, remote-node, cluster, all', () => {
    const w = PolicyWorld.xyz({ allowLocalhost: false });
    const ent = (e: string) => w.apply(cnp('y', 'p', `endpointSelector: {matchLabels: {pod: b}}\ningress:\n- fromEntities: [${e}]`));
    ent('world');
    expect([w.ingressFrom(RESERVED_IDENTITY.world, 'y/b'), w.ingressFrom(RESERVED_IDENTITY.host, 'y/b'), w.verdict('x/a', 'y/b')]).toEqual(['allowed', 'default-deny', 'default-deny']);
    ent('host');
    expect([w.ingressFrom(RESERVED_IDENTITY.host, 'y/b'), w.ingressFrom(RESERVED_IDENTITY.remoteNode, 'y/b')]).toEqual(['allowed', 'default-deny']);
    ent('remote-node');
    expect([w.ingressFrom(RESERVED_IDENTITY.remoteNode, 'y/b'), w.ingressFrom(RESERVED_IDENTITY.host, 'y/b')]).toEqual(['allowed', 'default-deny']);
    ent('cluster');
    expect([w.verdict('x/a', 'y/b'), w.ingressFrom(RESERVED_IDENTITY.host, 'y/b'), w.ingressFrom(RESERVED_IDENTITY.remoteNode, 'y/b'), w.ingressFrom(RESERVED_IDENTITY.world, 'y/b')]).toEqual([
      'allowed',
      'allowed',
      'allowed',
      'default-deny',
    ]);
    const late = w.addPod('z', 'late', { app: 'late' });
    expect(w.verdict('z/late', 'y/b')).toBe('allowed'); // a pod identity that appears later is in the cluster
    expect(late.identity).toBeGreaterThan(0);
    ent('all');
    expect([w.ingressFrom(RESERVED_IDENTITY.world, 'y/b', 'UDP', 9), w.verdict('x/a', 'y/b')]).toEqual(['allowed', 'allowed']);
  });

  it('toEntities world includes CIDR identities; toCIDRSet with except', () => {
    const w = PolicyWorld.xyz();
    w.apply(cnp('x', 'p', 'endpointSelector: {matchLabels: {pod: a}}\negress:\n- toCIDRSet: [{cidr: 203.0.113.0/24, except: [203.0.113.0/28]}]\n- toCIDR: [198.51.100.7]'));
    expect(w.verdict('x/a', '203.0.113.99')).toBe('allowed');
    expect(w.verdict('x/a', '203.0.113.5')).toBe('default-deny');
    expect(w.verdict('x/a', '198.51.100.7')).toBe('allowed');
    expect(w.verdict('x/a', '198.51.100.8')).toBe('default-deny');
    expect(w.verdict('x/a', 'y/b')).toBe('default-deny'); // CIDR rules never match cluster endpoints
    w.apply(cnp('x', 'q', 'endpointSelector: {matchLabels: {pod: a}}\negress:\n- toEntities: [world]'));
    expect(w.verdict('x/a', '203.0.113.5')).toBe('allowed');
    expect(w.verdict('x/a', '192.0.2.1')).toBe('allowed');
    expect(w.verdict('x/a', 'y/b')).toBe('default-deny');
  });

  it('deny wins over allow, and a deny-only policy still puts the direction into default deny', () => {
    const w = PolicyWorld.xyz();
    w.apply(cnp('y', 'p', 'endpointSelector: {}\ningress:\n- fromEntities: [all]\ningressDeny:\n- fromEndpoints: [{matchLabels: {pod: a}}]\n  toPorts: [{ports: [{port: "80", protocol: TCP}]}]'));
    expect(w.verdict('y/a', 'y/b', 'TCP', 80)).toBe('denied');
    expect(w.verdict('y/a', 'y/b', 'TCP', 81)).toBe('allowed');
    expect(w.verdict('y/c', 'y/b', 'TCP', 80)).toBe('allowed');
    // A NetworkPolicy allowing everything does not override a Cilium deny.
    w.apply(`apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: all, namespace: y}\nspec: {podSelector: {}, ingress: [{}]}`);
    expect(w.verdict('y/a', 'y/b', 'TCP', 80)).toBe('denied');
    w.apply(cnp('x', 'd', 'endpointSelector: {matchLabels: {pod: a}}\negressDeny:\n- toEndpoints: [{matchLabels: {pod: b}}]'));
    expect(w.policyOf('x/a').egressEnforced).toBe(true);
    expect(w.verdict('x/a', 'x/b')).toBe('denied');
    expect(w.verdict('x/a', 'x/c')).toBe('default-deny');
  });

  it('enableDefaultDeny: false lets a policy add rules without isolating', () => {
    const w = PolicyWorld.xyz();
    w.apply(cnp('y', 'p', 'endpointSelector: {}\nenableDefaultDeny: {ingress: false}\ningressDeny:\n- fromEndpoints: [{matchLabels: {pod: a}}]'));
    expect(w.verdict('y/a', 'y/b')).toBe('denied');
    expect(w.verdict('y/c', 'y/b')).toBe('allowed');
  });

  it('specs: several rules in one object, each its own compiled policy', () => {
    const compiled = compilePolicy({
      kind: 'CiliumNetworkPolicy',
      metadata: { name: 'm', namespace: 'y' },
      specs: [{ endpointSelector: {}, ingress: [{}] }, { endpointSelector: {}, egress: [{}] }],
    });
    expect(compiled.map((c) => [c.key, c.ingress, c.egress])).toEqual([
      ['CiliumNetworkPolicy/y/m', true, false],
      ['CiliumNetworkPolicy/y/m#1', false, true],
    ]);
  });

  it('reports what it does not support instead of guessing', () => {
    const [c] = compilePolicy({
      kind: 'CiliumNetworkPolicy',
      metadata: { name: 'm', namespace: 'y' },
      spec: { endpointSelector: {}, egress: [{ toFQDNs: [{ matchName: 'example.com' }], toEntities: ['kube-apiserver'] }] },
    });
    expect(c!.notes.join('\n')).toMatch(/toFQDNs: not supported/);
    expect(c!.notes.join('\n')).toMatch(/kube-apiserver.*not supported/);
    expect(c!.egress).toBe(true);
  });
});
