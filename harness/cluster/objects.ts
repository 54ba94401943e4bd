// The object model of the embedded control plane: the Kubernetes kinds users may apply, their
// validation (every problem names the file, the document, the object and the field path), the
// defaults the API server would apply, and the selector semantics the scheduler, the agents and the
// policy reference model all share. Only what cnilab uses is validated; other Kubernetes fields pass.
import { parseAllDocuments, type YAMLError } from 'yaml';
import { z } from 'zod';
import { InvalidInputError, InvalidInputList } from '../errors.js';
import { parseIpv4 } from './cidr.js';
import type { EndpointSlice } from '../../lib/services.js';
import {
  type Check,
  bool,
  dnsLabel,
  intIn,
  ipBlock,
  isMap,
  labelKeyProblem,
  labelMap,
  nonEmpty,
  oneOf,
  opt,
  portName,
  portOrName,
  rule,
  selector,
  show,
  str,
} from './schema-parts.js';
import { ciliumRuleSchema } from './cilium-policy.js';

export { labelKeyProblem, labelValueProblem } from './schema-parts.js';
import { checkBatchSize, checkTextSize, limitProblems } from './limits.js';
import type { LabelSelector, Protocol, SelectorOperator } from '../../lib/k8s/selectors.js';
import { isWorkloadKind, validateWorkload, WORKLOAD_KINDS } from './workloads.js';

export const SUPPORTED_KINDS = ['Namespace', 'Pod', 'Service', 'EndpointSlice', 'NetworkPolicy', 'CiliumNetworkPolicy'] as const;
export type SupportedKind = (typeof SUPPORTED_KINDS)[number];

export const API_VERSIONS: Readonly<Record<SupportedKind, string>> = {
  Namespace: 'v1',
  Pod: 'v1',
  Service: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  CiliumNetworkPolicy: 'cilium.io/v2',
};

/** Cluster-scoped kinds, including those only cnilab's own components write (Node, CiliumIdentity). */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set(['Namespace', 'Node', 'CiliumIdentity']);
export const isNamespaced = (kind: string): boolean => !CLUSTER_SCOPED_KINDS.has(kind);

/** What `cnilab get KIND` accepts, as kubectl does (looked up lower-cased). A null-prototype object,
 *  so that looking up a word like "constructor" finds nothing. */
export const kindAliases: Readonly<Record<string, SupportedKind>> = Object.assign(Object.create(null) as Record<string, SupportedKind>, {
  pods: 'Pod', pod: 'Pod', po: 'Pod',
  services: 'Service', service: 'Service', svc: 'Service',
  endpointslices: 'EndpointSlice', endpointslice: 'EndpointSlice', 'endpointslices.discovery.k8s.io': 'EndpointSlice',
  networkpolicies: 'NetworkPolicy', networkpolicy: 'NetworkPolicy', netpol: 'NetworkPolicy',
  'networkpolicies.networking.k8s.io': 'NetworkPolicy',
  ciliumnetworkpolicies: 'CiliumNetworkPolicy', ciliumnetworkpolicy: 'CiliumNetworkPolicy', cnp: 'CiliumNetworkPolicy',
  'ciliumnetworkpolicies.cilium.io': 'CiliumNetworkPolicy',
  namespaces: 'Namespace', namespace: 'Namespace', ns: 'Namespace',
});
export function resolveKind(name: string): SupportedKind | undefined {
  return Object.hasOwn(kindAliases, name.toLowerCase()) ? kindAliases[name.toLowerCase()] : undefined;
}

// ---- Types -------------------------------------------------------------------------------------

export type { ObjectMeta, KubeObject } from '../../lib/k8s/object.js';
import type { KubeObject } from '../../lib/k8s/object.js';
export type { LabelSelector, LabelSelectorRequirement, Protocol, SelectorOperator } from '../../lib/k8s/selectors.js';
export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

export interface ContainerPort { name?: string; containerPort: number; protocol?: Protocol; [k: string]: unknown }
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: ContainerPort[];
  env?: { name: string; value?: string }[];
  [k: string]: unknown;
}
export interface ContainerStatus {
  name: string;
  ready: boolean;
  restartCount?: number;
  state?: { running?: { startedAt?: string }; waiting?: { reason?: string }; terminated?: { exitCode?: number; signal?: number; reason?: string } };
}
export interface PodSpec { containers: Container[]; nodeName?: string; hostNetwork?: boolean; restartPolicy?: 'Always' | 'OnFailure' | 'Never'; [k: string]: unknown }
export interface PodStatus {
  phase?: string;
  reason?: string;
  message?: string;
  podIP?: string;
  podIPs?: { ip: string }[];
  hostIP?: string;
  startTime?: string;
  containerStatuses?: ContainerStatus[];
}
export interface Pod extends KubeObject { kind: 'Pod'; spec: PodSpec; status?: PodStatus }

