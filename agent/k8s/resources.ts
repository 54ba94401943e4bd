// The Kubernetes resources the agent watches and writes, and the shapes of the fields it reads (the
// JSON the API serves; everything else is left open). CiliumEndpoint and CiliumIdentity are Cilium's
// CRDs (cilium.io/v2), which the agent publishes as cilium-agent does.
import type { KubeObject } from '../../lib/k8s/object.js';
import type { ResourceRef } from './transport.js';

const core = (kind: string, plural: string, namespaced: boolean): ResourceRef => ({ kind, group: '', version: 'v1', plural, namespaced });
const cilium = (kind: string, plural: string, namespaced: boolean): ResourceRef => ({ kind, group: 'cilium.io', version: 'v2', plural, namespaced });

export const RESOURCES = {
  Node: core('Node', 'nodes', false),
  Namespace: core('Namespace', 'namespaces', false),
  Pod: core('Pod', 'pods', true),
  Service: core('Service', 'services', true),
  EndpointSlice: { kind: 'EndpointSlice', group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespaced: true } as ResourceRef,
  NetworkPolicy: { kind: 'NetworkPolicy', group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespaced: true } as ResourceRef,
  CiliumNetworkPolicy: cilium('CiliumNetworkPolicy', 'ciliumnetworkpolicies', true),
  CiliumEndpoint: cilium('CiliumEndpoint', 'ciliumendpoints', true),
  CiliumIdentity: cilium('CiliumIdentity', 'ciliumidentities', false),
} as const;

export type WatchedKind = keyof typeof RESOURCES;
export const WATCHED_KINDS = Object.keys(RESOURCES) as WatchedKind[];

/** The custom resources the agent needs served (cilium-agent waits for its CRDs the same way). */
export const REQUIRED_CRDS: WatchedKind[] = ['CiliumNetworkPolicy', 'CiliumEndpoint', 'CiliumIdentity'];

// ---- The fields the agent reads ----------------------------------------------------------------

export interface NodeObject extends KubeObject {
  spec?: { podCIDR?: string; podCIDRs?: string[] };
  status?: { addresses?: Array<{ type: string; address: string }>; conditions?: Array<Record<string, unknown>> };
}

export interface CiliumEndpointStatus {
  id: number;
  identity: { id: number; labels: string[] };
  networking: { addressing: Array<{ ipv4: string }>; node: string };
  nodeName?: string;
  state: string;
  'external-identifiers'?: { 'container-id': string; 'pod-name': string; 'k8s-namespace'?: string; 'k8s-pod-name'?: string };
  externalIdentifiers?: { 'container-id': string; 'pod-name': string };
}

export interface CiliumEndpointObject extends KubeObject {
  status?: CiliumEndpointStatus;
}

/** Cilium's CiliumIdentity: the number is the name; `security-labels` maps "source:key" to value. */
export interface CiliumIdentityObject extends KubeObject {
  'security-labels'?: Record<string, string>;
}

/** The underlay address of a Node (its InternalIP) and its pod CIDR, when it has both. */
export function nodeAddressing(n: NodeObject): { name: string; internalIp: string; podCidr: string } | undefined {
  const internalIp = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  const podCidr = n.spec?.podCIDR ?? n.spec?.podCIDRs?.[0];
  if (!internalIp || !podCidr) return undefined;
  return { name: n.metadata.name, internalIp, podCidr };
}
