// `cnilab observe` filter flags → Hubble FlowFilters, the way the hubble CLI builds them: flags that name
// either side (--pod, --ip, --label, --namespace, --port, --identity) make two filters, one on the
// source and one on the destination, which are OR'ed; --from-* and --to-* and the flags that name no
// side (--verdict, --protocol, --type, ...) are added to both. `--not` sends the next filter flag to
// the blacklist instead. Pure: unit-tested without a cluster.
import type { EventTypeFilter, FlowFilter } from '../../agent/observer/filter.js';
import { compileFilter } from '../../agent/observer/filter.js';
import { DROP_REASON_BY_NAME, MONITOR_TYPE, TRACE_POINT_BY_NAME, VERDICT_NAMES, type TrafficDirectionName, type VerdictName } from '../../agent/observer/names.js';
import { InvalidInputError } from '../errors.js';

type Side = 'either' | 'from' | 'to' | 'both';
type ListKey = { [K in keyof FlowFilter]-?: FlowFilter[K] extends unknown[] | undefined ? K : never }[keyof FlowFilter];

/** Filter flags: name → [side, source-side field, destination-side field]. */
const SIDED: Record<string, [Side, ListKey, ListKey?]> = {
  pod: ['either', 'source_pod', 'destination_pod'],
  'from-pod': ['from', 'source_pod'],
  'to-pod': ['to', 'destination_pod'],
  namespace: ['either', 'source_pod', 'destination_pod'],
  'from-namespace': ['from', 'source_pod'],
  'to-namespace': ['to', 'destination_pod'],
  ip: ['either', 'source_ip', 'destination_ip'],
  'from-ip': ['from', 'source_ip'],
  'to-ip': ['to', 'destination_ip'],
  label: ['either', 'source_label', 'destination_label'],
  'from-label': ['from', 'source_label'],
  'to-label': ['to', 'destination_label'],
  port: ['either', 'source_port', 'destination_port'],
  'from-port': ['from', 'source_port'],
  'to-port': ['to', 'destination_port'],
  identity: ['either', 'source_identity', 'destination_identity'],
  'from-identity': ['from', 'source_identity'],
  'to-identity': ['to', 'destination_identity'],
  verdict: ['both', 'verdict'],
  protocol: ['both', 'protocol'],
  type: ['both', 'event_type'],
  node: ['both', 'node_name'],
  'node-name': ['both', 'node_name'],
  'http-status': ['both', 'http_status_code'],
  'http-method': ['both', 'http_method'],
  'http-path': ['both', 'http_path'],
  'dns-query': ['both', 'dns_query'],
  'traffic-direction': ['both', 'traffic_direction'],
  'tcp-flags': ['both', 'tcp_flags'],
  'drop-reason': ['both', 'drop_reason_desc'],
  uuid: ['both', 'uuid'],
};
export const FILTER_FLAGS = Object.keys(SIDED);

/** --type drop | trace[:to-endpoint] | policy-verdict | l7 | capture | trace-sock | number[:number] */
export function parseEventType(v: string): EventTypeFilter {
  const [t, sub] = v.split(':', 2) as [string, string | undefined];
  const names = MONITOR_TYPE as Record<string, number>;
  const type = names[t] ?? (/^\d+$/.test(t) ? Number(t) : undefined);
  if (type === undefined) throw new InvalidInputError('--type', `unknown event type "${t}" (expected ${Object.keys(MONITOR_TYPE).join(', ')}, optionally with :SUBTYPE)`);
  if (sub === undefined) return { type };
  const subType = type === MONITOR_TYPE.trace ? TRACE_POINT_BY_NAME[sub] : undefined;
  const n = subType ?? (/^\d+$/.test(sub) ? Number(sub) : undefined);
  if (n === undefined) throw new InvalidInputError('--type', `unknown sub-type "${sub}" of ${t}${type === MONITOR_TYPE.trace ? ` (expected ${Object.keys(TRACE_POINT_BY_NAME).join(', ')})` : ''}`);
  return { type, match_sub_type: true, sub_type: n };
}

