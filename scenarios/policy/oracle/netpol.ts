// Kubernetes NetworkPolicy (networking.k8s.io/v1) semantics, as the API documentation and the upstream
// netpol e2e suite define them:
// - a policy isolates the pods its podSelector selects in its own namespace, for each of its
//   policyTypes (default: Ingress, plus Egress when it has egress rules);
// - an isolated pod accepts a connection only if some rule of some isolating policy matches both the
//   peer and the port (policies are additive; there is no deny);
// - `from`/`to` absent or empty: every peer; a peer with podSelector only: pods of the policy's
//   namespace; namespaceSelector only: every pod of the selected namespaces (`{}`: all); both: pods
//   matching both; ipBlock: any address in cidr and not in except — pod addresses included, as the
//   upstream e2e cases expect;
// - `ports` absent or empty: every port and protocol; a port without protocol is TCP; without port,
//   every port of that protocol; endPort makes a range; a named port resolves on the destination pod
//   (the policy's own pod for ingress, the peer for egress), on a container port of that name AND that
//   protocol.
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort } from '../../../harness/cluster/objects.js';
import { inBlock, selectsLabels } from './labels.js';
import type { Direction, L4Protocol, OraclePod, Peer } from './model.js';

export interface PolicyMatch {
  isolatedBy: string[];
  allowedBy: string[];
  deniedBy: string[];
}

export interface DirectionQuery {
  /** The pod whose policy is consulted. */
  endpoint: OraclePod;
  direction: Direction;
  /** The other side of the connection. */
  peer: Peer;
  /** The side that receives the connection (named ports resolve here). */
  destination: Peer;
  port: number;
  protocol: L4Protocol;
}

export const policyName = (kind: string, p: { metadata: { namespace?: string; name: string } }) => `${kind} ${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;

function policyTypes(p: NetworkPolicy): Array<'Ingress' | 'Egress'> {
  return p.spec.policyTypes ?? (p.spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
}

/** The number a named port has on a pod, for this protocol; undefined when the pod has no such port. */
export function namedPort(pod: OraclePod, name: string, protocol: L4Protocol): number | undefined {
  return pod.ports.find((p) => p.name === name && p.protocol === protocol)?.port;
}

function portMatches(rulePort: NetworkPolicyPort, q: DirectionQuery): boolean {
  const protocol = rulePort.protocol ?? 'TCP';
  if (protocol !== q.protocol) return false;
  if (rulePort.port === undefined) return true;
  if (typeof rulePort.port === 'string') {
    if (q.destination.kind !== 'pod') return false; // only a pod has named ports
    return namedPort(q.destination.pod, rulePort.port, protocol) === q.port;
  }
  const end = rulePort.endPort ?? rulePort.port;
  return q.port >= rulePort.port && q.port <= end;
}

function peerMatches(p: NetworkPolicyPeer, policyNamespace: string, peer: Peer): boolean {
  if (p.ipBlock) return inBlock(peer.ip, p.ipBlock.cidr, p.ipBlock.except ?? []);
  if (peer.kind !== 'pod') return false; // selectors select pods only
  const nsOk = p.namespaceSelector ? selectsLabels(p.namespaceSelector, peer.namespace.labels) : peer.pod.namespace === policyNamespace;
  const podOk = p.podSelector ? selectsLabels(p.podSelector, peer.pod.labels) : true;
  return nsOk && podOk;
}

/** Which NetworkPolicies isolate the endpoint in this direction and which of them allow the connection. */
export function evaluateNetworkPolicies(policies: readonly NetworkPolicy[], q: DirectionQuery): PolicyMatch {
  const out: PolicyMatch = { isolatedBy: [], allowedBy: [], deniedBy: [] };
  const type = q.direction === 'ingress' ? 'Ingress' : 'Egress';
  for (const p of policies) {
    const ns = p.metadata.namespace ?? 'default';
    if (ns !== q.endpoint.namespace) continue;
    if (!selectsLabels(p.spec.podSelector ?? {}, q.endpoint.labels)) continue;
    if (!policyTypes(p).includes(type)) continue;
    const name = policyName('NetworkPolicy', p);
    out.isolatedBy.push(name);
    const rules = q.direction === 'ingress' ? (p.spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports })) : (p.spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }));
    const allows = rules.some(
      (r) => (!r.peers?.length || r.peers.some((peer) => peerMatches(peer, ns, q.peer))) && (!r.ports?.length || r.ports.some((port) => portMatches(port, q))),
    );
    if (allows) out.allowedBy.push(name);
  }
  return out;
}
