// A policy test case, whether built in (upstream-like, CNI bugs, generated, Cilium-style) or written by
// a user in YAML: a sequence of steps, each a few actions on the cluster (apply or delete policies,
// change a pod's or a namespace's labels) followed by a probe whose expectation the oracle computes.
// Cases are data: the same case runs on any CNI and always yields the same probes in the same order.

export type L4 = 'TCP' | 'UDP';
export type CaseSource = 'upstream' | 'cni-bug' | 'generated' | 'cilium' | 'user';

/** A peer a probe names: "ns/pod", "node/NAME" (a node's underlay address), or "external/NAME" (outside the cluster). */
export type PeerName = string;

export type CaseAction =
  /** Create or update objects (NetworkPolicy, CiliumNetworkPolicy; also Namespaces/Pods of the workload). */
  | { apply: unknown[] }
  | { delete: Array<{ kind: 'NetworkPolicy' | 'CiliumNetworkPolicy'; namespace: string; name: string }> }
  | { setPodLabels: { pod: string; labels: Record<string, string> } }
  | { setNamespaceLabels: { namespace: string; labels: Record<string, string> } };

export type ProbeSpec =
  /** Every pair of the x/y/z pods (81, the diagonal included) on these ports and protocols (default: 80, 81 × TCP, UDP). */
  | { matrix: { ports?: number[]; protocols?: L4[] } }
  /** Every pair of these sources and destinations. */
  | { targets: { from: PeerName[]; to: PeerName[]; ports: number[]; protocols: L4[] } };

export interface CaseStep {
  description?: string;
  actions: CaseAction[];
  probe: ProbeSpec;
}

export interface PolicyCase {
  /** Unique in a run; a DNS-1123-like name ("default-deny-ingress"). */
  name: string;
  description?: string;
  source: CaseSource;
  /** Features the case exercises (derived from its policies and actions, plus any given by hand). */
  tags: string[];
  steps: CaseStep[];
  /** Part of the case this machine cannot probe (e.g. "SCTP/80: Node.js has no SCTP sockets"). */
  unsupported?: string[];
}

export const FULL_MATRIX: ProbeSpec = { matrix: {} };

export function isMatrix(p: ProbeSpec): p is { matrix: { ports?: number[]; protocols?: L4[] } } {
  return 'matrix' in p;
}

/** A policy object as cases write it (validated with the manifests' own rules when loaded). */
export function networkPolicy(namespace: string, name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}

export function ciliumPolicy(namespace: string, name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace }, spec };
}

/** A one-step case: apply these policies, probe the full matrix. */
export function simpleCase(source: CaseSource, name: string, description: string, policies: Record<string, unknown>[], tags: string[] = []): PolicyCase {
  return { name, description, source, tags, steps: [{ actions: [{ apply: policies }], probe: FULL_MATRIX }] };
}
