// CiliumNetworkPolicy semantics for the subset cnilab enforces, as Cilium documents them:
// - a rule applies to the endpoints its endpointSelector selects in the policy's namespace;
// - a rule with a non-empty ingress or ingressDeny list puts its endpoints into default deny at ingress
//   (egress likewise); `ingress: [{}]` therefore denies everything, since an empty rule allows nothing;
// - a deny rule that matches wins over every allow, of any policy kind;
// - L3 peers: fromEndpoints (empty selector = every endpoint of the policy's namespace; a selector that
//   names no namespace is limited to the policy's namespace; `reserved:` labels select the reserved
//   identities), fromEntities (world = outside the cluster, host = the endpoint's own node,
//   remote-node = the other nodes, cluster = pods and nodes, all), fromCIDR / fromCIDRSet with except
//   (outside the cluster only: CIDR rules never select pods or nodes). A rule with toPorts and no L3
//   peer allows those ports from anywhere;
// - toPorts: a port without protocol is ANY (TCP, UDP and SCTP, unlike Kubernetes); port 0 is every
//   port; endPort makes a range; a named port resolves on the destination endpoint with the protocol of
//   its container port.
import type { CiliumNetworkPolicy, LabelSelector } from '../../../harness/cluster/objects.js';
import type { CiliumPeerRule, CiliumPortProtocol, CiliumRuleSpec } from '../../../harness/cluster/cilium-policy.js';
import { inBlock, selectorKeys, selectsCiliumLabels, type SourcedLabel } from './labels.js';
import type { OracleNamespace, OraclePod, Peer } from './model.js';
import { namedPort, policyName, type DirectionQuery, type PolicyMatch } from './netpol.js';

const NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
const NAMESPACE_LABELS_PREFIX = 'io.cilium.k8s.namespace.labels.';

/** The labels Cilium gives a pod's endpoint: its own, its namespace's name, and its namespace's labels. */
export function endpointLabels(pod: OraclePod, ns: OracleNamespace | undefined): SourcedLabel[] {
  return [
    ...Object.entries(pod.labels).map(([key, value]) => ({ source: 'k8s', key, value })),
    { source: 'k8s', key: NAMESPACE_LABEL, value: pod.namespace },
    ...Object.entries(ns?.labels ?? {}).map(([k, value]) => ({ source: 'k8s', key: `${NAMESPACE_LABELS_PREFIX}${k}`, value })),
  ];
}

type Entity = 'world' | 'host' | 'remote-node';

/** What a non-pod peer is, seen from an endpoint on `endpointNode`. */
function entityOf(peer: Peer, endpointNode: string): Entity | undefined {
  if (peer.kind === 'external') return 'world';
  if (peer.kind === 'node') return peer.node === endpointNode ? 'host' : 'remote-node';
  return undefined;
}

function peerLabels(peer: Peer, endpointNode: string): SourcedLabel[] {
  if (peer.kind === 'pod') return endpointLabels(peer.pod, peer.namespace);
  return [{ source: 'reserved', key: entityOf(peer, endpointNode)!, value: '' }];
}

function endpointSelectorMatches(sel: LabelSelector, policyNs: string, peer: Peer, endpointNode: string): boolean {
  const keys = selectorKeys(sel);
  if (keys.some((k) => k.source === 'reserved')) return peer.kind !== 'pod' && selectsCiliumLabels(sel, peerLabels(peer, endpointNode));
  if (peer.kind !== 'pod') return false;
  // Naming the namespace, or selecting by namespace labels, lifts the implicit "policy namespace only".
  const namesNamespace = keys.some((k) => (k.key === NAMESPACE_LABEL || k.key.startsWith(NAMESPACE_LABELS_PREFIX)) && (k.source === 'k8s' || k.source === 'any'));
  if (!namesNamespace && peer.pod.namespace !== policyNs) return false;
  return selectsCiliumLabels(sel, peerLabels(peer, endpointNode));
}

function entityMatches(entity: string, peer: Peer, endpointNode: string): boolean {
  if (entity === 'all') return true;
  if (entity === 'cluster') return peer.kind !== 'external';
  return entityOf(peer, endpointNode) === entity;
}

