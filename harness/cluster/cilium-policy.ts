// The CiliumNetworkPolicy subset cnilab enforces, validated in full at `cnilab apply`: endpointSelector;
// ingress / egress / ingressDeny / egressDeny rules with fromEndpoints / toEndpoints, fromEntities /
// toEntities, fromCIDR / toCIDR, fromCIDRSet / toCIDRSet (with except) and toPorts. Cilium fields
// outside the subset (L7 rules, FQDNs, services, requires, ICMP, ...) are named as "not supported by
// cnilab" rather than ignored: a silently dropped field would widen or narrow a policy without a word.
// Anything else is an "unknown field". The types here are what the reference oracle reads.
import { z } from 'zod';
import type { LabelSelector as LabelSelectorShape } from './objects.js';
import { intIn, oneOf, parseAnyCidr, portName, rule, selector, show, str, within, type Check } from './schema-parts.js';

export type CiliumProtocol = 'TCP' | 'UDP' | 'SCTP' | 'ANY';
export const CILIUM_PROTOCOLS: readonly CiliumProtocol[] = ['TCP', 'UDP', 'SCTP', 'ANY'];
export type CiliumEntity = 'world' | 'host' | 'remote-node' | 'cluster' | 'all';
export const CILIUM_ENTITIES: readonly CiliumEntity[] = ['world', 'host', 'remote-node', 'cluster', 'all'];
/** Entities Cilium knows that need components cnilab does not have. */
const UNSUPPORTED_ENTITIES: Readonly<Record<string, string>> = {
  init: 'endpoints without labels yet', health: 'a health endpoint', unmanaged: 'unmanaged pods',
  'kube-apiserver': 'an API server endpoint', ingress: 'an Ingress proxy', 'world-ipv4': 'dual-stack',
  'world-ipv6': 'IPv6', none: 'nothing (it selects nothing)',
};

export interface CiliumPortProtocol { port: string | number; endPort?: number; protocol?: CiliumProtocol }
export interface CiliumPortRule { ports: CiliumPortProtocol[] }
export interface CiliumCidrRule { cidr: string; except?: string[] }
/** One rule of a direction; `from*` keys for ingress, `to*` keys for egress. */
export interface CiliumPeerRule {
  fromEndpoints?: LabelSelectorShape[];
  toEndpoints?: LabelSelectorShape[];
  fromEntities?: CiliumEntity[];
  toEntities?: CiliumEntity[];
  fromCIDR?: string[];
  toCIDR?: string[];
  fromCIDRSet?: CiliumCidrRule[];
  toCIDRSet?: CiliumCidrRule[];
  toPorts?: CiliumPortRule[];
}
export interface CiliumRuleSpec {
  endpointSelector: LabelSelectorShape;
  ingress?: CiliumPeerRule[];
  ingressDeny?: CiliumPeerRule[];
  egress?: CiliumPeerRule[];
  egressDeny?: CiliumPeerRule[];
  description?: string;
}

/** A field Cilium has and cnilab does not implement: present means rejected, with what it would need. */
const notSupported = (what: string) =>
  z
    .any()
    .superRefine((v, ctx) => void (v !== undefined && ctx.addIssue({ code: 'custom', message: `not supported by cnilab (${what})` })))
    .optional();

const cidrCheck: Check = (v) => {
  if (typeof v !== 'string') return `expected a CIDR string, got ${show(v)}`;
  return parseAnyCidr(v) ? undefined : `expected a CIDR like 10.0.0.0/16, got ${show(v)}`;
};

const cidrRule = z
  .object({ cidr: rule(cidrCheck), except: z.array(rule(cidrCheck)).optional(), cidrGroupRef: notSupported('CiliumCIDRGroup objects') })
  .strict()
  .superRefine((r, ctx) => {
    const outer = typeof r.cidr === 'string' ? parseAnyCidr(r.cidr) : undefined;
    if (!outer) return;
    (Array.isArray(r.except) ? r.except : []).forEach((e: unknown, i: number) => {
      const inner = typeof e === 'string' ? parseAnyCidr(e) : undefined;
      if (inner && (inner.v4 !== outer.v4 || !within(outer, inner))) {
        ctx.addIssue({ code: 'custom', path: ['except', i], message: `${e} is not inside cidr ${r.cidr} (except must carve a strict subset out of it)` });
      }
    });
  });

const entity: Check = (v) => {
  if (typeof v === 'string' && Object.hasOwn(UNSUPPORTED_ENTITIES, v)) return `entity "${v}" is not supported by cnilab (needs ${UNSUPPORTED_ENTITIES[v]})`;
  return oneOf(CILIUM_ENTITIES)(v);
};

