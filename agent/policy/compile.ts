// NetworkPolicy v1 and the CiliumNetworkPolicy subset → the engine's rules: who the policy applies to
// (a subject selector), which directions it puts into default deny, and per rule the peers (selector
// specs, evaluated on security identities by the selector cache) and the ports. Objects come from the
// control plane already validated; this code still reads them defensively (a real API server may hold
// anything a CRD schema lets through) and reports what it cannot use instead of guessing.
//
// Semantics, as Kubernetes and Cilium define them:
// - NetworkPolicy: policyTypes default to Ingress (+ Egress when egress rules exist); rules of a type
//   not listed are ignored; `from`/`to` omitted or empty = every peer; `ports` omitted or empty = every
//   port; a port without protocol is TCP; `port` omitted = every port of that protocol; a peer with
//   podSelector only = pods of the policy's namespace; namespaceSelector only = every pod of the
//   matching namespaces (`{}` = all namespaces); both = AND; ipBlock = CIDR identities inside it and,
//   as the netpol e2e suite expects, pods whose IP is inside it (minus except).
// - CiliumNetworkPolicy: the endpointSelector and every from/toEndpoints selector are limited to the
//   policy's namespace unless they name `io.kubernetes.pod.namespace` (or a reserved: label, for the
//   peers); a rule with ports but no L3 peer applies to every peer; an empty rule allows nothing; a
//   direction with at least one rule (allow or deny) is in default deny, unless enableDefaultDeny says
//   otherwise; toPorts protocol defaults to ANY; port "0" = every port; CIDR peers select CIDR
//   identities only (Cilium: CIDR rules do not match cluster endpoints).
import type { LabelSelector } from '../../lib/k8s/selectors.js';
import { formatCidr, parseIpv4, type Cidr } from '../../lib/net/cidr.js';
import type { PolicyDirection } from './types.js';

export const PROTO = { TCP: 6, UDP: 17, SCTP: 132 } as const;
const PROTO_BY_NAME: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };

/** The subset of a Kubernetes object this module reads (no import from the harness's object model). */
export interface PolicyObject {
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: unknown;
  specs?: unknown;
}

export type EntityName = 'world' | 'host' | 'remote-node' | 'cluster';

/** A set of peers, decided on identities by the selector cache. */
export type SelectorSpec =
  /** Kubernetes peer: pods (of `namespace` if set) matching podSelector, in namespaces matching namespaceSelector. */
  | { type: 'k8s'; namespace?: string; podSelector?: LabelSelector; namespaceSelector?: LabelSelector }
  /** Cilium endpoint selector on security labels ("source:key" or "key" = any source). */
  | { type: 'cilium'; namespace?: string; selector: LabelSelector }
  /** CIDR identities inside cidr and outside every except; with pods: also pod identities by IP. */
  | { type: 'cidr'; cidr: string; except: string[]; pods: boolean }
  | { type: 'entity'; entity: EntityName };

export interface PortSpec {
  /** IP protocol number; 0 = any (then port is 0 too, or a name resolved in any protocol). */
  protocol: number;
  port: number;
  endPort: number;
  /** A named port, resolved on the destination pod (port/endPort are then 0). */
  name?: string;
}

export interface CompiledRule {
  direction: PolicyDirection;
  deny: boolean;
  /** 'all' = any peer (identity 0). */
  peers: SelectorSpec[] | 'all';
  /** 'all' = any protocol and port. */
  ports: PortSpec[] | 'all';
}