export interface ServicePort { name?: string; protocol?: Protocol; port: number; targetPort?: number | string; nodePort?: number }
export interface ServiceSpec {
  type?: 'ClusterIP' | 'NodePort';
  selector?: Record<string, string>;
  ports: ServicePort[];
  clusterIP?: string;
  clusterIPs?: string[];
  externalIPs?: string[];
  externalTrafficPolicy?: 'Cluster' | 'Local';
  sessionAffinity?: 'None' | 'ClientIP';
  sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
  [k: string]: unknown;
}
export interface Service extends KubeObject { kind: 'Service'; spec: ServiceSpec }

/** discovery.k8s.io/v1 EndpointSlice (IPv4 only). Written by the control plane's EndpointSlice
 *  controller (harness/cluster/services/) for Services with a selector, or applied by users for
 *  Services without one, as in Kubernetes. */
export type { EndpointSlice, EndpointSliceEndpoint, EndpointSlicePort } from '../../lib/services.js';

export interface IPBlock { cidr: string; except?: string[] }
export interface NetworkPolicyPeer { podSelector?: LabelSelector; namespaceSelector?: LabelSelector; ipBlock?: IPBlock }
export interface NetworkPolicyPort { protocol?: Protocol; port?: number | string; endPort?: number }
export interface NetworkPolicySpec {
  podSelector: LabelSelector;
  policyTypes?: ('Ingress' | 'Egress')[];
  ingress?: { from?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
  egress?: { to?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
}
export interface NetworkPolicy extends KubeObject { kind: 'NetworkPolicy'; spec: NetworkPolicySpec }

export interface CiliumRule {
  endpointSelector: LabelSelector;
  ingress?: Record<string, unknown>[];
  egress?: Record<string, unknown>[];
  ingressDeny?: Record<string, unknown>[];
  egressDeny?: Record<string, unknown>[];
  [k: string]: unknown;
}
export interface CiliumNetworkPolicy extends KubeObject { kind: 'CiliumNetworkPolicy'; spec?: CiliumRule; specs?: CiliumRule[] }
export interface Namespace extends KubeObject { kind: 'Namespace'; status?: { phase?: string } }

export const isPod = (o: KubeObject): o is Pod => o.kind === 'Pod';
export const isService = (o: KubeObject): o is Service => o.kind === 'Service';
export const isEndpointSlice = (o: KubeObject): o is EndpointSlice => o.kind === 'EndpointSlice';
export const isNetworkPolicy = (o: KubeObject): o is NetworkPolicy => o.kind === 'NetworkPolicy';
export const isCiliumNetworkPolicy = (o: KubeObject): o is CiliumNetworkPolicy => o.kind === 'CiliumNetworkPolicy';

// ---- Schemas -----------------------------------------------------------------------------------

const peer = z
  .object({ podSelector: selector().optional(), namespaceSelector: selector().optional(), ipBlock: ipBlock.optional() })
  .strict()
  .superRefine((p, ctx) => {
    if (p.ipBlock !== undefined && (p.podSelector !== undefined || p.namespaceSelector !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['ipBlock'], message: 'may not be combined with podSelector or namespaceSelector in the same peer' });
    } else if (p.ipBlock === undefined && p.podSelector === undefined && p.namespaceSelector === undefined) {
      ctx.addIssue({ code: 'custom', message: 'a peer needs podSelector, namespaceSelector or ipBlock' });
    }
  });

const policyPort = z
  .object({ protocol: opt(oneOf(PROTOCOLS)), port: opt(portOrName), endPort: opt(intIn(1, 65535)) })
  .strict()
  .superRefine((p, ctx) => {
    if (p.endPort === undefined) return;
    if (typeof p.port !== 'number') ctx.addIssue({ code: 'custom', path: ['endPort'], message: 'requires a numeric port (a range starts at port)' });
    else if (typeof p.endPort === 'number' && p.endPort < p.port) ctx.addIssue({ code: 'custom', path: ['endPort'], message: `must be at least port (${p.port}), got ${p.endPort}` });
  });

const metadata = (namespaced: boolean) =>
  z
    .object({
      name: rule(dnsLabel),
      namespace: namespaced
        ? opt(dnsLabel)
        : z.any().superRefine((v, ctx) => void (v !== undefined && ctx.addIssue({ code: 'custom', message: 'a Namespace is cluster-scoped and cannot have a namespace' }))),
      labels: labelMap(),
      annotations: z
        .any()
        .superRefine((v, ctx) => {
          if (!isMap(v)) return void ctx.addIssue({ code: 'custom', message: `expected a mapping, got ${show(v)}` });
          for (const [k, val] of Object.entries(v)) {
            const problem = labelKeyProblem(k)?.replace('label key', 'annotation key') ?? str(val);
            if (problem) ctx.addIssue({ code: 'custom', path: [k], message: problem });
          }
        })
        .optional(),
      uid: opt(str),
      resourceVersion: opt(str),
      creationTimestamp: opt(str),
    })
    .passthrough();

const container = z
  .object({
    name: rule(dnsLabel),
    image: rule(nonEmpty),
    command: z.array(rule(str)).optional(),
    args: z.array(rule(str)).optional(),
    ports: z.array(z.object({ name: opt(portName), containerPort: rule(intIn(1, 65535)), protocol: opt(oneOf(PROTOCOLS)) }).passthrough()).optional(),
    env: z.array(z.object({ name: rule(nonEmpty), value: opt(str) }).passthrough()).optional(),
  })
  .passthrough()
  .superRefine((c, ctx) => {
    const seen = new Set<unknown>();
    (Array.isArray(c.ports) ? c.ports : []).forEach((p: { name?: unknown }, i: number) => {
      if (p?.name === undefined) return;
      if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: ['ports', i, 'name'], message: `duplicate port name ${show(p.name)} in this container` });
      seen.add(p.name);
    });
  });

