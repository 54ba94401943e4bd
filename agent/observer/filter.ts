// Hubble's FlowFilter (flow.proto) and its semantics (pkg/hubble/filters): within one filter every set
// field must match (AND), within a field any listed value may match (OR); a whitelist matches when any
// of its filters does; the result is the whitelist (or everything, when it is empty) minus what the
// blacklist matches. Filters are checked against the Flow as served, so a flow passes exactly when a
// Hubble user would expect it to.
import { matchesLabelSelector, parseLabelSelector, type LabelRequirement } from './label-selector.js';
import type { Flow, FlowEndpoint, TcpFlagsJson } from './flow.js';
import { DROP_REASON_NAMES, TRAFFIC_DIRECTION, VERDICT, type TrafficDirectionName, type VerdictName } from './names.js';

export interface EventTypeFilter {
  type: number;
  match_sub_type?: boolean;
  sub_type?: number;
}

export interface FlowFilter {
  uuid?: string[];
  source_ip?: string[];
  source_pod?: string[];
  source_label?: string[];
  source_identity?: number[];
  destination_ip?: string[];
  destination_pod?: string[];
  destination_label?: string[];
  destination_identity?: number[];
  traffic_direction?: TrafficDirectionName[];
  verdict?: VerdictName[];
  drop_reason_desc?: string[];
  event_type?: EventTypeFilter[];
  http_status_code?: string[];
  protocol?: string[];
  source_port?: string[];
  destination_port?: string[];
  reply?: boolean[];
  dns_query?: string[];
  http_method?: string[];
  http_path?: string[];
  tcp_flags?: TcpFlagsJson[];
  node_name?: string[];
  ip_version?: string[];
}

export type FlowPredicate = (f: Flow) => boolean;

export class FilterError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function ipToU32(ip: string): number | undefined {
  const m = IPV4.exec(ip);
  if (!m) return undefined;
  const p = m.slice(1).map(Number);
  if (p.some((x) => x > 255)) return undefined;
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

function ipMatcher(field: string, specs: string[]): (ip: string | undefined) => boolean {
  const nets = specs.map((s) => {
    const [addr, len] = s.split('/');
    const base = ipToU32(addr ?? '');
    const bits = len === undefined ? 32 : Number(len);
    if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32 || (len !== undefined && !/^\d+$/.test(len))) {
      throw new FilterError(field, `expected an IPv4 address or CIDR, got "${s}"`);
    }
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return { net: (base & mask) >>> 0, mask };
  });
  return (ip) => {
    const v = ip === undefined ? undefined : ipToU32(ip);
    return v !== undefined && nets.some((n) => ((v & n.mask) >>> 0) === n.net);
  };
}

/** "ns/prefix", "ns/" (the whole namespace) or "prefix" (namespace "default"), as Hubble reads them. */
function podMatcher(field: string, specs: string[]): (e: FlowEndpoint | undefined) => boolean {
  const parsed = specs.map((s) => {
    if (!s) throw new FilterError(field, 'expected [namespace/][pod name prefix], got an empty string');
    const i = s.indexOf('/');
    return i >= 0 ? { ns: s.slice(0, i), prefix: s.slice(i + 1) } : { ns: 'default', prefix: s };
  });
  return (e) => {
    if (!e?.pod_name && !e?.namespace) return false;
    return parsed.some((p) => (p.ns === '' || e.namespace === p.ns) && (e.pod_name ?? '').startsWith(p.prefix) && (p.prefix === '' || !!e.pod_name));
  };
}

function labelMatcher(field: string, specs: string[]): (e: FlowEndpoint | undefined) => boolean {
  let selectors: LabelRequirement[][];
  try {
    selectors = specs.map(parseLabelSelector);
  } catch (err) {
    throw new FilterError(field, (err as Error).message);
  }
  return (e) => selectors.some((sel) => matchesLabelSelector(sel, e?.labels ?? []));
}

function portsOf(f: Flow): { src?: number; dst?: number } {
  const l4 = f.l4?.TCP ?? f.l4?.UDP;
  return l4 ? { src: l4.source_port ?? 0, dst: l4.destination_port ?? 0 } : {};
}

