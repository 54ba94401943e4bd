// Hand-written truth tables for Kubernetes NetworkPolicy, ported from the upstream netpol e2e cases
// (test/e2e/network/netpol) and the CNI bugs REFERENCE.md lists. Rows: source x/a … z/c; columns:
// destination in the same order; '.' allowed, 'X' blocked. Pods a/b/c sit on node1/node2/node3.
import { describe, expect, it } from 'vitest';
import type { NetworkPolicy } from '../../../harness/cluster/objects.js';
import { netpol, PODS, xyzCluster } from './fixture.js';
import type { L4Protocol, OracleCluster } from './model.js';
import { Oracle } from './oracle.js';
import { isolatedColumns, oracleTable, table } from './truth-table.js';

const oracle = (...networkPolicies: NetworkPolicy[]) => new Oracle(xyzCluster({ networkPolicies }));
const ALL: Array<[L4Protocol, number]> = [['TCP', 80], ['TCP', 81], ['UDP', 80], ['UDP', 81]];
const ALLOWED = table(Array(9).fill('... ... ...'));
const podA = { matchLabels: { pod: 'a' } };

function expectEverywhere(o: Oracle, expected: string[]) {
  for (const [proto, port] of ALL) expect(oracleTable(o, PODS, proto, port), `${proto}/${port}`).toEqual(expected);
}