const podSpec = z
  .object({
    containers: z.array(container).min(1, 'at least one container is required'),
    nodeName: opt(dnsLabel),
    hostNetwork: opt(bool),
    restartPolicy: opt(oneOf(['Always', 'OnFailure', 'Never'])),
  })
  .passthrough()
  .superRefine((s, ctx) => {
    const seen = new Set<unknown>();
    (Array.isArray(s.containers) ? s.containers : []).forEach((c: { name?: unknown }, i: number) => {
      if (typeof c?.name !== 'string') return;
      if (seen.has(c.name)) ctx.addIssue({ code: 'custom', path: ['containers', i, 'name'], message: `duplicate container name ${show(c.name)}; names must be unique in a pod` });
      seen.add(c.name);
    });
  });

// Types Kubernetes knows that cnilab's load balancer does not implement are named as such.
const SERVICE_TYPES = ['ClusterIP', 'NodePort'];
const serviceType: Check = (v) =>
  SERVICE_TYPES.includes(v as string) ? undefined
  : ['LoadBalancer', 'ExternalName'].includes(v as string) ? `unsupported Service type ${show(v)} (cnilab implements ClusterIP and NodePort)`
  : `expected one of ${SERVICE_TYPES.join(', ')}, got ${show(v)}`;

const serviceSpec = z
  .object({
    type: opt(serviceType),
    selector: labelMap(),
    ports: z
      .array(
        z
          .object({ name: opt(dnsLabel), protocol: opt(oneOf(PROTOCOLS)), port: rule(intIn(1, 65535)), targetPort: opt(portOrName), nodePort: opt(intIn(30000, 32767)) })
          .passthrough(),
      )
      .min(1, 'a Service needs at least one port'),
    clusterIP: opt((v) => (v === 'None' || v === '' || (typeof v === 'string' && parseIpv4(v) !== undefined) ? undefined : `expected an IPv4 address or "None", got ${show(v)}`)),
    externalTrafficPolicy: opt(oneOf(['Cluster', 'Local'])),
    sessionAffinity: opt(oneOf(['None', 'ClientIP'])),
    sessionAffinityConfig: z.object({ clientIP: z.object({ timeoutSeconds: opt(intIn(1, 86400)) }).strict().optional() }).strict().optional(),
  })
  .passthrough()
  .superRefine((s, ctx) => {
    const ports: Record<string, unknown>[] = Array.isArray(s.ports) ? s.ports : [];
    const names = new Set<unknown>();
    const portProtos = new Set<string>();
    ports.forEach((p, i) => {
      if (ports.length > 1 && p.name === undefined) ctx.addIssue({ code: 'custom', path: ['ports', i, 'name'], message: 'required when a Service has more than one port' });
      if (p.name !== undefined && names.has(p.name)) ctx.addIssue({ code: 'custom', path: ['ports', i, 'name'], message: `duplicate port name ${show(p.name)}` });
      names.add(p.name);
      const pp = `${String(p.port)}/${String(p.protocol ?? 'TCP')}`;
      if (portProtos.has(pp)) ctx.addIssue({ code: 'custom', path: ['ports', i, 'port'], message: `duplicate port ${pp}` });
      portProtos.add(pp);
      if (p.nodePort !== undefined && (s.type ?? 'ClusterIP') !== 'NodePort') ctx.addIssue({ code: 'custom', path: ['ports', i, 'nodePort'], message: 'only allowed with type NodePort' });
      if (p.protocol === 'SCTP') ctx.addIssue({ code: 'custom', path: ['ports', i, 'protocol'], message: 'unsupported protocol "SCTP" for a Service (cnilab load-balances TCP and UDP)' });
    });
    if (s.clusterIP === 'None' && s.type === 'NodePort') ctx.addIssue({ code: 'custom', path: ['clusterIP'], message: 'a headless Service ("None") cannot be of type NodePort' });
    if (s.externalTrafficPolicy !== undefined && (s.type ?? 'ClusterIP') !== 'NodePort') {
      ctx.addIssue({ code: 'custom', path: ['externalTrafficPolicy'], message: 'only allowed with type NodePort' });
    }
    if (s.sessionAffinityConfig !== undefined && s.sessionAffinity !== 'ClientIP') {
      ctx.addIssue({ code: 'custom', path: ['sessionAffinityConfig'], message: 'only allowed with sessionAffinity ClientIP' });
    }
  });