function portMatcher(field: string, specs: string[]): (p: number | undefined) => boolean {
  const ports = specs.map((s) => {
    const n = Number(s);
    if (!/^\d+$/.test(String(s)) || n > 65535) throw new FilterError(field, `expected a port 0-65535, got "${s}"`);
    return n;
  });
  return (p) => p !== undefined && ports.includes(p);
}

/** A flow's protocol names as Hubble's protocol filter sees them (l4 and l7). */
function protocolsOf(f: Flow): string[] {
  const out: string[] = [];
  if (f.l4?.TCP) out.push('tcp');
  if (f.l4?.UDP) out.push('udp');
  if (f.l4?.ICMPv4) out.push('icmp', 'icmpv4');
  if (f.l7?.http) out.push('http');
  if (f.l7?.dns) out.push('dns');
  return out;
}

const KNOWN_PROTOCOLS = new Set(['tcp', 'udp', 'icmp', 'icmpv4', 'icmpv6', 'sctp', 'http', 'dns', 'kafka']);

/** "404" exact, "4+" any 4xx, "40+" 400-409, as Hubble's http_status_code. */
function statusMatcher(specs: string[]): (code: number | undefined) => boolean {
  const pats = specs.map((s) => {
    if (!/^\d{1,3}\+?$/.test(s)) throw new FilterError('http_status_code', `expected a status like 404, 4+ or 40+, got "${s}"`);
    return s;
  });
  return (code) => {
    if (!code) return false;
    const c = String(code);
    return pats.some((p) => (p.endsWith('+') ? c.startsWith(p.slice(0, -1)) && c.length === 3 : c === p));
  };
}

function regexes(field: string, specs: string[]): RegExp[] {
  return specs.map((s) => {
    try {
      return new RegExp(s);
    } catch (e) {
      throw new FilterError(field, `not a regular expression: ${(e as Error).message}`);
    }
  });
}