export interface CompiledPolicy {
  /** "NetworkPolicy/ns/name" or "CiliumNetworkPolicy/ns/name". */
  key: string;
  namespace: string;
  subject: SelectorSpec;
  /** The policy puts its subjects into default deny in this direction. */
  ingress: boolean;
  egress: boolean;
  rules: CompiledRule[];
  /** What was ignored (unsupported fields); reported on the agent's /v1/policy. */
  notes: string[];
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export class PolicyCompileError extends Error {}

/** "10.1.2.3/24" → "10.1.2.0/24" (host bits masked, as Kubernetes accepts them); "10.1.2.3" → /32. */
export function normalizeCidr(s: unknown, allowBareIp: boolean): Cidr | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^([0-9.]+)(?:\/(\d{1,2}))?$/.exec(s.trim());
  if (!m || (m[2] === undefined && !allowBareIp)) return undefined;
  const ip = parseIpv4(m[1]!);
  const prefix = m[2] === undefined ? 32 : Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (ip & mask) >>> 0, prefix };
}

function cidrSpec(cidr: unknown, except: unknown, pods: boolean, where: string, notes: string[], allowBareIp: boolean): SelectorSpec | undefined {
  if (typeof cidr === 'string' && cidr.includes(':')) {
    notes.push(`${where}: IPv6 ${cidr} ignored (the cluster is IPv4 only)`);
    return undefined;
  }
  const c = normalizeCidr(cidr, allowBareIp);
  if (!c) throw new PolicyCompileError(`${where}: not a CIDR: ${JSON.stringify(cidr)}`);
  const ex: string[] = [];
  for (const e of list(except)) {
    if (typeof e === 'string' && e.includes(':')) continue;
    const n = normalizeCidr(e, allowBareIp);
    if (!n) throw new PolicyCompileError(`${where}.except: not a CIDR: ${JSON.stringify(e)}`);
    ex.push(formatCidr(n));
  }
  return { type: 'cidr', cidr: formatCidr(c), except: ex.sort(), pods };
}

