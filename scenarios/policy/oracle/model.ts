// What the reference oracle reasons about: a snapshot of the cluster (namespaces with labels, pods with
// labels, IPs, nodes and container ports, the nodes' addresses, hosts outside the cluster) plus the
// policies, and a question — may this source reach this destination on this port and protocol?
// Pure data; nothing here touches a datapath or the agent's policy engine.
import type { CiliumNetworkPolicy, NetworkPolicy } from '../../../harness/cluster/objects.js';

export type L4Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface OracleContainerPort {
  name?: string;
  port: number;
  protocol: L4Protocol;
}

export interface OraclePod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ip: string;
  node: string;
  ports: OracleContainerPort[];
}

export interface OracleNamespace {
  name: string;
  labels: Record<string, string>;
}

/** A node: every address it owns (underlay eth0, the router address on cilium_host). */
export interface OracleNode {
  name: string;
  ips: string[];
}

/** A host outside the cluster (reached through the fabric): Cilium's "world". */
export interface OracleExternal {
  name: string;
  ip: string;
}

export interface OracleCluster {
  namespaces: OracleNamespace[];
  pods: OraclePod[];
  nodes: OracleNode[];
  externals: OracleExternal[];
  networkPolicies: NetworkPolicy[];
  ciliumPolicies: CiliumNetworkPolicy[];
}

/** One end of a connection. */
export type PeerRef = { pod: string /* "ns/name" */ } | { node: string } | { external: string };

export interface TrafficQuestion {
  from: PeerRef;
  to: PeerRef;
  port: number;
  protocol: L4Protocol;
}

/** A resolved peer: what policy can see of it. */
export type Peer =
  | { kind: 'pod'; key: string; ip: string; node: string; pod: OraclePod; namespace: OracleNamespace }
  | { kind: 'node'; key: string; ip: string; node: string }
  | { kind: 'external'; key: string; ip: string };

export type Direction = 'ingress' | 'egress';

/** How one direction of one connection was decided, and by what. */
export interface DirectionVerdict {
  direction: Direction;
  /** The endpoint whose policy was consulted ("ns/pod"), or undefined when the side is not a pod. */
  endpoint?: string;
  /** The pod is isolated (default deny) in this direction. */
  enforced: boolean;
  allowed: boolean;
  /** True when an explicit deny rule (CiliumNetworkPolicy ingressDeny/egressDeny) matched. */
  explicitDeny: boolean;
  /** Policies ("NetworkPolicy ns/name", "CiliumNetworkPolicy ns/name") that isolate the pod in this direction. */
  isolatedBy: string[];
  /** Policies with a rule that allows this connection. */
  allowedBy: string[];
  /** Policies with a deny rule that matches this connection. */
  deniedBy: string[];
  /** One line saying why. */
  reason: string;
}

/** Hubble's drop reasons for policy: 133 default deny, 181 an explicit deny rule. */
export type PolicyDropReason = 'POLICY_DENIED' | 'POLICY_DENY';

export interface Verdict {
  allowed: boolean;
  egress: DirectionVerdict;
  ingress: DirectionVerdict;
  /** For a blocked connection: where the datapath must drop it and how it must report it. */
  drop?: { direction: 'EGRESS' | 'INGRESS'; reason: PolicyDropReason; node?: string; by: string[] };
  reason: string;
}
