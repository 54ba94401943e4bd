// Cilium-style policy tests, after `cilium connectivity test` (REFERENCE.md): clients and echo pods in
// namespace cilium-test, hosts outside the cluster (world-a, world-b) reached through the fabric, and
// the nodes. Every probe's verdict comes from the oracle; a blocked one must show its drop flow with the
// drop reason (POLICY_DENIED for default deny, POLICY_DENY for a deny rule) and the direction (EGRESS
// at the client's node, INGRESS at the echo's node).
import { CILIUM_ALT_PORT, CILIUM_NS, CILIUM_PORT } from '../workload.js';
import { ciliumPolicy as cnp, type PolicyCase, type ProbeSpec } from './types.js';

const ns = (pod: string) => `${CILIUM_NS}/${pod}`;
const CLIENTS = [ns('client'), ns('client2')];
const ECHOS = [ns('echo-same-node'), ns('echo-other-node')];
const OUTSIDE = ['external/world-a', 'external/world-b'];
const HOSTS = ['node/${node:0}', 'node/${node:1}'];
const kind = (k: string) => ({ matchLabels: { kind: k } });
const tcp8080 = [{ ports: [{ port: String(CILIUM_PORT), protocol: 'TCP' }] }];

/** From the clients to the echo pods, the world and the nodes, on TCP 8080. */
const FROM_CLIENTS: ProbeSpec = { targets: { from: CLIENTS, to: [...ECHOS, ...OUTSIDE, ...HOSTS], ports: [CILIUM_PORT], protocols: ['TCP'] } };
const TO_ECHOS: ProbeSpec = { targets: { from: [...CLIENTS, ns('echo-same-node'), ...OUTSIDE], to: ECHOS, ports: [CILIUM_PORT, CILIUM_ALT_PORT], protocols: ['TCP'] } };
const TO_CLIENTS: ProbeSpec = { targets: { from: [...CLIENTS, ...ECHOS], to: CLIENTS, ports: [CILIUM_PORT], protocols: ['TCP'] } };

const ALLOW_ALL = cnp(CILIUM_NS, 'allow-all', { endpointSelector: {}, ingress: [{ fromEntities: ['all'] }], egress: [{ toEntities: ['all'] }] });

function test(name: string, description: string, policies: Record<string, unknown>[], probe: ProbeSpec): PolicyCase {
  return { name: `cilium-${name}`, description, source: 'cilium', tags: ['cilium-connectivity'], steps: [{ actions: policies.length ? [{ apply: policies }] : [], probe }] };
}

export const CILIUM_CASES: PolicyCase[] = [
  test('no-policies', 'without policy every client reaches the echo pods, the world and the nodes', [], FROM_CLIENTS),
  test('client-egress', 'clients may only talk to echo pods on TCP 8080: the world and the nodes are dropped at egress', [
    cnp(CILIUM_NS, 'client-egress-to-echo', { endpointSelector: kind('client'), egress: [{ toEndpoints: [{ matchLabels: { 'io.kubernetes.pod.namespace': CILIUM_NS, kind: 'echo' } }], toPorts: tcp8080 }] }),
  ], FROM_CLIENTS),
  test('client-ingress', 'clients accept only pods labelled other=client: client2 reaches client, nothing else does', [
    cnp(CILIUM_NS, 'client-ingress-from-client2', { endpointSelector: kind('client'), ingress: [{ fromEndpoints: [{ matchLabels: { other: 'client' } }] }] }),
  ], TO_CLIENTS),
  test('echo-ingress', 'echo pods accept clients on TCP 8080 only: not 8081, not each other, not the world', [
    cnp(CILIUM_NS, 'echo-ingress-from-clients', { endpointSelector: kind('echo'), ingress: [{ fromEndpoints: [kind('client')], toPorts: tcp8080 }] }),
  ], TO_ECHOS),
  test('all-ingress-deny', 'ingress: [{}] on every pod: pod-to-pod is dropped at the destination; the world and the nodes still answer (replies are not new connections)', [
    cnp(CILIUM_NS, 'all-ingress-deny', { endpointSelector: {}, ingress: [{}] }),
  ], FROM_CLIENTS),
  test('all-egress-deny', 'egress: [{}] on every pod: everything is dropped at the source', [cnp(CILIUM_NS, 'all-egress-deny', { endpointSelector: {}, egress: [{}] })], FROM_CLIENTS),
  test('ingress-deny-overrides-allow', 'allow-all plus an ingressDeny from other=client: client2 → client is dropped with POLICY_DENY', [
    ALLOW_ALL,
    cnp(CILIUM_NS, 'client-ingress-from-client2-deny', { endpointSelector: kind('client'), ingressDeny: [{ fromEndpoints: [{ matchLabels: { other: 'client' } }] }] }),
  ], TO_CLIENTS),
  test('egress-deny-overrides-allow', 'allow-all plus an egressDeny to echo pods on 8080: dropped at the client with POLICY_DENY, 8081 still open', [
    ALLOW_ALL,
    cnp(CILIUM_NS, 'client-egress-to-echo-deny', { endpointSelector: kind('client'), egressDeny: [{ toEndpoints: [kind('echo')], toPorts: tcp8080 }] }),
  ], { targets: { from: CLIENTS, to: [...ECHOS, ...OUTSIDE], ports: [CILIUM_PORT, CILIUM_ALT_PORT], protocols: ['TCP'] } }),
  test('to-entities-world', 'toEntities world: the hosts outside the cluster only', [cnp(CILIUM_NS, 'client-egress-to-world', { endpointSelector: kind('client'), egress: [{ toEntities: ['world'] }] })], FROM_CLIENTS),
  test('to-entities-host', "toEntities host: the client's own node only", [cnp(CILIUM_NS, 'client-egress-to-host', { endpointSelector: kind('client'), egress: [{ toEntities: ['host'] }] })], FROM_CLIENTS),
  test('to-entities-remote-node', 'toEntities remote-node: the other nodes only', [cnp(CILIUM_NS, 'client-egress-to-remote-node', { endpointSelector: kind('client'), egress: [{ toEntities: ['remote-node'] }] })], FROM_CLIENTS),
  test('to-entities-cluster', 'toEntities cluster: pods and nodes, not the world', [cnp(CILIUM_NS, 'client-egress-to-cluster', { endpointSelector: kind('client'), egress: [{ toEntities: ['cluster'] }] })], FROM_CLIENTS),
  test('to-cidr-except', 'toCIDRSet with except: world-a is in, world-b is carved out', [
    cnp(CILIUM_NS, 'client-egress-to-cidr', { endpointSelector: kind('client'), egress: [{ toCIDRSet: [{ cidr: '${external:world-a}/30', except: ['${external:world-b}/32'] }] }] }),
  ], FROM_CLIENTS),
  test('from-cidr', 'echo pods accept world-a only (fromCIDR): world-b and the clients are dropped at ingress', [
    cnp(CILIUM_NS, 'echo-ingress-from-cidr', { endpointSelector: kind('echo'), ingress: [{ fromCIDR: ['${external:world-a}/32'] }] }),
  ], TO_ECHOS),
];