/** Node name patterns: "node1", "node*", "cluster/node1" (a cluster prefix is ignored: one cluster). */
function nodeMatcher(specs: string[]): (n: string) => boolean {
  const res = specs.map((s) => {
    const name = s.includes('/') ? s.slice(s.indexOf('/') + 1) || '*' : s;
    return new RegExp(`^${name.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  });
  return (n) => res.some((r) => r.test(n));
}

function enumList<T extends string>(field: string, values: readonly string[] | undefined, known: Record<string, number>): T[] | undefined {
  if (!values?.length) return undefined;
  for (const v of values) if (!(v in known)) throw new FilterError(field, `unknown value "${v}" (expected one of ${Object.keys(known).join(', ')})`);
  return values as T[];
}

/** Compiles one FlowFilter; throws FilterError naming the field on bad input. */
export function compileFilter(ff: FlowFilter): FlowPredicate {
  const checks: FlowPredicate[] = [];
  const nonEmpty = <T>(v: T[] | undefined): v is T[] => Array.isArray(v) && v.length > 0;
  if (nonEmpty(ff.uuid)) { const set = new Set(ff.uuid); checks.push((f) => f.uuid !== undefined && set.has(f.uuid)); }
  if (nonEmpty(ff.source_ip)) { const m = ipMatcher('source_ip', ff.source_ip); checks.push((f) => m(f.IP?.source)); }
  if (nonEmpty(ff.destination_ip)) { const m = ipMatcher('destination_ip', ff.destination_ip); checks.push((f) => m(f.IP?.destination)); }
  if (nonEmpty(ff.source_pod)) { const m = podMatcher('source_pod', ff.source_pod); checks.push((f) => m(f.source)); }
  if (nonEmpty(ff.destination_pod)) { const m = podMatcher('destination_pod', ff.destination_pod); checks.push((f) => m(f.destination)); }
  if (nonEmpty(ff.source_label)) { const m = labelMatcher('source_label', ff.source_label); checks.push((f) => m(f.source)); }
  if (nonEmpty(ff.destination_label)) { const m = labelMatcher('destination_label', ff.destination_label); checks.push((f) => m(f.destination)); }
  if (nonEmpty(ff.source_identity)) { const s = new Set(ff.source_identity.map(Number)); checks.push((f) => s.has(f.source?.identity ?? 0)); }
  if (nonEmpty(ff.destination_identity)) { const s = new Set(ff.destination_identity.map(Number)); checks.push((f) => s.has(f.destination?.identity ?? 0)); }
  const dirs = enumList<TrafficDirectionName>('traffic_direction', ff.traffic_direction, TRAFFIC_DIRECTION);
  if (dirs) checks.push((f) => dirs.includes(f.traffic_direction ?? 'TRAFFIC_DIRECTION_UNKNOWN'));
  const verdicts = enumList<VerdictName>('verdict', ff.verdict, VERDICT);
  if (verdicts) checks.push((f) => verdicts.includes(f.verdict));
  const reasonsByName = Object.fromEntries(Object.values(DROP_REASON_NAMES).map((n, i) => [n, i]));
  const reasons = enumList<string>('drop_reason_desc', ff.drop_reason_desc, reasonsByName);
  if (reasons) checks.push((f) => reasons.includes(f.drop_reason_desc ?? 'DROP_REASON_UNKNOWN'));
  if (nonEmpty(ff.event_type)) {
    const types = ff.event_type;
    checks.push((f) => types.some((t) => f.event_type.type === Number(t.type) && (!t.match_sub_type || (f.event_type.sub_type ?? 0) === Number(t.sub_type ?? 0))));
  }
  if (nonEmpty(ff.http_status_code)) { const m = statusMatcher(ff.http_status_code); checks.push((f) => f.l7?.type === 'RESPONSE' && m(f.l7.http?.code)); }
  if (nonEmpty(ff.protocol)) {
    const wanted = ff.protocol.map((p) => p.toLowerCase());
    for (const p of wanted) if (!KNOWN_PROTOCOLS.has(p)) throw new FilterError('protocol', `unknown protocol "${p}" (expected one of ${[...KNOWN_PROTOCOLS].join(', ')})`);
    checks.push((f) => protocolsOf(f).some((p) => wanted.includes(p)));
  }
  if (nonEmpty(ff.source_port)) { const m = portMatcher('source_port', ff.source_port); checks.push((f) => m(portsOf(f).src)); }
  if (nonEmpty(ff.destination_port)) { const m = portMatcher('destination_port', ff.destination_port); checks.push((f) => m(portsOf(f).dst)); }
  if (nonEmpty(ff.reply)) { const r = ff.reply; checks.push((f) => f.is_reply !== undefined && r.includes(f.is_reply)); }
  if (nonEmpty(ff.dns_query)) { const res = regexes('dns_query', ff.dns_query); checks.push((f) => f.l7?.dns?.query !== undefined && res.some((r) => r.test(f.l7!.dns!.query!))); }
  if (nonEmpty(ff.http_method)) { const ms = ff.http_method.map((m) => m.toUpperCase()); checks.push((f) => f.l7?.http?.method !== undefined && ms.includes(f.l7.http.method.toUpperCase())); }
  if (nonEmpty(ff.http_path)) {
    const res = regexes('http_path', ff.http_path);
    checks.push((f) => {
      const url = f.l7?.http?.url;
      if (!url) return false;
      const path = url.replace(/^[a-z]+:\/\/[^/]*/i, '').replace(/\?.*$/, '') || '/';
      return res.some((r) => r.test(path));
    });
  }
  if (nonEmpty(ff.tcp_flags)) {
    const sets = ff.tcp_flags.map((fl) => Object.entries(fl).filter(([, v]) => v).map(([k]) => k as keyof TcpFlagsJson));
    checks.push((f) => {
      const flags = f.l4?.TCP?.flags;
      return !!flags && sets.some((set) => set.length > 0 && set.every((k) => flags[k]));
    });
  }
  if (nonEmpty(ff.node_name)) { const m = nodeMatcher(ff.node_name); checks.push((f) => m(f.node_name)); }
  if (nonEmpty(ff.ip_version)) { const v = ff.ip_version; checks.push((f) => !!f.IP && v.includes(f.IP.ipVersion)); }
  return (f) => checks.every((c) => c(f));
}

/** Whitelist (OR'ed; empty means everything) minus blacklist (OR'ed). */
export function compileFilters(whitelist: FlowFilter[] = [], blacklist: FlowFilter[] = []): FlowPredicate {
  const wl = whitelist.map(compileFilter);
  const bl = blacklist.map(compileFilter);
  if (wl.length === 0 && bl.length === 0) return () => true;
  return (f) => (wl.length === 0 || wl.some((p) => p(f))) && !bl.some((p) => p(f));
}