/** Cilium ports are strings in its CRD ("80", "http"); plain YAML numbers are accepted too. 0 means any port. */
const ciliumPort: Check = (v) => {
  if (typeof v === 'number') return intIn(0, 65535)(v);
  if (typeof v !== 'string') return `expected a port number 0..65535 or a port name, got ${show(v)}`;
  if (/^\d+$/.test(v)) return intIn(0, 65535)(Number(v));
  return portName(v);
};
const numericPort = (v: unknown): number | undefined =>
  typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined;

const portProtocol = z
  .object({ port: rule(ciliumPort), endPort: rule(intIn(1, 65535)).optional(), protocol: rule(oneOf(CILIUM_PROTOCOLS)).optional() })
  .strict()
  .superRefine((p, ctx) => {
    if (p.endPort === undefined || ciliumPort(p.port) !== undefined) return;
    const start = numericPort(p.port);
    if (start === undefined) ctx.addIssue({ code: 'custom', path: ['endPort'], message: `requires a numeric port (a range starts at port), got the named port ${show(p.port)}` });
    else if (start === 0) ctx.addIssue({ code: 'custom', path: ['endPort'], message: 'requires a port other than 0 (port 0 already means every port)' });
    else if (typeof p.endPort === 'number' && p.endPort < start) ctx.addIssue({ code: 'custom', path: ['endPort'], message: `must be at least port (${start}), got ${p.endPort}` });
  });

const portRule = (deny: boolean) =>
  z
    .object({
      ports: z.array(portProtocol).min(1, 'at least one port is required'),
      rules: notSupported(deny ? 'L7 rules cannot be part of a deny rule' : 'L7 rules need a proxy'),
      listener: notSupported('Envoy listeners'),
      originatingTLS: notSupported('TLS interception'),
      terminatingTLS: notSupported('TLS interception'),
      serverNames: notSupported('TLS SNI matching'),
    })
    .strict()
    .superRefine((r, ctx) => void (r.ports === undefined && ctx.addIssue({ code: 'custom', path: ['ports'], message: 'required' })));

/** The L3 peer fields of a rule: at most one may be set, as Cilium's own validation demands. */
const L3_FIELDS = {
  ingress: ['fromEndpoints', 'fromEntities', 'fromCIDR', 'fromCIDRSet'],
  egress: ['toEndpoints', 'toEntities', 'toCIDR', 'toCIDRSet'],
} as const;

function peerRule(direction: 'ingress' | 'egress', deny: boolean) {
  const [endpoints, entities, cidr, cidrSet] = L3_FIELDS[direction];
  const shape: z.ZodRawShape = {
    [endpoints]: z.array(selector(true)).optional(),
    [entities]: z.array(rule(entity)).optional(),
    [cidr]: z.array(rule(cidrCheck)).optional(),
    [cidrSet]: z.array(cidrRule).optional(),
    toPorts: z.array(portRule(deny)).optional(),
    icmps: notSupported('ICMP type rules'),
    authentication: notSupported('mutual authentication'),
  };
  if (direction === 'ingress') {
    Object.assign(shape, { fromRequires: notSupported('requirement selectors'), fromNodes: notSupported('node selectors'), fromGroups: notSupported('cloud provider groups') });
  } else {
    Object.assign(shape, {
      toRequires: notSupported('requirement selectors'),
      toNodes: notSupported('node selectors'),
      toGroups: notSupported('cloud provider groups'),
      toServices: notSupported('service selectors in policy'),
      toFQDNs: notSupported('a DNS proxy'),
    });
  }
  return z
    .object(shape)
    .strict()
    .superRefine((r, ctx) => {
      const set = L3_FIELDS[direction].filter((k) => r[k] !== undefined);
      if (set.length > 1) ctx.addIssue({ code: 'custom', path: [set[1]!], message: `cannot be combined with ${set[0]} in one rule (Cilium rejects it too); write two rules` });
    });
}

/** One Cilium rule (a CiliumNetworkPolicy's `spec`, or an item of `specs`). */
export const ciliumRuleSchema = z
  .object({
    endpointSelector: selector(true).optional(),
    ingress: z.array(peerRule('ingress', false)).optional(),
    ingressDeny: z.array(peerRule('ingress', true)).optional(),
    egress: z.array(peerRule('egress', false)).optional(),
    egressDeny: z.array(peerRule('egress', true)).optional(),
    description: rule(str).optional(),
    labels: z.array(z.object({ key: rule(str), value: rule(str).optional(), source: rule(str).optional() }).strict()).optional(),
    nodeSelector: notSupported('host policies'),
    enableDefaultDeny: notSupported('default-deny overrides; a rule with ingress or egress sections always enables default deny in that direction'),
    log: notSupported('policy logging'),
  })
  .strict()
  .superRefine((r, ctx) => void (r.endpointSelector === undefined && ctx.addIssue({ code: 'custom', path: ['endpointSelector'], message: 'required' })));