const endpointSliceSpec = {
  addressType: rule((v) => (v === 'IPv4' ? undefined : v === 'IPv6' || v === 'FQDN' ? `unsupported addressType ${show(v)} (the embedded cluster is IPv4 only)` : `expected IPv4, got ${show(v)}`)),
  endpoints: z
    .array(
      z
        .object({
          addresses: z.array(rule((v) => (typeof v === 'string' && parseIpv4(v) !== undefined ? undefined : `expected an IPv4 address, got ${show(v)}`))).min(1).max(100),
          conditions: z.object({ ready: opt(bool), serving: opt(bool), terminating: opt(bool) }).strict().optional(),
          nodeName: opt(dnsLabel),
        })
        .passthrough(),
    )
    .max(1000),
  ports: z.array(z.object({ name: opt(str), port: opt(intIn(1, 65535)), protocol: opt(oneOf(['TCP', 'UDP'])) }).passthrough()).max(100).optional(),
};

const networkPolicySpec = z
  .object({
    podSelector: selector().optional(),
    policyTypes: z
      .array(rule(oneOf(['Ingress', 'Egress'])))
      .superRefine((t, ctx) => void (new Set(t).size !== t.length && ctx.addIssue({ code: 'custom', message: 'lists a policy type twice' })))
      .optional(),
    ingress: z.array(z.object({ from: z.array(peer).optional(), ports: z.array(policyPort).optional() }).strict()).optional(),
    egress: z.array(z.object({ to: z.array(peer).optional(), ports: z.array(policyPort).optional() }).strict()).optional(),
  })
  .strict();

const top = (kind: SupportedKind, shape: z.ZodRawShape) =>
  z
    .object({
      apiVersion: rule((v) => (v === API_VERSIONS[kind] ? undefined : `expected "${API_VERSIONS[kind]}" for a ${kind}, got ${show(v)}`)),
      kind: z.any(),
      metadata: metadata(kind !== 'Namespace'),
      ...shape,
    })
    .passthrough();

const SCHEMAS: Record<SupportedKind, z.ZodTypeAny> = {
  Namespace: top('Namespace', {}),
  Pod: top('Pod', { spec: podSpec }),
  Service: top('Service', { spec: serviceSpec }),
  EndpointSlice: top('EndpointSlice', endpointSliceSpec),
  // spec is required although Kubernetes would take an absent one as "deny all ingress to every pod".
  NetworkPolicy: top('NetworkPolicy', { spec: networkPolicySpec }),
  CiliumNetworkPolicy: top('CiliumNetworkPolicy', { spec: ciliumRuleSchema.optional(), specs: z.array(ciliumRuleSchema).min(1).optional() }).superRefine(
    (o, ctx) => void (o.spec === undefined && o.specs === undefined && ctx.addIssue({ code: 'custom', path: ['spec'], message: 'required (or specs)' })),
  ),
};