describe('oracle: Kubernetes NetworkPolicy truth tables', () => {
  it('no policy: everything reaches everything', () => expectEverywhere(oracle(), ALLOWED));

  it("default-deny-ingress in x: nothing reaches x's pods", () => {
    const o = oracle(netpol('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] }));
    expectEverywhere(o, table([
      '.XX ... ...', 'X.X ... ...', 'XX. ... ...',
      'XXX ... ...', 'XXX ... ...', 'XXX ... ...',
      'XXX ... ...', 'XXX ... ...', 'XXX ... ...',
    ]));
  });

  it("default-deny-all in x: x's pods neither send nor receive", () => {
    expectEverywhere(oracle(netpol('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })), table([
      '.XX XXX XXX', 'X.X XXX XXX', 'XX. XXX XXX',
      'XXX ... ...', 'XXX ... ...', 'XXX ... ...',
      'XXX ... ...', 'XXX ... ...', 'XXX ... ...',
    ]));
  });

  it('allow x/a from pods of its namespace with pod=b (podSelector alone means the policy namespace)', () => {
    expectEverywhere(oracle(netpol('x', 'allow-b', { podSelector: podA, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] })), isolatedColumns(PODS, ['x/a'], ['x/b']));
  });

  it('allow x/a from every namespace (namespaceSelector {}) and from a different namespace only', () => {
    expectEverywhere(oracle(netpol('x', 'all-ns', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: {} }] }] })), ALLOWED);
    expectEverywhere(oracle(netpol('x', 'from-y', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] })), isolatedColumns(PODS, ['x/a'], ['y/a', 'y/b', 'y/c']));
    // The label every namespace carries, set by the API server (and by cnilab).
    const byName = { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn' as const, values: ['x'] }] } };
    expectEverywhere(oracle(netpol('x', 'not-x', { podSelector: podA, ingress: [{ from: [byName] }] })), isolatedColumns(PODS, ['x/a'], ['y/a', 'y/b', 'y/c', 'z/a', 'z/b', 'z/c']));
  });

  it('podSelector AND namespaceSelector in one peer, OR across peers, matchExpressions', () => {
    const and = { namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } };
    expectEverywhere(oracle(netpol('x', 'and', { podSelector: podA, ingress: [{ from: [and] }] })), isolatedColumns(PODS, ['x/a'], ['y/b']));
    const or = [{ namespaceSelector: { matchLabels: { ns: 'y' } } }, { podSelector: { matchLabels: { pod: 'b' } } }];
    expectEverywhere(oracle(netpol('x', 'or', { podSelector: podA, ingress: [{ from: or }] })), isolatedColumns(PODS, ['x/a'], ['x/b', 'y/a', 'y/b', 'y/c']));
    const expr = { podSelector: { matchExpressions: [{ key: 'pod', operator: 'In' as const, values: ['b', 'c'] }] }, namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn' as const, values: ['y'] }] } };
    expectEverywhere(oracle(netpol('x', 'expr', { podSelector: podA, ingress: [{ from: [expr] }] })), isolatedColumns(PODS, ['x/a'], ['x/b', 'x/c', 'z/b', 'z/c']));
  });

  it('ports: only TCP 81 from namespace y', () => {
    const o = oracle(netpol('x', 'p81', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 81, protocol: 'TCP' }] }] }));
    expect(oracleTable(o, PODS, 'TCP', 81)).toEqual(isolatedColumns(PODS, ['x/a'], ['y/a', 'y/b', 'y/c']));
    for (const [proto, port] of [['TCP', 80], ['UDP', 80], ['UDP', 81]] as const) expect(oracleTable(o, PODS, proto, port)).toEqual(isolatedColumns(PODS, ['x/a']));
  });

  it('named ports resolve on the destination pod, with their protocol', () => {
    const o = oracle(netpol('x', 'named', { podSelector: podA, ingress: [{ ports: [{ port: 'serve-81-tcp', protocol: 'TCP' }] }] }));
    expect(oracleTable(o, PODS, 'TCP', 81)).toEqual(ALLOWED);
    for (const [proto, port] of [['TCP', 80], ['UDP', 80], ['UDP', 81]] as const) expect(oracleTable(o, PODS, proto, port)).toEqual(isolatedColumns(PODS, ['x/a']));
    // A UDP port's name with no protocol means TCP: it names no TCP port, so it opens nothing.
    expectEverywhere(oracle(netpol('x', 'wrong-proto', { podSelector: podA, ingress: [{ ports: [{ port: 'serve-81-udp' }] }] })), isolatedColumns(PODS, ['x/a']));
    // Egress: the name resolves on the peer (the destination), not on the policy's own pod.
    const eg = oracle(netpol('x', 'eg-named', { podSelector: podA, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-80-udp', protocol: 'UDP' }] }] }));
    expect(oracleTable(eg, PODS, 'UDP', 80)).toEqual(ALLOWED);
    expect(oracleTable(eg, PODS, 'TCP', 80)[0]).toBe('.XXXXXXXX');
  });

  it('endPort ranges are enforced', () => {
    const o = oracle(netpol('x', 'range', { podSelector: podA, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'TCP', port: 81, endPort: 82 }] }] }));
    expect(oracleTable(o, PODS, 'TCP', 81)).toEqual(ALLOWED);
    for (const [proto, port] of [['TCP', 80], ['UDP', 80], ['UDP', 81]] as const) expect(oracleTable(o, PODS, proto, port)[0], `${proto}/${port}`).toBe('.XXXXXXXX');
    expect(o.verdict({ from: { pod: 'x/a' }, to: { pod: 'y/b' }, port: 83, protocol: 'TCP' }).allowed).toBe(false);
    expect(o.verdict({ from: { pod: 'x/a' }, to: { pod: 'y/b' }, port: 82, protocol: 'TCP' }).allowed).toBe(true);
  });

  it('ipBlock with except, and an address both in a cidr and in another peer\'s except', () => {
    // node2's pods: x/b 198.19.2.10, y/b 198.19.2.11, z/b 198.19.2.12.
    const except = { ipBlock: { cidr: '198.19.2.0/24', except: ['198.19.2.11/32'] } };
    const o = oracle(netpol('x', 'cidr', { podSelector: podA, policyTypes: ['Egress'], egress: [{ to: [except] }] }));
    expectEverywhere(o, table(['..X XXX X.X', ...ALLOWED.slice(1)]));
    const overlap = oracle(netpol('x', 'cidr2', { podSelector: podA, policyTypes: ['Egress'], egress: [{ to: [except, { ipBlock: { cidr: '198.19.2.11/32' } }] }] }));
    expectEverywhere(overlap, table(['..X X.X X.X', ...ALLOWED.slice(1)]));
  });

  it('several policies are additive; an allow-all policy beside a narrower one wins', () => {
    const fromY = netpol('x', 'from-y', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] });
    const fromZ = netpol('x', 'from-z', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }] }] });
    expectEverywhere(oracle(fromY, fromZ), isolatedColumns(PODS, ['x/a'], ['y/a', 'y/b', 'y/c', 'z/a', 'z/b', 'z/c']));
    expectEverywhere(oracle(fromY, netpol('x', 'allow-all', { podSelector: podA, ingress: [{}] })), ALLOWED);
    const egressAll = netpol('x', 'eg-all', { podSelector: podA, policyTypes: ['Egress'], egress: [{}] });
    const egressNarrow = netpol('x', 'eg-narrow', { podSelector: podA, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] });
    expectEverywhere(oracle(egressNarrow, egressAll), ALLOWED);
  });

  it('`ports: [{}, {port: 80}]` allows every TCP port (the empty port is "all TCP"), and nothing of UDP', () => {
    const o = oracle(netpol('x', 'empty-port', { podSelector: podA, ingress: [{ ports: [{}, { port: 80 }] }] }));
    expect(oracleTable(o, PODS, 'TCP', 80)).toEqual(ALLOWED);
    expect(oracleTable(o, PODS, 'TCP', 81)).toEqual(ALLOWED);
    expect(oracleTable(o, PODS, 'UDP', 80)).toEqual(isolatedColumns(PODS, ['x/a']));
  });

  it('a port without protocol is TCP only; a UDP- or SCTP-only rule opens no TCP and still isolates', () => {
    const noProto = oracle(netpol('x', 'no-proto', { podSelector: podA, ingress: [{ ports: [{ port: 80 }] }] }));
    expect(oracleTable(noProto, PODS, 'TCP', 80)).toEqual(ALLOWED);
    expect(oracleTable(noProto, PODS, 'UDP', 80)).toEqual(isolatedColumns(PODS, ['x/a']));
    const udp = oracle(netpol('x', 'udp', { podSelector: podA, ingress: [{ ports: [{ port: 80, protocol: 'UDP' }] }] }));
    expect(oracleTable(udp, PODS, 'UDP', 80)).toEqual(ALLOWED);
    for (const [proto, port] of [['TCP', 80], ['TCP', 81], ['UDP', 81]] as const) expect(oracleTable(udp, PODS, proto, port)).toEqual(isolatedColumns(PODS, ['x/a']));
    const sctp = oracle(netpol('x', 'sctp', { podSelector: podA, ingress: [{ ports: [{ port: 80, protocol: 'SCTP' }] }] }));
    expectEverywhere(sctp, isolatedColumns(PODS, ['x/a']));
    expect(sctp.verdict({ from: { pod: 'y/b' }, to: { pod: 'x/a' }, port: 80, protocol: 'SCTP' }).allowed).toBe(true);
  });

  it('egress and ingress must both allow a pair, and the drop is reported where it happens', () => {
    const eg = netpol('x', 'a-to-yb', { podSelector: podA, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] });
    const ing = netpol('y', 'yb-from-xb', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] });
    const o = oracle(eg, ing);
    const rows = oracleTable(o, PODS, 'TCP', 80);
    expect(rows[0]).toBe('.XXXXXXXX'); // x/a reaches nothing: only y/b is allowed out, and y/b refuses x/a
    expect(rows.map((r) => r[4])).toEqual(['X', '.', 'X', 'X', '.', 'X', 'X', 'X', 'X']);
    const v = o.verdict({ from: { pod: 'x/a' }, to: { pod: 'y/b' }, port: 80, protocol: 'TCP' });
    expect(v.egress.allowed).toBe(true);
    expect(v.drop).toEqual({ direction: 'INGRESS', reason: 'POLICY_DENIED', node: 'node2', by: ['NetworkPolicy y/yb-from-xb'] });
    expect(v.reason).toBe('ingress of y/b isolated by NetworkPolicy y/yb-from-xb; no rule allows x/a TCP/80');
    expect(o.verdict({ from: { pod: 'x/a' }, to: { pod: 'z/c' }, port: 81, protocol: 'UDP' }).drop).toEqual({ direction: 'EGRESS', reason: 'POLICY_DENIED', node: 'node1', by: ['NetworkPolicy x/a-to-yb'] });
  });

  it('denies egress on the client side even when the server explicitly allows the traffic', () => {
    const o = oracle(
      netpol('x', 'deny-egress', { podSelector: podA, policyTypes: ['Egress'] }),
      netpol('y', 'allow-xa', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ from: [{ namespaceSelector: {}, podSelector: podA }] }] }),
    );
    expect(o.verdict({ from: { pod: 'x/a' }, to: { pod: 'y/b' }, port: 80, protocol: 'TCP' }).drop?.direction).toBe('EGRESS');
    expect(o.allows('y/a', 'y/b', 80, 'TCP')).toBe(true);
  });

  it('follows the snapshot: policy updates, namespace and pod label changes, deletion', () => {
    const fromY = netpol('x', 'from-y', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] });
    const snap: OracleCluster = xyzCluster({ networkPolicies: [fromY] });
    expect(new Oracle(snap).allows('y/b', 'x/a', 80, 'TCP')).toBe(true);
    // Namespace y relabelled: the policy no longer selects it.
    const relabelled = { ...snap, namespaces: snap.namespaces.map((n) => (n.name === 'y' ? { ...n, labels: { ...n.labels, ns: 'other' } } : n)) };
    expect(new Oracle(relabelled).allows('y/b', 'x/a', 80, 'TCP')).toBe(false);
    // x/a relabelled: no longer selected, so no longer isolated.
    const podMoved = { ...snap, pods: snap.pods.map((p) => (p.namespace === 'x' && p.name === 'a' ? { ...p, labels: { pod: 'a2' } } : p)) };
    expect(new Oracle(podMoved).allows('z/c', 'x/a', 80, 'TCP')).toBe(true);
    // Updated to namespace z; then deleted.
    const updated = netpol('x', 'from-y', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }] }] });
    expect(new Oracle({ ...snap, networkPolicies: [updated] }).allows('y/b', 'x/a', 80, 'TCP')).toBe(false);
    expectEverywhere(new Oracle({ ...snap, networkPolicies: [] }), ALLOWED);
  });

  it('ipBlock matches addresses outside the cluster, and a pod reaching itself is always allowed', () => {
    const o = oracle(netpol('x', 'to-world', { podSelector: podA, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '198.18.0.248/29', except: ['198.18.0.251/32'] } }] }] }));
    expect(o.verdict({ from: { pod: 'x/a' }, to: { external: 'world-a' }, port: 80, protocol: 'TCP' }).allowed).toBe(true);
    expect(o.verdict({ from: { pod: 'x/a' }, to: { external: 'world-b' }, port: 80, protocol: 'TCP' }).allowed).toBe(false);
    expect(o.verdict({ from: { pod: 'x/a' }, to: { pod: 'x/a' }, port: 80, protocol: 'TCP' }).allowed).toBe(true);
  });
});
