// The policy engine against hand-written expectations: every NetworkPolicy semantic of issue 7 and the
// classic CNI bugs, on the x/y/z × a/b/c model, stated as verdicts the datapath would give.
import { describe, expect, it } from 'vitest';
import { PolicyWorld, XYZ_PORTS } from '../testing/policy-world.js';
import { RESERVED_IDENTITY } from '../identity/labels.js';

const np = (ns: string, name: string, spec: string) => `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec.replace(/^/gm, '  ')}
`;

const DENY_INGRESS_Y = np('y', 'deny-ingress', 'podSelector: {}\npolicyTypes: [Ingress]');

describe('without policies', () => {
  it('allows everything and enforces nothing', () => {
    const w = PolicyWorld.xyz();
    expect(w.verdict('x/a', 'y/b')).toBe('allowed');
    expect(w.policyOf('y/b')).toEqual({ endpointId: w.pod('y/b').endpointId, ingressEnforced: false, egressEnforced: false, entries: [] });
  });
});

describe('NetworkPolicy', () => {
  it('a default-deny in namespace y blocks x/a → y/b:80 (the reproduction of issue 7) and nothing leaving y', () => {
    const w = PolicyWorld.xyz();
    w.apply(DENY_INGRESS_Y);
    expect(w.verdict('x/a', 'y/b')).toBe('default-deny');
    expect(w.verdict('y/a', 'y/b')).toBe('default-deny');
    expect(w.verdict('y/b', 'x/a')).toBe('allowed');
    expect(w.verdict('x/a', 'z/b')).toBe('allowed');
    // Cilium's allow-localhost: the node itself still reaches its pods (kubelet probes).
    expect(w.ingressFrom(RESERVED_IDENTITY.host, 'y/b')).toBe('allowed');
    expect(w.ingressFrom(RESERVED_IDENTITY.world, 'y/b')).toBe('default-deny');
    expect(w.ingressFrom(RESERVED_IDENTITY.remoteNode, 'y/b')).toBe('default-deny');
  });

  it('allow-localhost can be turned off', () => {
    const w = PolicyWorld.xyz({ allowLocalhost: false });
    w.apply(DENY_INGRESS_Y);
    expect(w.ingressFrom(RESERVED_IDENTITY.host, 'y/b')).toBe('default-deny');
  });

  it('`ingress: [{}]` allows every source, world included', () => {
    const w = PolicyWorld.xyz();
    w.apply(np('y', 'allow-all', 'podSelector: {}\ningress: [{}]'));
    expect(w.verdict('x/a', 'y/b', 'UDP', 81)).toBe('allowed');
    expect(w.ingressFrom(RESERVED_IDENTITY.world, 'y/b', 'TCP', 9999)).toBe('allowed');
    expect(w.policyOf('y/b').ingressEnforced).toBe(true);
  });

  it('`ports: [{}, {port: 80}]` allows every TCP port (and no UDP)', () => {
    const w = PolicyWorld.xyz();
    w.apply(np('y', 'p', 'podSelector: {}\ningress:\n- ports: [{}, {port: 80}]'));
    expect(w.verdict('x/a', 'y/b', 'TCP', 80)).toBe('allowed');
    expect(w.verdict('x/a', 'y/b', 'TCP', 81)).toBe('allowed');
    expect(w.verdict('x/a', 'y/b', 'TCP', 65535)).toBe('allowed');
    expect(w.verdict('x/a', 'y/b', 'UDP', 80)).toBe('default-deny');
  });

  it('a port without protocol means TCP only', () => {
    const w = PolicyWorld.xyz();
    w.apply(np('y', 'p', 'podSelector: {}\ningress:\n- ports: [{port: 80}]'));
    expect(w.verdict('x/a', 'y/b', 'TCP', 80)).toBe('allowed');
    expect(w.verdict('x/a', 'y/b', 'UDP', 80)).toBe('default-deny');
    expect(w.verdict('x/a', 'y/b', 'SCTP', 80)).toBe('default-deny');
    expect(w.verdict('x/a', 'y/b', 'TCP', 81)).toBe('default-deny');
  });

  it('a UDP-only or SCTP-only rule does not open TCP but still isolates the pod', () => {
    for (const proto of ['UDP', 'SCTP'] as const) {
      const w = PolicyWorld.xyz();
      w.apply(np('y', 'p', `podSelector: {matchLabels: {pod: b}}\ningress:\n- ports: [{protocol: ${proto}, port: 80}]`));
      expect(w.verdict('x/a', 'y/b', proto, 80)).toBe('allowed');
      expect(w.verdict('x/a', 'y/b', 'TCP', 80)).toBe('default-deny');
      expect(w.verdict('x/a', 'y/b', proto, 81)).toBe('default-deny');
      expect(w.verdict('x/a', 'y/a', 'TCP', 80)).toBe('allowed'); // not selected
    }
  });

  it('named ports resolve on the destination pod (ingress: the selected pod\'s own ports)', () => {
    const w = PolicyWorld.xyz();
    w.addPod('y', 'd', { pod: 'd' }, { ports: [{ name: 'serve-81-tcp', containerPort: 8081 }] });
    w.apply(np('y', 'p', 'podSelector: {}\ningress:\n- ports: [{port: serve-81-tcp}]'));
    expect(w.verdict('x/a', 'y/b', 'TCP', 81)).toBe('allowed');
    expect(w.verdict('x/a', 'y/b', 'TCP', 80)).toBe('default-deny');
    expect(w.verdict('x/a', 'y/b', 'UDP', 81)).toBe('default-deny'); // the name is serve-81-tcp, TCP
    expect(w.verdict('x/a', 'y/d', 'TCP', 8081)).toBe('allowed');
    expect(w.verdict('x/a', 'y/d', 'TCP', 81)).toBe('default-deny');
  });

  it('named ports resolve on each destination pod for egress, and a name nobody declares opens nothing', () => {
    const w = PolicyWorld.xyz();
    w.addPod('z', 'd', { pod: 'd' }, { ports: [{ name: 'serve-80-tcp', containerPort: 8080 }] });
    w.apply(np('x', 'p', 'podSelector: {matchLabels: {pod: a}}\negress:\n- ports: [{port: serve-80-tcp}, {port: nope}]'));
    expect(w.policyOf('x/a').egressEnforced).toBe(true);
    expect(w.verdict('x/a', 'y/b', 'TCP', 80)).toBe('allowed');
    expect(w.verdict('x/a', 'z/d', 'TCP', 8080)).toBe('allowed');
    expect(w.verdict('x/a', 'z/d', 'TCP', 80)).toBe('default-deny');
    expect(w.verdict('x/a', '203.0.113.9', 'TCP', 80)).toBe('default-deny'); // the world has no named ports
  });

  it('pods of one identity that disagree on a named port: each number any of them declares is allowed', () => {
    const w = PolicyWorld.xyz();
    w.addPod('z', 'd1', { app: 'd' }, { ports: [{ name: 'web', containerPort: 8080 }] });
    w.addPod('z', 'd2', { app: 'd' }, { ports: [{ name: 'web', containerPort: 9090 }] });
    expect(w.pod('z/d1').identity).toBe(w.pod('z/d2').identity);
    w.apply(np('x', 'p', 'podSelector: {}\negress:\n- ports: [{port: web}]'));
    expect(w.verdict('x/a', 'z/d1', 'TCP', 8080)).toBe('allowed');
    expect(w.verdict('x/a', 'z/d1', 'TCP', 9090)).toBe('allowed'); // the union, documented in engine.ts
    expect(w.verdict('x/a', 'z/d1', 'TCP', 80)).toBe('default-deny');
    w.deletePod('z/d2');
    expect(w.verdict('x/a', 'z/d1', 'TCP', 9090)).toBe('default-deny');
  });

  it('endPort opens a range, inclusive', () => {
    const w = PolicyWorld.xyz();
    w.apply(np('y', 'p', 'podSelector: {}\ningress:\n- ports: [{port: 80, endPort: 81}]'));
    expect(w.verdict('x/a', 'y/b', 'TCP', 79)).toBe('default-deny');
    expect(w.verdict('x/a', 'y/b', 'TCP', 80)).toBe('allowed');
    expect(w.verdict('x/a', 'y/b', 'TCP', 81)).toBe('allowed');
    expect(w.verdict('x/a', 'y/b', 'TCP', 82)).toBe('default-deny');
    expect(w.policyOf('y/b').entries).toContainEqual({ direction: 'ingress', deny: false, identity: 0, protocol: 6, port: 80, endPort: 81 });
  });

  it('egress and ingress must both allow a pair', () => {
    const w = PolicyWorld.xyz();
    w.apply(
      np('x', 'eg', 'podSelector: {matchLabels: {pod: a}}\npolicyTypes: [Egress]\negress:\n- to: [{namespaceSelector: {matchLabels: {ns: y}}}]'),
      np('y', 'in', 'podSelector: {matchLabels: {pod: b}}\ningress:\n- from: [{namespaceSelector: {matchLabels: {ns: z}}}]'),
    );
    expect(w.verdict('x/a', 'y/b')).toBe('default-deny'); // egress allows, ingress does not
    expect(w.verdict('x/a', 'y/a')).toBe('allowed');
    expect(w.verdict('z/a', 'y/b')).toBe('allowed');
    expect(w.verdict('x/a', 'z/a')).toBe('default-deny'); // ingress would, egress does not
  });

  it('an allow-all policy beside a narrower one wins (policies are additive)', () => {
    const w = PolicyWorld.xyz();
    w.apply(np('y', 'narrow', 'podSelector: {}\ningress:\n- from: [{podSelector: {matchLabels: {pod: a}}}]\n  ports: [{port: 80}]'));
    expect(w.verdict('x/a', 'y/b')).toBe('default-deny');
    expect(w.verdict('y/a', 'y/b', 'TCP', 80)).toBe('allowed');
    expect(w.verdict('y/a', 'y/b', 'TCP', 81)).toBe('default-deny');
    w.apply(np('y', 'wide', 'podSelector: {}\ningress: [{}]'));
    expect(w.verdict('x/a', 'y/b', 'UDP', 81)).toBe('allowed');
    w.remove('NetworkPolicy', 'y', 'wide');
    expect(w.verdict('x/a', 'y/b')).toBe('default-deny');
  });

  it('namespaceSelector {} means every namespace (pods only), omitted means the policy\'s namespace', () => {
    const w = PolicyWorld.xyz();
    w.apply(np('y', 'all-ns', 'podSelector: {matchLabels: {pod: a}}\ningress:\n- from: [{namespaceSelector: {}}]'));
    w.apply(np('y', 'own-ns', 'podSelector: {matchLabels: {pod: b}}\ningress:\n- from: [{podSelector: {}}]'));
    expect(w.verdict('x/b', 'y/a')).toBe('allowed');
    expect(w.verdict('z/c', 'y/a')).toBe('allowed');
    expect(w.ingressFrom(RESERVED_IDENTITY.world, 'y/a')).toBe('default-deny');
    expect(w.ingressFrom(RESERVED_IDENTITY.remoteNode, 'y/a')).toBe('default-deny');
    expect(w.verdict('y/c', 'y/b')).toBe('allowed');
    expect(w.verdict('x/c', 'y/b')).toBe('default-deny');
  });

  it('podSelector AND namespaceSelector in one peer; two peers are OR', () => {
    const w = PolicyWorld.xyz();
    w.apply(np('y', 'and', 'podSelector: {matchLabels: {pod: a}}\ningress:\n- from: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: b}}}]'));
    w.apply(np('y', 'or', 'podSelector: {matchLabels: {pod: b}}\ningress:\n- from: [{namespaceSelector: {matchLabels: {ns: x}}}, {podSelector: {matchLabels: {pod: c}}}]'));
    expect(w.verdict('x/b', 'y/a')).toBe('allowed');
    expect(w.verdict('x/a', 'y/a')).toBe('default-deny');
    expect(w.verdict('z/b', 'y/a')).toBe('default-deny');
    expect(w.verdict('x/a', 'y/b')).toBe('allowed');
    expect(w.verdict('y/c', 'y/b')).toBe('allowed');
    expect(w.verdict('z/c', 'y/b')).toBe('default-deny');
  });

  it('matchExpressions In, NotIn, Exists, DoesNotExist', () => {
    const w = PolicyWorld.xyz();
    w.addPod('z', 'd', { role: 'db' });
    const sel = (expr: string) => np('y', 'm', `podSelector: {}\ningress:\n- from: [{namespaceSelector: {}, podSelector: {matchExpressions: [${expr}]}}]`);
    w.apply(sel('{key: pod, operator: In, values: [a, c]}'));
    expect([w.verdict('x/a', 'y/b'), w.verdict('x/b', 'y/b'), w.verdict('x/c', 'y/b'), w.verdict('z/d', 'y/b')]).toEqual(['allowed', 'default-deny', 'allowed', 'default-deny']);
    w.apply(sel('{key: pod, operator: NotIn, values: [a, c]}'));
    expect([w.verdict('x/a', 'y/b'), w.verdict('x/b', 'y/b'), w.verdict('z/d', 'y/b')]).toEqual(['default-deny', 'allowed', 'allowed']);
    w.apply(sel('{key: role, operator: Exists}'));
    expect([w.verdict('x/a', 'y/b'), w.verdict('z/d', 'y/b')]).toEqual(['default-deny', 'allowed']);
    w.apply(sel('{key: role, operator: DoesNotExist}'));
    expect([w.verdict('x/a', 'y/b'), w.verdict('z/d', 'y/b')]).toEqual(['allowed', 'default-deny']);
  });

  it('ipBlock with except selects pods by IP and world addresses through CIDR identities', () => {
    const w = PolicyWorld.xyz();
    const xa = w.pod('x/a').ip; // 198.19.0.1
    w.apply(np('y', 'cidr', `podSelector: {}\ningress:\n- from: [{ipBlock: {cidr: 198.19.0.0/24, except: [${xa}/32]}}]\negress:\n- to: [{ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.128/25]}}]`));
    expect(w.verdict('x/a', 'y/b')).toBe('default-deny'); // in except
    expect(w.verdict('x/b', 'y/b')).toBe('allowed');
    expect(w.verdict('y/b', '203.0.113.9')).toBe('allowed');
    expect(w.verdict('y/b', '203.0.113.200')).toBe('default-deny');
    expect(w.verdict('y/b', '198.51.100.1')).toBe('default-deny');
    expect([...w.engine.cidrIdentities().keys()].sort()).toEqual(['198.19.0.0/24', '198.19.0.1/32', '203.0.113.0/24', '203.0.113.128/25']);
    w.remove('NetworkPolicy', 'y', 'cidr');
    expect(w.engine.cidrIdentities().size).toBe(0); // gone when no policy needs them
  });

  it('ipBlock 0.0.0.0/0 selects the world (addresses with no CIDR identity)', () => {
    const w = PolicyWorld.xyz();
    w.apply(np('y', 'w', 'podSelector: {}\npolicyTypes: [Egress]\negress:\n- to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]'));
    expect(w.verdict('y/b', '8.8.8.8')).toBe('allowed');
    expect(w.verdict('y/b', '10.1.2.3')).toBe('default-deny');
    expect(w.verdict('y/b', 'x/a')).toBe('allowed'); // pod IPs are inside 0.0.0.0/0
  });

  it('policyTypes default to Ingress, plus Egress when egress rules exist; a type not listed ignores its rules', () => {
    const w = PolicyWorld.xyz();
    w.apply(np('y', 'd1', 'podSelector: {matchLabels: {pod: a}}\negress: [{to: [{podSelector: {}}]}]'));
    expect(w.policyOf('y/a')).toMatchObject({ ingressEnforced: true, egressEnforced: true });
    w.apply(np('y', 'd2', 'podSelector: {matchLabels: {pod: b}}\ningress: [{}]'));
    expect(w.policyOf('y/b')).toMatchObject({ ingressEnforced: true, egressEnforced: false });
    w.apply(np('y', 'd3', 'podSelector: {matchLabels: {pod: c}}\npolicyTypes: [Egress]\ningress: [{from: [{podSelector: {}}]}]'));
    expect(w.policyOf('y/c')).toMatchObject({ ingressEnforced: false, egressEnforced: true });
    expect(w.policyOf('y/c').entries.filter((e) => e.direction === 'ingress')).toEqual([]);
    expect(w.verdict('x/a', 'y/c')).toBe('allowed');
  });

  it('deleting every policy leaves no entries and no enforcement', () => {
    const w = PolicyWorld.xyz();
    w.apply(DENY_INGRESS_Y, np('x', 'e', 'podSelector: {}\npolicyTypes: [Egress]'));
    w.remove('NetworkPolicy', 'y', 'deny-ingress');
    w.remove('NetworkPolicy', 'x', 'e');
    for (const k of w.pods.keys()) expect(w.policyOf(k)).toMatchObject({ ingressEnforced: false, egressEnforced: false, entries: [] });
  });

  it('pod and namespace label changes re-select (identity first)', () => {
    const w = PolicyWorld.xyz();
    w.apply(np('y', 'p', 'podSelector: {matchLabels: {pod: b}}\ningress:\n- from: [{namespaceSelector: {matchLabels: {team: blue}}}]'));
    expect(w.verdict('x/a', 'y/b')).toBe('default-deny');
    w.addNamespace('x', { ns: 'x', team: 'blue' });
    expect(w.verdict('x/a', 'y/b')).toBe('allowed');
    w.labelPod('y/b', { pod: 'b2' });
    expect(w.verdict('z/a', 'y/b')).toBe('allowed'); // no longer selected
    w.labelPod('y/b', { pod: 'b' });
    expect(w.verdict('z/a', 'y/b')).toBe('default-deny');
    w.addNamespace('x', { ns: 'x' });
    expect(w.verdict('x/a', 'y/b')).toBe('default-deny');
  });
});