function selectorOf(v: unknown, where: string): LabelSelector {
  if (v === undefined || v === null) return {};
  if (!isMap(v)) throw new PolicyCompileError(`${where}: expected a label selector`);
  const out: LabelSelector = {};
  if (v.matchLabels !== undefined) {
    if (!isMap(v.matchLabels)) throw new PolicyCompileError(`${where}.matchLabels: expected a mapping`);
    out.matchLabels = Object.fromEntries(Object.entries(v.matchLabels).map(([k, x]) => [k, String(x ?? '')]));
  }
  if (v.matchExpressions !== undefined) {
    out.matchExpressions = list(v.matchExpressions).map((r, i) => {
      if (!isMap(r) || typeof r.key !== 'string' || !['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(r.operator as string)) {
        throw new PolicyCompileError(`${where}.matchExpressions[${i}]: expected {key, operator: In|NotIn|Exists|DoesNotExist, values}`);
      }
      return { key: r.key, operator: r.operator as 'In', values: list(r.values).map(String) };
    });
  }
  return out;
}

// ---- NetworkPolicy -------------------------------------------------------------------------------

function k8sPorts(ports: unknown, where: string): PortSpec[] | 'all' {
  const items = list(ports);
  if (items.length === 0) return 'all';
  return items.map((p, i) => {
    if (!isMap(p)) throw new PolicyCompileError(`${where}[${i}]: expected a mapping`);
    const protocol = PROTO_BY_NAME[(p.protocol as string | undefined) ?? 'TCP'];
    if (protocol === undefined) throw new PolicyCompileError(`${where}[${i}].protocol: unknown protocol ${JSON.stringify(p.protocol)}`);
    if (p.port === undefined) return { protocol, port: 0, endPort: 0 };
    if (typeof p.port === 'string' && !/^\d+$/.test(p.port)) return { protocol, port: 0, endPort: 0, name: p.port };
    const port = Number(p.port);
    const endPort = p.endPort === undefined ? port : Number(p.endPort);
    if (!Number.isInteger(port) || port < 1 || port > 65535 || !Number.isInteger(endPort) || endPort < port || endPort > 65535) {
      throw new PolicyCompileError(`${where}[${i}]: bad port range ${String(p.port)}..${String(p.endPort ?? p.port)}`);
    }
    return { protocol, port, endPort };
  });
}

function k8sPeers(peers: unknown, namespace: string, where: string, notes: string[]): SelectorSpec[] | 'all' {
  const items = list(peers);
  if (items.length === 0) return 'all';
  const out: SelectorSpec[] = [];
  items.forEach((p, i) => {
    const at = `${where}[${i}]`;
    if (!isMap(p)) throw new PolicyCompileError(`${at}: expected a mapping`);
    if (p.ipBlock !== undefined) {
      const b = p.ipBlock as Record<string, unknown>;
      const spec = cidrSpec(b?.cidr, b?.except, true, `${at}.ipBlock`, notes, false);
      if (spec) out.push(spec);
      return;
    }
    if (p.podSelector === undefined && p.namespaceSelector === undefined) throw new PolicyCompileError(`${at}: a peer needs podSelector, namespaceSelector or ipBlock`);
    const spec: SelectorSpec = { type: 'k8s' };
    if (p.namespaceSelector === undefined) spec.namespace = namespace;
    else spec.namespaceSelector = selectorOf(p.namespaceSelector, `${at}.namespaceSelector`);
    if (p.podSelector !== undefined) spec.podSelector = selectorOf(p.podSelector, `${at}.podSelector`);
    out.push(spec);
  });
  return out;
}

export function compileNetworkPolicy(obj: PolicyObject): CompiledPolicy {
  const namespace = obj.metadata.namespace ?? 'default';
  const key = `NetworkPolicy/${namespace}/${obj.metadata.name}`;
  const spec = isMap(obj.spec) ? obj.spec : {};
  const notes: string[] = [];
  // Kubernetes' defaulting: Ingress always, Egress when egress rules are present.
  const types = Array.isArray(spec.policyTypes) ? (spec.policyTypes as string[]) : spec.egress !== undefined ? ['Ingress', 'Egress'] : ['Ingress'];
  const ingress = types.includes('Ingress');
  const egress = types.includes('Egress');
  const rules: CompiledRule[] = [];
  if (ingress) {
    list(spec.ingress).forEach((r, i) => {
      const rr = isMap(r) ? r : {};
      rules.push({ direction: 'ingress', deny: false, peers: k8sPeers(rr.from, namespace, `spec.ingress[${i}].from`, notes), ports: k8sPorts(rr.ports, `spec.ingress[${i}].ports`) });
    });
  }
  if (egress) {
    list(spec.egress).forEach((r, i) => {
      const rr = isMap(r) ? r : {};
      rules.push({ direction: 'egress', deny: false, peers: k8sPeers(rr.to, namespace, `spec.egress[${i}].to`, notes), ports: k8sPorts(rr.ports, `spec.egress[${i}].ports`) });
    });
  }
  const subject: SelectorSpec = { type: 'k8s', namespace, podSelector: selectorOf(spec.podSelector, 'spec.podSelector') };
  return { key, namespace, subject, ingress, egress, rules, notes };
}

// ---- CiliumNetworkPolicy -------------------------------------------------------------------------

const NS_KEYS = ['k8s:io.kubernetes.pod.namespace', 'any:io.kubernetes.pod.namespace', 'io.kubernetes.pod.namespace'];
const ENTITIES = new Set(['world', 'host', 'remote-node', 'cluster', 'all']);

function selectorKeys(s: LabelSelector): string[] {
  return [...Object.keys(s.matchLabels ?? {}), ...(s.matchExpressions ?? []).map((r) => r.key)];
}

/** A Cilium endpoint selector limited to `namespace` unless it names the namespace (or a reserved label). */
function ciliumSelector(v: unknown, namespace: string, where: string, peer: boolean): SelectorSpec {
  const selector = selectorOf(v, where);
  const keys = selectorKeys(selector);
  const namesNamespace = keys.some((k) => NS_KEYS.includes(k));
  const reserved = peer && keys.some((k) => k.startsWith('reserved:'));
  return namesNamespace || reserved ? { type: 'cilium', selector } : { type: 'cilium', namespace, selector };
}

function ciliumPorts(toPorts: unknown, where: string): PortSpec[] | 'all' {
  const rules = list(toPorts);
  if (rules.length === 0) return 'all';
  const out: PortSpec[] = [];
  for (const [i, r] of rules.entries()) {
    const ports = isMap(r) ? list(r.ports) : [];
    if (ports.length === 0) return 'all'; // a port rule without ports (L7 only) covers every port
    ports.forEach((p, j) => {
      const at = `${where}[${i}].ports[${j}]`;
      if (!isMap(p)) throw new PolicyCompileError(`${at}: expected a mapping`);
      const protoName = String(p.protocol ?? 'ANY').toUpperCase();
      if (protoName !== 'ANY' && PROTO_BY_NAME[protoName] === undefined) throw new PolicyCompileError(`${at}.protocol: unsupported ${JSON.stringify(p.protocol)}`);
      const protos = protoName === 'ANY' ? [PROTO.TCP, PROTO.UDP, PROTO.SCTP] : [PROTO_BY_NAME[protoName]!];
      const raw = p.port === undefined ? '0' : String(p.port);
      if (!/^\d+$/.test(raw)) {
        // A named port: resolved on the destination pod in the protocol given (any when ANY).
        out.push({ protocol: protoName === 'ANY' ? 0 : protos[0]!, port: 0, endPort: 0, name: raw });
        return;
      }
      const port = Number(raw);
      const endPort = p.endPort === undefined || port === 0 ? port : Number(p.endPort);
      if (port > 65535 || !Number.isInteger(endPort) || endPort < port || endPort > 65535) throw new PolicyCompileError(`${at}: bad port range ${raw}..${String(p.endPort)}`);
      if (port === 0 && protoName === 'ANY') out.push({ protocol: 0, port: 0, endPort: 0 });
      else for (const protocol of protos) out.push({ protocol, port, endPort });
    });
  }
  return out;
}

function ciliumRule(r: unknown, direction: PolicyDirection, deny: boolean, namespace: string, where: string, notes: string[]): CompiledRule | undefined {
  if (!isMap(r)) throw new PolicyCompileError(`${where}: expected a mapping`);
  const from = direction === 'ingress' ? 'from' : 'to';
  const peers: SelectorSpec[] = [];
  let all = false;
  let hasL3 = false;
  const endpoints = list(r[`${from}Endpoints`]);
  endpoints.forEach((s, i) => peers.push(ciliumSelector(s, namespace, `${where}.${from}Endpoints[${i}]`, true)));
  const entities = list(r[`${from}Entities`]);
  entities.forEach((e, i) => {
    if (typeof e !== 'string' || !ENTITIES.has(e)) {
      notes.push(`${where}.${from}Entities[${i}]: entity ${JSON.stringify(e)} is not supported and selects nothing`);
      return;
    }
    if (e === 'all') all = true;
    else peers.push({ type: 'entity', entity: e as EntityName });
  });
  list(r[`${from}CIDR`]).forEach((c, i) => {
    const s = cidrSpec(c, [], false, `${where}.${from}CIDR[${i}]`, notes, true);
    if (s) peers.push(s);
  });
  list(r[`${from}CIDRSet`]).forEach((c, i) => {
    const set = isMap(c) ? c : {};
    const s = cidrSpec(set.cidr, set.except, false, `${where}.${from}CIDRSet[${i}]`, notes, true);
    if (s) peers.push(s);
  });
  hasL3 = endpoints.length + entities.length + list(r[`${from}CIDR`]).length + list(r[`${from}CIDRSet`]).length > 0;
  for (const f of Object.keys(r)) {
    if (!['Endpoints', 'Entities', 'CIDR', 'CIDRSet'].some((s) => f === `${from}${s}`) && f !== 'toPorts') notes.push(`${where}.${f}: not supported, ignored`);
  }
  const ports = ciliumPorts(r.toPorts, `${where}.toPorts`);
  if (!hasL3) {
    // Ports without peers apply to every peer; an empty rule `{}` allows nothing (it only puts the
    // subjects into default deny).
    if (ports === 'all') return undefined;
    all = true;
  }
  return { direction, deny, peers: all ? 'all' : peers, ports };
}

function compileCiliumRule(rule: Record<string, unknown>, namespace: string, where: string, notes: string[]): { subject: SelectorSpec; ingress: boolean; egress: boolean; rules: CompiledRule[] } {
  if (rule.endpointSelector === undefined) throw new PolicyCompileError(`${where}.endpointSelector: required (nodeSelector policies are not supported)`);
  const subject = ciliumSelector(rule.endpointSelector, namespace, `${where}.endpointSelector`, false);
  // A namespaced policy selects endpoints of its own namespace only, whatever its selector says.
  if (subject.type === 'cilium' && !subject.namespace) subject.namespace = namespace;
  const rules: CompiledRule[] = [];
  const sections: Array<[string, PolicyDirection, boolean]> = [
    ['ingress', 'ingress', false],
    ['ingressDeny', 'ingress', true],
    ['egress', 'egress', false],
    ['egressDeny', 'egress', true],
  ];
  for (const [field, direction, deny] of sections) {
    list(rule[field]).forEach((r, i) => {
      const c = ciliumRule(r, direction, deny, namespace, `${where}.${field}[${i}]`, notes);
      if (c) rules.push(c);
    });
  }
  const dd = isMap(rule.enableDefaultDeny) ? rule.enableDefaultDeny : {};
  const ingress = typeof dd.ingress === 'boolean' ? dd.ingress : list(rule.ingress).length + list(rule.ingressDeny).length > 0;
  const egress = typeof dd.egress === 'boolean' ? dd.egress : list(rule.egress).length + list(rule.egressDeny).length > 0;
  return { subject, ingress, egress, rules };
}

/** A CiliumNetworkPolicy with `specs` becomes one compiled policy per rule (keys suffixed #i). */
export function compileCiliumNetworkPolicy(obj: PolicyObject): CompiledPolicy[] {
  const namespace = obj.metadata.namespace ?? 'default';
  const base = `CiliumNetworkPolicy/${namespace}/${obj.metadata.name}`;
  const specs: Array<[string, unknown]> = [];
  if (obj.spec !== undefined) specs.push(['spec', obj.spec]);
  list(obj.specs).forEach((s, i) => specs.push([`specs[${i}]`, s]));
  if (specs.length === 0) throw new PolicyCompileError('spec: required (or specs)');
  return specs.map(([where, s], i) => {
    if (!isMap(s)) throw new PolicyCompileError(`${where}: expected a mapping`);
    const notes: string[] = [];
    const c = compileCiliumRule(s, namespace, where, notes);
    return { key: i === 0 ? base : `${base}#${i}`, namespace, ...c, notes };
  });
}

/** Any supported policy object → its compiled rules (several for a CNP with `specs`). */
export function compilePolicy(obj: PolicyObject): CompiledPolicy[] {
  if (obj.kind === 'NetworkPolicy') return [compileNetworkPolicy(obj)];
  if (obj.kind === 'CiliumNetworkPolicy') return compileCiliumNetworkPolicy(obj);
  throw new PolicyCompileError(`kind ${obj.kind} is not a policy`);
}

/** Every prefix a selector spec needs as a CIDR identity in the ipcache (0.0.0.0/0 is reserved:world). */
export function cidrPrefixesOf(spec: SelectorSpec): string[] {
  if (spec.type !== 'cidr') return [];
  return [spec.cidr, ...spec.except].filter((c) => !c.endsWith('/0'));
}