const TYPE_WORDS: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false' };
const errorMap: z.ZodErrorMap = (issue, ctx) => {
  if (issue.code === z.ZodIssueCode.invalid_type) {
    return { message: ctx.data === undefined ? 'required' : `expected ${TYPE_WORDS[issue.expected] ?? issue.expected}, got ${show(ctx.data)}` };
  }
  return { message: ctx.defaultError };
};

/** `spec.containers[0].ports[1]`, with keys that are not identifiers quoted: `labels["app.kubernetes.io/name"]`. */
export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return '(top level)';
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `${i ? '.' : ''}${p}` : `[${JSON.stringify(p)}]`))
    .join('');
}

// ---- Validation and parsing ----------------------------------------------------------------------

/** " (Pod x/a)" for messages, from a raw (not yet validated) object; "" when kind or name is unknown. */
export function describeRaw(raw: unknown): string {
  if (!isMap(raw) || typeof raw.kind !== 'string' || !isMap(raw.metadata) || typeof raw.metadata.name !== 'string') return '';
  const ns = raw.metadata.namespace;
  return ` (${raw.kind} ${isNamespaced(raw.kind) ? `${typeof ns === 'string' ? ns : 'default'}/` : ''}${raw.metadata.name})`;
}

/**
 * Validate one object; `where` prefixes every field path (e.g. `xyz.yaml: document 3 (Pod x/a)`).
 * Returns a normalized deep copy (unknown Kubernetes fields kept). Throws InvalidInputList with every
 * problem of the object.
 */
export function validateObject(raw: unknown, where: string): KubeObject {
  const fail = (path: string, message: string) => new InvalidInputList([new InvalidInputError(`${where}: ${path}`, message)]);
  if (!isMap(raw)) throw fail('(top level)', `expected a mapping with apiVersion, kind and metadata, got ${show(raw)}`);
  if (raw.kind === undefined) throw fail('kind', 'required');
  const overLimits = limitProblems(raw, where);
  if (overLimits.length) throw new InvalidInputList(overLimits);
  if (isWorkloadKind(raw.kind)) return validateWorkload(raw, where);
  if (!(SUPPORTED_KINDS as readonly unknown[]).includes(raw.kind)) {
    const hint = typeof raw.kind === 'string' && resolveKind(raw.kind) ? ` (did you mean "${resolveKind(raw.kind)}"?)` : '';
    throw fail('kind', `unsupported kind ${show(raw.kind)}${hint}; supported: ${[...SUPPORTED_KINDS, ...WORKLOAD_KINDS].join(', ')}`);
  }
  const result = SCHEMAS[raw.kind as SupportedKind].safeParse(raw, { errorMap });
  if (!result.success) {
    const problems = result.error.issues.flatMap((issue) =>
      issue.code === z.ZodIssueCode.unrecognized_keys
        ? issue.keys.map((k) => new InvalidInputError(`${where}: ${formatPath([...issue.path, k])}`, 'unknown field'))
        : [new InvalidInputError(`${where}: ${formatPath(issue.path)}`, issue.message)],
    );
    throw new InvalidInputList(problems);
  }
  return normalizeObject(raw as KubeObject);
}

/**
 * Apply the defaults the Kubernetes API server applies, on a deep copy, so the store keeps objects in
 * one shape: namespace "default", protocol TCP, Service type ClusterIP and targetPort = port, Pod
 * restartPolicy Always, NetworkPolicy podSelector {} and policyTypes, and the namespace name label.
 * Idempotent; kinds it does not know only get the namespace default.
 */
