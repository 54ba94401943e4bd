// The resource types the embedded Kubernetes API serves: one entry per kind, with what discovery
// publishes about it (group, version, plural, short names, verbs, subresources) and how the API
// treats it (namespaced, who may create it). Everything else in kube/ is driven by this table.
import { createHash } from 'node:crypto';

export interface ResourceType {
  group: string; // '' for the core group
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  /** Subresources served: status (PUT/PATCH of .status only), scale (autoscaling/v1 Scale), exec, log. */
  subresources?: Array<'status' | 'scale' | 'exec' | 'log'>;
  /** Read-only for API clients (written by cnilab's own components, or derived from the cluster spec). */
  readOnly?: boolean;
  /** With readOnly: clients may still update and patch (not create or delete), as kubelet and the
   *  node agents annotate and set the status of the Nodes the cluster spec defines. */
  updatable?: boolean;
  /** A custom resource: served as a CRD would be (and listed under customresourcedefinitions). */
  crd?: boolean;
  /** A kind kept only so clients that list it get an empty, valid answer (events for describe). */
  listOnly?: boolean;
}

/** A UUID-shaped id that is the same for the same name (CRDs are not stored, so their uid is derived). */
function stableUid(name: string): string {
  const h = createHash('sha1').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const READ_VERBS = ['get', 'list', 'watch'];

export const RESOURCES: readonly ResourceType[] = [
  { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', singular: 'namespace', namespaced: false, shortNames: ['ns'], subresources: ['status'] },
  { group: '', version: 'v1', kind: 'Node', plural: 'nodes', singular: 'node', namespaced: false, shortNames: ['no'], subresources: ['status'], readOnly: true, updatable: true },
  { group: '', version: 'v1', kind: 'Pod', plural: 'pods', singular: 'pod', namespaced: true, shortNames: ['po'], categories: ['all'], subresources: ['status', 'exec', 'log'] },
  { group: '', version: 'v1', kind: 'Service', plural: 'services', singular: 'service', namespaced: true, shortNames: ['svc'], categories: ['all'], subresources: ['status'] },
  { group: '', version: 'v1', kind: 'Event', plural: 'events', singular: 'event', namespaced: true, shortNames: ['ev'], listOnly: true },
  { group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', singular: 'deployment', namespaced: true, shortNames: ['deploy'], categories: ['all'], subresources: ['status', 'scale'] },
  { group: 'apps', version: 'v1', kind: 'ReplicaSet', plural: 'replicasets', singular: 'replicaset', namespaced: true, shortNames: ['rs'], categories: ['all'], subresources: ['status', 'scale'] },
  { group: 'apps', version: 'v1', kind: 'DaemonSet', plural: 'daemonsets', singular: 'daemonset', namespaced: true, shortNames: ['ds'], categories: ['all'], subresources: ['status'] },
  // Written by the EndpointSlice controller for Services with a selector; users write their own for
  // Services without one, as in Kubernetes.
  { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', singular: 'endpointslice', namespaced: true },
  { group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy', plural: 'networkpolicies', singular: 'networkpolicy', namespaced: true, shortNames: ['netpol'] },
  { group: 'cilium.io', version: 'v2', kind: 'CiliumNetworkPolicy', plural: 'ciliumnetworkpolicies', singular: 'ciliumnetworkpolicy', namespaced: true, shortNames: ['cnp', 'ciliumnp'], categories: ['cilium', 'ciliumpolicy'], subresources: ['status'], crd: true },
  { group: 'cilium.io', version: 'v2', kind: 'CiliumEndpoint', plural: 'ciliumendpoints', singular: 'ciliumendpoint', namespaced: true, shortNames: ['cep', 'ciliumep'], categories: ['cilium'], crd: true },
  { group: 'cilium.io', version: 'v2', kind: 'CiliumIdentity', plural: 'ciliumidentities', singular: 'ciliumidentity', namespaced: false, shortNames: ['ciliumid'], categories: ['cilium'], crd: true },
  { group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition', plural: 'customresourcedefinitions', singular: 'customresourcedefinition', namespaced: false, shortNames: ['crd', 'crds'], readOnly: true },
];

export const groupVersion = (r: { group: string; version: string }) => (r.group ? `${r.group}/${r.version}` : r.version);

export function verbsOf(r: ResourceType): string[] {
  if (r.readOnly && r.updatable) return [...READ_VERBS, 'patch', 'update'];
  if (r.listOnly || r.readOnly) return READ_VERBS;
  return ALL_VERBS;
}

/** The resource type of a URL (group, version, plural), or undefined. */
export function findResource(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

export function resourceForKind(kind: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.kind === kind);
}

/** Group → versions, in discovery order (the core group is served under /api, the rest under /apis). */
export function apiGroups(): Array<{ name: string; versions: string[] }> {
  const out: Array<{ name: string; versions: string[] }> = [];
  for (const r of RESOURCES) {
    if (!r.group) continue;
    const g = out.find((x) => x.name === r.group);
    if (!g) out.push({ name: r.group, versions: [r.version] });
    else if (!g.versions.includes(r.version)) g.versions.push(r.version);
  }
  return out;
}

/** The CustomResourceDefinition a real cluster would hold for one of our custom resources. */
export function crdFor(r: ResourceType, created: string): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${r.plural}.${r.group}`, uid: stableUid(`${r.plural}.${r.group}`), resourceVersion: '1', generation: 1, creationTimestamp: created },
    spec: {
      group: r.group,
      names: { kind: r.kind, listKind: `${r.kind}List`, plural: r.plural, singular: r.singular, shortNames: r.shortNames, categories: r.categories },
      scope: r.namespaced ? 'Namespaced' : 'Cluster',
      versions: [
        {
          name: r.version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          subresources: r.subresources?.includes('status') ? { status: {} } : undefined,
        },
      ],
    },
    status: {
      acceptedNames: { kind: r.kind, plural: r.plural, singular: r.singular, shortNames: r.shortNames },
      storedVersions: [r.version],
      conditions: [
        { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' },
        { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found' },
      ],
    },
  };
}
