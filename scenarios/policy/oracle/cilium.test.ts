// Hand-written truth tables for the CiliumNetworkPolicy subset: namespace-scoped endpoint selectors,
// ANY as the default protocol, empty rules that deny, deny over allow, entities and CIDR peers (which
// select only what lies outside the cluster), and the drop reason and direction the datapath must report.
import { describe, expect, it } from 'vitest';
import type { CiliumNetworkPolicy, NetworkPolicy } from '../../../harness/cluster/objects.js';
import { cnp, netpol, PODS, xyzCluster } from './fixture.js';
import type { PeerRef } from './model.js';
import { Oracle } from './oracle.js';
import { isolatedColumns, oracleTable, table } from './truth-table.js';

const oracle = (ciliumPolicies: CiliumNetworkPolicy[], networkPolicies: NetworkPolicy[] = []) => new Oracle(xyzCluster({ ciliumPolicies, networkPolicies }));
const podA = { matchLabels: { pod: 'a' } };
const xa = { pod: 'x/a' };
const ALLOWED = table(Array(9).fill('... ... ...'));
const reach = (o: Oracle, from: PeerRef, to: PeerRef, port = 80, protocol: 'TCP' | 'UDP' = 'TCP') => o.verdict({ from, to, port, protocol });

describe('oracle: CiliumNetworkPolicy truth tables', () => {
  it('echo-ingress: fromEndpoints without a namespace selects only the policy namespace; toPorts with a protocol', () => {
    const o = oracle([cnp('x', 'echo-ingress', { endpointSelector: podA, ingress: [{ fromEndpoints: [{ matchLabels: { pod: 'b' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }] }] }] })]);
    expect(oracleTable(o, PODS, 'TCP', 80)).toEqual(isolatedColumns(PODS, ['x/a'], ['x/b']));
    expect(oracleTable(o, PODS, 'TCP', 81)).toEqual(isolatedColumns(PODS, ['x/a']));
    expect(oracleTable(o, PODS, 'UDP', 80)).toEqual(isolatedColumns(PODS, ['x/a']));
  });

  it('a selector naming the namespace (by name or by namespace labels) reaches across namespaces', () => {
    const byName = oracle([cnp('x', 'p', { endpointSelector: podA, ingress: [{ fromEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'y', pod: 'b' } }] }] })]);
    expect(oracleTable(byName, PODS, 'UDP', 81)).toEqual(isolatedColumns(PODS, ['x/a'], ['y/b']));
    const byLabels = oracle([cnp('x', 'p', { endpointSelector: podA, ingress: [{ fromEndpoints: [{ matchLabels: { 'k8s:io.cilium.k8s.namespace.labels.ns': 'z' } }] }] })]);
    expect(oracleTable(byLabels, PODS, 'TCP', 80)).toEqual(isolatedColumns(PODS, ['x/a'], ['z/a', 'z/b', 'z/c']));
    const empty = oracle([cnp('x', 'p', { endpointSelector: podA, ingress: [{ fromEndpoints: [{}] }] })]);
    expect(oracleTable(empty, PODS, 'TCP', 80)).toEqual(isolatedColumns(PODS, ['x/a'], ['x/b', 'x/c']));
    // The endpoint selector itself never reaches outside the policy's namespace.
    const ySelector = oracle([cnp('y', 'p', { endpointSelector: {}, ingress: [{}] })]);
    expect(oracleTable(ySelector, PODS, 'TCP', 80)).toEqual(isolatedColumns(PODS, ['y/a', 'y/b', 'y/c']));
  });

  it('a port without protocol is ANY (TCP and UDP), port 0 is every port, endPort a range, named ports resolve with their protocol', () => {
    const any = oracle([cnp('x', 'p', { endpointSelector: podA, ingress: [{ toPorts: [{ ports: [{ port: '80' }] }] }] })]);
    expect(oracleTable(any, PODS, 'TCP', 80)).toEqual(ALLOWED);
    expect(oracleTable(any, PODS, 'UDP', 80)).toEqual(ALLOWED);
    expect(oracleTable(any, PODS, 'TCP', 81)).toEqual(isolatedColumns(PODS, ['x/a']));
    const zero = oracle([cnp('x', 'p', { endpointSelector: podA, ingress: [{ toPorts: [{ ports: [{ port: '0', protocol: 'UDP' }] }] }] })]);
    expect(oracleTable(zero, PODS, 'UDP', 81)).toEqual(ALLOWED);
    expect(oracleTable(zero, PODS, 'TCP', 81)).toEqual(isolatedColumns(PODS, ['x/a']));
    const range = oracle([cnp('x', 'p', { endpointSelector: podA, egress: [{ toPorts: [{ ports: [{ port: '81', endPort: 90, protocol: 'TCP' }] }] }] })]);
    expect(oracleTable(range, PODS, 'TCP', 81)[0]).toBe('.........');
    expect(oracleTable(range, PODS, 'TCP', 80)[0]).toBe('.XXXXXXXX');
    const named = oracle([cnp('x', 'p', { endpointSelector: podA, ingress: [{ toPorts: [{ ports: [{ port: 'serve-80-udp' }] }] }] })]);
    expect(oracleTable(named, PODS, 'UDP', 80)).toEqual(ALLOWED);
    expect(oracleTable(named, PODS, 'TCP', 80)).toEqual(isolatedColumns(PODS, ['x/a']));
  });

  it('all-ingress-deny and all-egress-deny: an empty rule enables default deny and allows nothing', () => {
    const ing = oracle([cnp('x', 'deny-in', { endpointSelector: {}, ingress: [{}] })]);
    expect(oracleTable(ing, PODS, 'TCP', 80)).toEqual(isolatedColumns(PODS, ['x/a', 'x/b', 'x/c']));
    expect(reach(ing, { pod: 'y/a' }, xa).drop).toEqual({ direction: 'INGRESS', reason: 'POLICY_DENIED', node: 'node1', by: ['CiliumNetworkPolicy x/deny-in'] });
    const eg = oracle([cnp('x', 'deny-out', { endpointSelector: {}, egress: [{}] })]);
    expect(oracleTable(eg, PODS, 'UDP', 81).slice(0, 3)).toEqual(table(['.XX XXX XXX', 'X.X XXX XXX', 'XX. XXX XXX']));
    expect(reach(eg, xa, { external: 'world-a' }).drop).toEqual({ direction: 'EGRESS', reason: 'POLICY_DENIED', node: 'node1', by: ['CiliumNetworkPolicy x/deny-out'] });
    // An empty list is no section at all: nothing is enforced.
    expect(oracleTable(oracle([cnp('x', 'none', { endpointSelector: {}, ingress: [] })]), PODS, 'TCP', 80)).toEqual(ALLOWED);
  });

  it('an explicit deny overrides an allow of any kind and is reported as POLICY_DENY', () => {
    const allowAll = cnp('x', 'allow-all', { endpointSelector: podA, ingress: [{ fromEntities: ['all'] }] });
    const deny = cnp('x', 'deny-b', { endpointSelector: podA, ingressDeny: [{ fromEndpoints: [{ matchLabels: { pod: 'b' } }] }] });
    const o = oracle([allowAll, deny]);
    expect(oracleTable(o, PODS, 'TCP', 80)).toEqual(isolatedColumns(PODS, ['x/a'], ['x/c', 'y/a', 'y/b', 'y/c', 'z/a', 'z/b', 'z/c']));
    expect(reach(o, { pod: 'x/b' }, xa).drop).toEqual({ direction: 'INGRESS', reason: 'POLICY_DENY', node: 'node1', by: ['CiliumNetworkPolicy x/deny-b'] });
    // A deny-only policy also puts the endpoint into default deny: the others are dropped as POLICY_DENIED.
    const denyOnly = oracle([deny]);
    expect(reach(denyOnly, { pod: 'x/b' }, xa).drop?.reason).toBe('POLICY_DENY');
    expect(reach(denyOnly, { pod: 'x/c' }, xa).drop?.reason).toBe('POLICY_DENIED');
    // Deny beats a Kubernetes NetworkPolicy allow too.
    const k8sAllow = netpol('x', 'k8s-allow', { podSelector: podA, ingress: [{}] });
    const mixed = oracle([cnp('x', 'deny-y', { endpointSelector: podA, ingressDeny: [{ fromEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'y' } }], toPorts: [{ ports: [{ port: '81', protocol: 'TCP' }] }] }] })], [k8sAllow]);
    expect(oracleTable(mixed, PODS, 'TCP', 81)).toEqual(isolatedColumns(PODS, ['x/a'], ['x/b', 'x/c', 'z/a', 'z/b', 'z/c']));
    expect(oracleTable(mixed, PODS, 'TCP', 80)).toEqual(ALLOWED);
    const egressDeny = oracle([cnp('x', 'no-world', { endpointSelector: podA, egressDeny: [{ toEntities: ['world'] }] })]);
    expect(reach(egressDeny, xa, { external: 'world-a' }).drop).toEqual({ direction: 'EGRESS', reason: 'POLICY_DENY', node: 'node1', by: ['CiliumNetworkPolicy x/no-world'] });
  });

  it('to-entities: world, host, remote-node, cluster, all — seen from the endpoint\'s node', () => {
    const to = (entity: string) => oracle([cnp('x', `to-${entity}`, { endpointSelector: podA, egress: [{ toEntities: [entity] }] })]);
    const where = (o: Oracle) =>
      [{ external: 'world-a' }, { node: 'node1' }, { node: 'node2' }, { pod: 'y/b' }].map((t) => (reach(o, xa, t as PeerRef).allowed ? '.' : 'X')).join('');
    // columns: world, own node (host), another node (remote-node), a pod
    expect(where(to('world'))).toBe('.XXX');
    expect(where(to('host'))).toBe('X.XX');
    expect(where(to('remote-node'))).toBe('XX.X');
    expect(where(to('cluster'))).toBe('X...');
    expect(where(to('all'))).toBe('....');
    // x/b lives on node2: node2 is its host, node1 a remote node.
    expect(reach(to('host'), xa, { node: 'node1' }).allowed).toBe(true);
    const hostB = oracle([cnp('x', 'b-host', { endpointSelector: { matchLabels: { pod: 'b' } }, egress: [{ toEntities: ['host'] }] })]);
    expect(reach(hostB, { pod: 'x/b' }, { node: 'node2' }).allowed).toBe(true);
    expect(reach(hostB, { pod: 'x/b' }, { node: 'node1' }).allowed).toBe(false);
    // reserved: labels in an endpoint selector select the reserved identities.
    const reserved = oracle([cnp('x', 'p', { endpointSelector: podA, egress: [{ toEndpoints: [{ matchLabels: { 'reserved:host': '' } }] }] })]);
    expect(where(reserved)).toBe('X.XX');
  });

  it('to-cidr with except selects hosts outside the cluster only, never pods or nodes', () => {
    const o = oracle([cnp('x', 'to-cidr', { endpointSelector: podA, egress: [{ toCIDRSet: [{ cidr: '198.18.0.248/29', except: ['198.18.0.251/32'] }] }, { toCIDR: ['198.19.0.0/16', '198.18.0.0/24'] }] })]);
    expect(reach(o, xa, { external: 'world-a' }).allowed).toBe(true);
    // world-b is in except of the first rule, but inside 198.18.0.0/24 of the second.
    expect(reach(o, xa, { external: 'world-b' }).allowed).toBe(true);
    expect(reach(o, xa, { pod: 'y/b' }).allowed).toBe(false);
    expect(reach(o, xa, { node: 'node2' }).allowed).toBe(false);
    const strict = oracle([cnp('x', 'to-cidr', { endpointSelector: podA, egress: [{ toCIDRSet: [{ cidr: '198.18.0.248/29', except: ['198.18.0.251/32'] }] }] })]);
    expect(reach(strict, xa, { external: 'world-b' }).drop).toEqual({ direction: 'EGRESS', reason: 'POLICY_DENIED', node: 'node1', by: ['CiliumNetworkPolicy x/to-cidr'] });
  });

  it('traffic from the pod\'s own node passes ingress default deny; other nodes and the world do not', () => {
    const o = oracle([cnp('x', 'deny-in', { endpointSelector: podA, ingress: [{}] })]);
    expect(reach(o, { node: 'node1' }, xa).allowed).toBe(true);
    expect(reach(o, { node: 'node2' }, xa).allowed).toBe(false);
    expect(reach(o, { external: 'world-a' }, xa).drop).toEqual({ direction: 'INGRESS', reason: 'POLICY_DENIED', node: 'node1', by: ['CiliumNetworkPolicy x/deny-in'] });
    const fromRemote = oracle([cnp('x', 'rn', { endpointSelector: podA, ingress: [{ fromEntities: ['remote-node'] }] })]);
    expect(reach(fromRemote, { node: 'node2' }, xa).allowed).toBe(true);
  });

  it('a rule with toPorts and no peer allows those ports from anywhere', () => {
    const o = oracle([cnp('x', 'l4-only', { endpointSelector: podA, egress: [{ toPorts: [{ ports: [{ port: '81', protocol: 'UDP' }] }] }] })]);
    expect(reach(o, xa, { external: 'world-a' }, 81, 'UDP').allowed).toBe(true);
    expect(reach(o, xa, { pod: 'z/c' }, 81, 'UDP').allowed).toBe(true);
    expect(reach(o, xa, { pod: 'z/c' }, 80, 'UDP').allowed).toBe(false);
  });
});