function value(flag: string, v: string, defaultNs: string): unknown {
  switch (flag) {
    case 'pod':
    case 'from-pod':
    case 'to-pod':
      return v.includes('/') ? v : `${defaultNs}/${v}`;
    case 'namespace':
    case 'from-namespace':
    case 'to-namespace':
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v)) throw new InvalidInputError(`--${flag}`, `"${v}" is not a namespace name`);
      return `${v}/`;
    case 'identity':
    case 'from-identity':
    case 'to-identity':
      if (!/^\d+$/.test(v)) throw new InvalidInputError(`--${flag}`, `expected a numeric identity, got "${v}"`);
      return Number(v);
    case 'verdict': {
      const u = v.toUpperCase();
      if (!(VERDICT_NAMES as string[]).includes(u)) throw new InvalidInputError('--verdict', `expected one of ${VERDICT_NAMES.join(', ')}, got "${v}"`);
      return u as VerdictName;
    }
    case 'traffic-direction': {
      const u = v.toUpperCase();
      if (u !== 'INGRESS' && u !== 'EGRESS') throw new InvalidInputError('--traffic-direction', `expected ingress or egress, got "${v}"`);
      return u as TrafficDirectionName;
    }
    case 'type':
      return parseEventType(v);
    case 'tcp-flags': {
      const flags: Record<string, true> = {};
      for (const f of v.split(',').map((x) => x.trim().toUpperCase())) {
        if (!['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR', 'NS'].includes(f)) throw new InvalidInputError('--tcp-flags', `unknown TCP flag "${f}"`);
        flags[f] = true;
      }
      return flags;
    }
    case 'drop-reason': {
      const u = v.toUpperCase();
      if (!(u in DROP_REASON_BY_NAME)) throw new InvalidInputError('--drop-reason', `unknown drop reason "${v}" (e.g. POLICY_DENIED, POLICY_DENY, FIB_LOOKUP_FAILED)`);
      return u;
    }
    default:
      return v;
  }
}

class FilterTracker {
  left?: FlowFilter;
  right?: FlowFilter;

  private add(which: 'left' | 'right', key: ListKey, v: unknown): void {
    const f = (this[which] ??= {});
    ((f[key] as unknown[] | undefined) ??= []).push(v);
  }

  /** either: the left filter on the source, the right one on the destination; otherwise both filters. */
  apply(side: Side, key: ListKey, otherKey: ListKey | undefined, v: unknown): void {
    this.add('left', key, v);
    this.add('right', side === 'either' ? otherKey! : key, v);
  }

  filters(): FlowFilter[] {
    if (!this.left && !this.right) return [];
    if (JSON.stringify(this.left) === JSON.stringify(this.right)) return [this.left!];
    return [this.left, this.right].filter((f): f is FlowFilter => f !== undefined);
  }
}

/**
 * Builds whitelist and blacklist from the ordered filter flags (parseArgs tokens: name and value;
 * "not" marks the next one as negated). Validates every filter as the observer will.
 */
export function buildFilters(tokens: Array<{ name: string; value?: string }>): { whitelist: FlowFilter[]; blacklist: FlowFilter[] } {
  const hasPodFlag = tokens.some((t) => t.name === 'pod' || t.name === 'from-pod' || t.name === 'to-pod');
  const defaultNs = tokens.find((t) => t.name === 'namespace')?.value ?? 'default';
  const white = new FilterTracker();
  const black = new FilterTracker();
  let negate = false;
  for (const t of tokens) {
    if (t.name === 'not') {
      negate = true;
      continue;
    }
    const spec = SIDED[t.name];
    if (!spec) continue;
    // With a pod flag, --namespace only says which namespace the pod names are in (as hubble).
    if (t.name === 'namespace' && hasPodFlag) continue;
    if (t.value === undefined || t.value === '') throw new InvalidInputError(`--${t.name}`, 'needs a value');
    const [side, key, otherKey] = spec;
    (negate ? black : white).apply(side, key, otherKey, value(t.name, t.value, defaultNs));
    negate = false;
  }
  if (negate) throw new InvalidInputError('--not', 'must be followed by a filter flag');
  const whitelist = white.filters();
  const blacklist = black.filters();
  for (const f of [...whitelist, ...blacklist]) {
    try {
      compileFilter(f);
    } catch (e) {
      const field = (e as { field?: string }).field ?? 'filter';
      throw new InvalidInputError(`filter ${field}`, (e as Error).message.replace(/^[a-z_]+: /, ''));
    }
  }
  return { whitelist, blacklist };
}
