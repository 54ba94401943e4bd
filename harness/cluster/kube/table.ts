// Server-side printing: `Accept: application/json;as=Table;g=meta.k8s.io;v=v1` turns a list, a get or
// each watch event into a meta.k8s.io/v1 Table, whose columns kubectl prints as they are (priority 1
// columns only with -o wide). The columns are those of the API server's printers for each kind.
import { formatAge, formatLabels, formatLabelSelector, listWithMore, podReady, podStatus } from '../printers.js';
import type { KubeObject, LabelSelector, Pod } from '../objects.js';

interface Column {
  name: string;
  type: 'string' | 'integer' | 'date';
  format?: string;
  description: string;
  priority?: number;
  cell: (o: KubeObject, age: string) => string | number;
}

const name: Column = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', cell: (o) => o.metadata.name };
const age: Column = { name: 'Age', type: 'string', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.', cell: (_, a) => a };

const any = (o: KubeObject) => o as unknown as { spec?: any; status?: any };
const containers = (o: KubeObject) => (any(o).spec?.template?.spec?.containers ?? []) as Array<{ name: string; image: string }>;
const wideWorkload: Column[] = [
  { name: 'Containers', type: 'string', priority: 1, description: 'Names of each container in the template.', cell: (o) => containers(o).map((c) => c.name).join(',') },
  { name: 'Images', type: 'string', priority: 1, description: 'Images referenced by each container in the template.', cell: (o) => containers(o).map((c) => c.image).join(',') },
  { name: 'Selector', type: 'string', priority: 1, description: 'Label selector for pods.', cell: (o) => formatLabelSelector(any(o).spec?.selector as LabelSelector) },
];
const num = (v: unknown) => (typeof v === 'number' ? v : 0);

const COLUMNS: Record<string, Column[]> = {
  Pod: [
    name,
    { name: 'Ready', type: 'string', description: 'The aggregate readiness state of this pod for accepting traffic.', cell: (o) => podReady(o as Pod) },
    { name: 'Status', type: 'string', description: 'The aggregate status of the containers in this pod.', cell: (o) => podStatus(o as Pod) },
    { name: 'Restarts', type: 'string', description: 'The number of times the containers in this pod have been restarted.', cell: (o) => String(((o as Pod).status?.containerStatuses ?? []).reduce((n, s) => n + (s.restartCount ?? 0), 0)) },
    age,
    { name: 'IP', type: 'string', priority: 1, description: 'IP address allocated to the pod.', cell: (o) => (o as Pod).status?.podIP || '<none>' },
    { name: 'Node', type: 'string', priority: 1, description: 'Name of the node the pod is assigned to.', cell: (o) => (o as Pod).spec?.nodeName || '<none>' },
    { name: 'Nominated Node', type: 'string', priority: 1, description: 'Name of the node the pod is nominated to.', cell: () => '<none>' },
    { name: 'Readiness Gates', type: 'string', priority: 1, description: 'The readiness gates of the pod.', cell: () => '<none>' },
  ],
  Deployment: [
    name,
    { name: 'Ready', type: 'string', description: 'Number of ready replicas out of the desired.', cell: (o) => `${num(any(o).status?.readyReplicas)}/${num(any(o).spec?.replicas)}` },
    { name: 'Up-to-date', type: 'integer', description: 'Total number of non-terminated pods with the desired template.', cell: (o) => num(any(o).status?.updatedReplicas) },
    { name: 'Available', type: 'integer', description: 'Total number of available pods.', cell: (o) => num(any(o).status?.availableReplicas) },
    age,
    ...wideWorkload,
  ],
  ReplicaSet: [
    name,
    { name: 'Desired', type: 'integer', description: 'Number of desired pods.', cell: (o) => num(any(o).spec?.replicas) },
    { name: 'Current', type: 'integer', description: 'Number of actually running pods.', cell: (o) => num(any(o).status?.replicas) },
    { name: 'Ready', type: 'integer', description: 'Number of ready pods.', cell: (o) => num(any(o).status?.readyReplicas) },
    age,
    ...wideWorkload,
  ],
  DaemonSet: [
    name,
    { name: 'Desired', type: 'integer', description: 'The number of nodes that should run the daemon pod.', cell: (o) => num(any(o).status?.desiredNumberScheduled) },
    { name: 'Current', type: 'integer', description: 'The number of nodes running at least one daemon pod.', cell: (o) => num(any(o).status?.currentNumberScheduled) },
    { name: 'Ready', type: 'integer', description: 'The number of nodes whose daemon pod is ready.', cell: (o) => num(any(o).status?.numberReady) },
    { name: 'Up-to-date', type: 'integer', description: 'The number of nodes running the updated daemon pod.', cell: (o) => num(any(o).status?.updatedNumberScheduled) },
    { name: 'Available', type: 'integer', description: 'The number of nodes whose daemon pod is available.', cell: (o) => num(any(o).status?.numberAvailable) },
    { name: 'Node Selector', type: 'string', description: 'The node selector of the pod template.', cell: (o) => formatLabels(any(o).spec?.template?.spec?.nodeSelector) },
    age,
    ...wideWorkload,
  ],
  Node: [
    name,
    { name: 'Status', type: 'string', description: 'The status of the node.', cell: (o) => ((any(o).status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True') ? 'Ready' : 'NotReady') },
    { name: 'Roles', type: 'string', description: 'The roles of the node.', cell: () => '<none>' },
    age,
    { name: 'Version', type: 'string', description: 'Kubelet version.', cell: (o) => any(o).status?.nodeInfo?.kubeletVersion ?? '' },
    { name: 'Internal-IP', type: 'string', priority: 1, description: 'The node\'s internal IP.', cell: (o) => (any(o).status?.addresses ?? []).find((a: any) => a.type === 'InternalIP')?.address ?? '<none>' },
    { name: 'External-IP', type: 'string', priority: 1, description: 'The node\'s external IP.', cell: () => '<none>' },
    { name: 'Pod-CIDR', type: 'string', priority: 1, description: 'The node\'s pod CIDR.', cell: (o) => any(o).spec?.podCIDR ?? '<none>' },
  ],
  Service: [
    name,
    { name: 'Type', type: 'string', description: 'The type of the service.', cell: (o) => any(o).spec?.type ?? 'ClusterIP' },
    { name: 'Cluster-IP', type: 'string', description: 'The cluster IP of the service.', cell: (o) => any(o).spec?.clusterIP || '<none>' },
    { name: 'External-IP', type: 'string', description: 'External IPs of the service.', cell: (o) => (any(o).spec?.externalIPs ?? []).join(',') || '<none>' },
    { name: 'Port(s)', type: 'string', description: 'The ports of the service.', cell: (o) => (any(o).spec?.ports ?? []).map((p: any) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',') || '<none>' },
    age,
    { name: 'Selector', type: 'string', priority: 1, description: 'The label selector of the service.', cell: (o) => formatLabels(any(o).spec?.selector) },
  ],
  EndpointSlice: [
    name,
    { name: 'AddressType', type: 'string', description: 'The type of address carried by the slice.', cell: (o) => (o as any).addressType ?? '' },
    { name: 'Ports', type: 'string', description: 'The ports of the endpoints.', cell: (o) => listWithMore(((o as any).ports ?? []).map((p: any) => (p.port !== undefined ? String(p.port) : p.name || '*'))) },
    { name: 'Endpoints', type: 'string', description: 'The addresses of the endpoints.', cell: (o) => listWithMore(((o as any).endpoints ?? []).flatMap((e: any) => e.addresses ?? [])) },
    age,
  ],
  Namespace: [name, { name: 'Status', type: 'string', description: 'The status of the namespace.', cell: (o) => any(o).status?.phase ?? 'Active' }, age],
  NetworkPolicy: [name, { name: 'Pod-Selector', type: 'string', description: 'The pods the policy selects.', cell: (o) => formatLabelSelector(any(o).spec?.podSelector) }, age],
  Event: [
    { name: 'Last Seen', type: 'string', description: 'When the event was last seen.', cell: (o) => formatAge((o as any).lastTimestamp) },
    { name: 'Type', type: 'string', description: 'Event type.', cell: (o) => String((o as any).type ?? '') },
    { name: 'Reason', type: 'string', description: 'Event reason.', cell: (o) => String((o as any).reason ?? '') },
    { name: 'Object', type: 'string', description: 'The object the event is about.', cell: (o) => `${String((o as any).involvedObject?.kind ?? '').toLowerCase()}/${(o as any).involvedObject?.name ?? ''}` },
    { name: 'Message', type: 'string', description: 'Event message.', cell: (o) => String((o as any).message ?? '') },
  ],
  CiliumIdentity: [name, { name: 'Namespace', type: 'string', description: 'The namespace of the identity.', cell: (o) => (o as any)['security-labels']?.['k8s:io.kubernetes.pod.namespace'] ?? '' }, age],
};

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** True when the Accept header asks for a Table (kubectl get does, with a JSON fallback). */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => {
    const p = part.split(';').map((s) => s.trim());
    return p.includes('as=Table') && p.some((x) => x === 'g=meta.k8s.io') && !p.includes('v=v1alpha1');
  });
}

function rowObject(o: KubeObject, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return o;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

export function toTable(kind: string, objects: KubeObject[], opts: { resourceVersion?: string; include?: IncludeObject; noHeaders?: boolean; now?: number } = {}): Record<string, unknown> {
  const cols = COLUMNS[kind] ?? [name, age];
  const now = opts.now ?? Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: opts.resourceVersion ?? '' },
    columnDefinitions: opts.noHeaders ? null : cols.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description, priority: c.priority ?? 0 })),
    rows: objects.map((o) => ({ cells: cols.map((c) => c.cell(o, formatAge(o.metadata.creationTimestamp, now))), object: rowObject(o, opts.include ?? 'Metadata') })),
  };
}