describe('incremental recomputation', () => {
  it('hands out only the endpoints whose policy changed, and only the entries that changed', () => {
    const w = PolicyWorld.xyz();
    const ids = (cs: Array<{ endpointId: number }>) => cs.map((c) => c.endpointId).sort();
    w.engine.takeChanges();
    w.apply(np('y', 'p', 'podSelector: {matchLabels: {pod: b}}\ningress:\n- from: [{podSelector: {matchLabels: {app: new}}}]'));
    const first = w.engine.takeChanges();
    expect(ids(first)).toEqual([w.pod('y/b').endpointId]);
    expect(first[0]!.add.map((e) => e.identity)).toEqual([RESERVED_IDENTITY.host]); // allow-localhost only: no peer yet
    w.addPod('x', 'd', { app: 'new' }); // another namespace: not selected by the peer
    expect(w.engine.takeChanges()).toEqual([]);
    const e = w.addPod('y', 'e', { app: 'new' });
    const second = w.engine.takeChanges();
    expect(second).toEqual([{ endpointId: w.pod('y/b').endpointId, add: [{ direction: 'ingress', deny: false, identity: e.identity, protocol: 0, port: 0, endPort: 0 }], remove: [], ingressEnforced: true, egressEnforced: false }]);
    w.deletePod('y/e');
    expect(w.engine.takeChanges()[0]!.remove.map((x) => x.identity)).toEqual([e.identity]);
    w.apply(np('z', 'q', 'podSelector: {}\ningress: [{}]'));
    expect(ids(w.engine.takeChanges())).toEqual(['z/a', 'z/b', 'z/c'].map((k) => w.pod(k).endpointId).sort());
    expect(w.engine.inconsistencies).toBe(0);
  });

  it('shares one selector between policies and drops it with the last user', () => {
    const w = PolicyWorld.xyz();
    const before = w.engine.counts().selectors;
    w.apply(np('y', 'p1', 'podSelector: {}\ningress:\n- from: [{podSelector: {matchLabels: {pod: a}}}]'));
    w.apply(np('y', 'p2', 'podSelector: {}\ningress:\n- from: [{podSelector: {matchLabels: {pod: a}}}]'));
    expect(w.engine.counts().selectors).toBe(before + 1);
    w.remove('NetworkPolicy', 'y', 'p1');
    expect(w.engine.counts().selectors).toBe(before + 1);
    w.remove('NetworkPolicy', 'y', 'p2');
    expect(w.engine.counts().selectors).toBe(before);
  });
});

describe('XYZ_PORTS', () => {
  it('mirrors scenarios/manifests/xyz.yaml', () => {
    expect(XYZ_PORTS.map((p) => p.name)).toEqual(['serve-80-tcp', 'serve-80-udp', 'serve-81-tcp', 'serve-81-udp']);
  });
});