export function normalizeObject<T extends KubeObject>(input: T): T {
  const obj = structuredClone(input) as KubeObject;
  obj.metadata = { ...obj.metadata };
  if (isNamespaced(obj.kind)) obj.metadata.namespace ??= 'default';
  const tcp = (ports: { protocol?: Protocol }[] | undefined) => ports?.forEach((p) => (p.protocol ??= 'TCP'));
  if (obj.kind === 'Namespace') {
    obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': obj.metadata.name };
  } else if (isPod(obj) && obj.spec) {
    obj.spec.restartPolicy ??= 'Always';
    for (const c of obj.spec.containers ?? []) tcp(c.ports);
  } else if (isService(obj) && obj.spec) {
    obj.spec.type ??= 'ClusterIP';
    obj.spec.sessionAffinity ??= 'None';
    if (obj.spec.type === 'NodePort') obj.spec.externalTrafficPolicy ??= 'Cluster';
    if (obj.spec.sessionAffinity === 'ClientIP') {
      // Kubernetes' default affinity timeout: 3 hours.
      obj.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: obj.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800 } };
    }
    for (const p of obj.spec.ports ?? []) {
      p.protocol ??= 'TCP';
      p.targetPort ??= p.port;
    }
  } else if (isEndpointSlice(obj)) {
    for (const p of obj.ports ?? []) p.protocol ??= 'TCP';
  } else if (isNetworkPolicy(obj) && obj.spec) {
    const s = obj.spec;
    s.podSelector ??= {};
    // Kubernetes' default: Ingress always, Egress when egress rules are present.
    s.policyTypes ??= s.egress ? ['Ingress', 'Egress'] : ['Ingress'];
    for (const r of s.ingress ?? []) tcp(r.ports);
    for (const r of s.egress ?? []) tcp(r.ports);
  }
  return obj as T;
}

function yamlProblem(at: string, e: YAMLError): InvalidInputError {
  const pos = e.linePos?.[0];
  // With prettyErrors the first line ends in " at line L, column C:"; the position goes in the field.
  const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return new InvalidInputError(pos ? `${at}, line ${pos.line}, column ${pos.col}` : at, `not valid YAML: ${msg}`);
}

/**
 * Parse a multi-document YAML stream of manifests (empty documents skipped, `kind: List` expanded).
 * All-or-nothing: throws InvalidInputList with every problem of every document, else returns the
 * normalized objects in order. `status` is dropped, as the API server ignores it from users.
 */
export function parseManifests(text: string, source: string): KubeObject[] {
  checkTextSize(Buffer.byteLength(text), source);
  const problems: InvalidInputError[] = [];
  const out: KubeObject[] = [];
  const seen = new Map<string, string>();
  const accept = (raw: unknown, at: string) => {
    const where = `${at}${describeRaw(raw)}`;
    try {
      const obj = validateObject(raw, where);
      delete obj.status;
      const key = objectKey(obj);
      const first = seen.get(key);
      if (first) problems.push(new InvalidInputError(`${where}: metadata.name`, `${obj.kind} "${obj.metadata.name}" is already defined in ${first}`));
      else seen.set(key, at.slice(source.length + 2));
      out.push(obj);
    } catch (e) {
      if (e instanceof InvalidInputList) problems.push(...e.problems);
      else throw e;
    }
  };
  const docs = parseAllDocuments(text, { prettyErrors: true });
  (Array.isArray(docs) ? docs : []).forEach((doc, i) => {
    const at = `${source}: document ${i + 1}`;
    if (doc.errors.length) return void problems.push(...doc.errors.map((e) => yamlProblem(at, e)));
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      return void problems.push(new InvalidInputError(at, `not valid YAML: ${(e as Error).message}`));
    }
    if (value === null || value === undefined) return; // an empty document, e.g. after a trailing ---
    if (isMap(value) && value.kind === 'List') {
      if (!Array.isArray(value.items)) return void problems.push(new InvalidInputError(`${at} (List): items`, `expected a list, got ${show(value.items)}`));
      value.items.forEach((item: unknown, j: number) => accept(item, `${at} items[${j}]`));
    } else {
      accept(value, at);
    }
  });
  if (problems.length) throw new InvalidInputList(problems);
  checkBatchSize(out.length, source);
  return out;
}

// ---- Helpers shared by the control plane, the agents and the policy model ------------------------

/** "Kind/namespace/name"; cluster-scoped kinds have an empty namespace ("Namespace//x"). */
export function objectKey(obj: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return `${obj.kind}/${isNamespaced(obj.kind) ? (obj.metadata.namespace ?? 'default') : ''}/${obj.metadata.name}`;
}

// matchLabelSelector and resolveNamedPort live in lib/k8s/selectors.ts (the agent uses them too).
export { matchLabelSelector, resolveNamedPort } from '../../lib/k8s/selectors.js';