function l3Matches(rule: CiliumPeerRule, q: DirectionQuery, policyNs: string): boolean | 'wildcard' | 'nothing' {
  const ing = q.direction === 'ingress';
  const endpoints = ing ? rule.fromEndpoints : rule.toEndpoints;
  const entities = ing ? rule.fromEntities : rule.toEntities;
  const cidrs = ing ? rule.fromCIDR : rule.toCIDR;
  const cidrSets = ing ? rule.fromCIDRSet : rule.toCIDRSet;
  const node = q.endpoint.node;
  if (!endpoints?.length && !entities?.length && !cidrs?.length && !cidrSets?.length) return rule.toPorts?.length ? 'wildcard' : 'nothing';
  const outside = q.peer.kind === 'external';
  return (
    (endpoints ?? []).some((s) => endpointSelectorMatches(s, policyNs, q.peer, node)) ||
    (entities ?? []).some((e) => entityMatches(e, q.peer, node)) ||
    (outside && (cidrs ?? []).some((c) => inBlock(q.peer.ip, c))) ||
    (outside && (cidrSets ?? []).some((c) => inBlock(q.peer.ip, c.cidr, c.except ?? [])))
  );
}

function portOf(p: CiliumPortProtocol): number | string {
  return typeof p.port === 'string' && /^\d+$/.test(p.port) ? Number(p.port) : p.port;
}

function portMatches(p: CiliumPortProtocol, q: DirectionQuery): boolean {
  const protocol = p.protocol ?? 'ANY';
  if (protocol !== 'ANY' && protocol !== q.protocol) return false;
  const port = portOf(p);
  if (typeof port === 'string') {
    if (q.destination.kind !== 'pod') return false;
    return namedPort(q.destination.pod, port, q.protocol) === q.port;
  }
  if (port === 0) return true;
  return q.port >= port && q.port <= (p.endPort ?? port);
}

function ruleMatches(rule: CiliumPeerRule, q: DirectionQuery, policyNs: string): boolean {
  const l3 = l3Matches(rule, q, policyNs);
  if (l3 === false || l3 === 'nothing') return false;
  if (!rule.toPorts?.length) return true;
  return rule.toPorts.some((pr) => (pr.ports ?? []).some((p) => portMatches(p, q)));
}

export function ciliumRules(p: CiliumNetworkPolicy): CiliumRuleSpec[] {
  return [...(p.spec ? [p.spec] : []), ...(p.specs ?? [])] as unknown as CiliumRuleSpec[];
}

/** Which CiliumNetworkPolicies enforce the direction on the endpoint, which allow and which deny the connection. */
export function evaluateCiliumPolicies(policies: readonly CiliumNetworkPolicy[], namespaces: ReadonlyMap<string, OracleNamespace>, q: DirectionQuery): PolicyMatch {
  const out: PolicyMatch = { isolatedBy: [], allowedBy: [], deniedBy: [] };
  const labels = endpointLabels(q.endpoint, namespaces.get(q.endpoint.namespace));
  for (const p of policies) {
    const ns = p.metadata.namespace ?? 'default';
    if (ns !== q.endpoint.namespace) continue;
    const name = policyName('CiliumNetworkPolicy', p);
    for (const rule of ciliumRules(p)) {
      if (!selectsCiliumLabels(rule.endpointSelector ?? {}, labels)) continue;
      const allow = (q.direction === 'ingress' ? rule.ingress : rule.egress) ?? [];
      const deny = (q.direction === 'ingress' ? rule.ingressDeny : rule.egressDeny) ?? [];
      if (allow.length || deny.length) out.isolatedBy.push(name);
      if (allow.some((r) => ruleMatches(r, q, ns))) out.allowedBy.push(name);
      if (deny.some((r) => ruleMatches(r, q, ns))) out.deniedBy.push(name);
    }
  }
  const uniq = (a: string[]) => [...new Set(a)];
  return { isolatedBy: uniq(out.isolatedBy), allowedBy: uniq(out.allowedBy), deniedBy: uniq(out.deniedBy) };
}
