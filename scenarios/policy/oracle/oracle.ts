// The reference oracle: the expected verdict of any (source, destination, port, protocol) in a cluster
// snapshot, with the reason. Egress is decided for the source pod, ingress for the destination pod;
// a connection passes only when both allow it. A blocked connection says where the datapath must drop
// it: at the source's node on egress when egress denies (the packet never reaches the destination),
// else at the destination's node on ingress, with POLICY_DENY when an explicit deny rule matched and
// POLICY_DENIED for default deny. Nodes and hosts outside the cluster enforce no policy of their own.
import { evaluateCiliumPolicies } from './cilium.js';
import { evaluateNetworkPolicies, type DirectionQuery, type PolicyMatch } from './netpol.js';
import type { Direction, DirectionVerdict, L4Protocol, OracleCluster, OracleNamespace, Peer, PeerRef, TrafficQuestion, Verdict } from './model.js';

export class Oracle {
  private readonly namespaces: Map<string, OracleNamespace>;

  constructor(readonly cluster: OracleCluster) {
    this.namespaces = new Map(cluster.namespaces.map((n) => [n.name, n]));
  }

  /** Resolve a reference to what policy sees of it; throws on a reference to nothing. */
  peer(ref: PeerRef): Peer {
    if ('pod' in ref) {
      const pod = this.cluster.pods.find((p) => `${p.namespace}/${p.name}` === ref.pod);
      if (!pod) throw new Error(`oracle: no pod ${ref.pod}`);
      const namespace = this.namespaces.get(pod.namespace) ?? { name: pod.namespace, labels: { 'kubernetes.io/metadata.name': pod.namespace } };
      return { kind: 'pod', key: ref.pod, ip: pod.ip, node: pod.node, pod, namespace };
    }
    if ('node' in ref) {
      const node = this.cluster.nodes.find((n) => n.name === ref.node);
      if (!node || !node.ips.length) throw new Error(`oracle: no node ${ref.node}`);
      return { kind: 'node', key: `node/${ref.node}`, ip: node.ips[0]!, node: ref.node };
    }
    const ext = this.cluster.externals.find((e) => e.name === ref.external);
    if (!ext) throw new Error(`oracle: no external host ${ref.external}`);
    return { kind: 'external', key: `external/${ref.external}`, ip: ext.ip };
  }

  verdict(q: TrafficQuestion): Verdict {
    const from = this.peer(q.from);
    const to = this.peer(q.to);
    if (from.kind === 'pod' && to.kind === 'pod' && from.key === to.key) {
      const self = (direction: Direction): DirectionVerdict => ({ direction, endpoint: from.key, enforced: false, allowed: true, explicitDeny: false, isolatedBy: [], allowedBy: [], deniedBy: [], reason: 'a pod reaching its own address never leaves its network namespace' });
      return { allowed: true, egress: self('egress'), ingress: self('ingress'), reason: 'a pod reaching its own address never leaves its network namespace' };
    }
    const egress = from.kind === 'pod' ? this.decide('egress', from, to, to, q.port, q.protocol) : notAPod('egress', from);
    const ingress = to.kind === 'pod' ? this.decide('ingress', to, from, to, q.port, q.protocol) : notAPod('ingress', to);
    const allowed = egress.allowed && ingress.allowed;
    const verdict: Verdict = { allowed, egress, ingress, reason: allowed ? `allowed: ${egress.reason}; ${ingress.reason}` : (egress.allowed ? ingress : egress).reason };
    if (!egress.allowed) {
      verdict.drop = { direction: 'EGRESS', reason: egress.explicitDeny ? 'POLICY_DENY' : 'POLICY_DENIED', node: from.kind === 'pod' ? from.node : undefined, by: egress.explicitDeny ? egress.deniedBy : egress.isolatedBy };
    } else if (!ingress.allowed) {
      verdict.drop = { direction: 'INGRESS', reason: ingress.explicitDeny ? 'POLICY_DENY' : 'POLICY_DENIED', node: to.kind === 'pod' ? to.node : undefined, by: ingress.explicitDeny ? ingress.deniedBy : ingress.isolatedBy };
    }
    return verdict;
  }

  /** Shorthand for the matrix: may pod `from` reach pod `to` on port/protocol? */
  allows(from: string, to: string, port: number, protocol: L4Protocol): boolean {
    return this.verdict({ from: { pod: from }, to: { pod: to }, port, protocol }).allowed;
  }

  private decide(direction: Direction, endpoint: Extract<Peer, { kind: 'pod' }>, peer: Peer, destination: Peer, port: number, protocol: L4Protocol): DirectionVerdict {
    const q: DirectionQuery = { endpoint: endpoint.pod, direction, peer, destination, port, protocol };
    const k8s = evaluateNetworkPolicies(this.cluster.networkPolicies, q);
    const cilium = evaluateCiliumPolicies(this.cluster.ciliumPolicies, this.namespaces, q);
    const m: PolicyMatch = { isolatedBy: [...k8s.isolatedBy, ...cilium.isolatedBy], allowedBy: [...k8s.allowedBy, ...cilium.allowedBy], deniedBy: cilium.deniedBy };
    const what = `${peer.key} ${protocol}/${port}`;
    const base = { direction, endpoint: endpoint.key, enforced: m.isolatedBy.length > 0, isolatedBy: m.isolatedBy, allowedBy: m.allowedBy, deniedBy: m.deniedBy };
    if (m.deniedBy.length) {
      return { ...base, allowed: false, explicitDeny: true, reason: `${direction} of ${endpoint.key} denied explicitly for ${what} by ${m.deniedBy.join(', ')}` };
    }
    // The node's own traffic to its local pods passes (kubelet probes must work under default deny).
    if (direction === 'ingress' && peer.kind === 'node' && peer.node === endpoint.node) {
      return { ...base, allowed: true, explicitDeny: false, reason: `ingress of ${endpoint.key} from its own node is always allowed` };
    }
    if (!base.enforced) return { ...base, allowed: true, explicitDeny: false, reason: `${direction} of ${endpoint.key} not isolated` };
    if (m.allowedBy.length) return { ...base, allowed: true, explicitDeny: false, reason: `${direction} of ${endpoint.key} allowed for ${what} by ${m.allowedBy.join(', ')}` };
    return { ...base, allowed: false, explicitDeny: false, reason: `${direction} of ${endpoint.key} isolated by ${m.isolatedBy.join(', ')}; no rule allows ${what}` };
  }
}

function notAPod(direction: Direction, p: Peer): DirectionVerdict {
  return { direction, enforced: false, allowed: true, explicitDeny: false, isolatedBy: [], allowedBy: [], deniedBy: [], reason: `${p.key} is not a pod: no ${direction} policy` };
}
