// The `hubble:` section of a cluster file, shared by the harness (which validates it) and the agent
// (which applies it). Names follow Cilium's Helm values where one exists:
//   hubble:
//     enabled: true                       # trace events in the datapath and their decoding (drops always)
//     eventBufferCapacity: 4096           # flows kept per node (hubble.eventBufferCapacity)
//     monitorAggregation: medium          # trace aggregation in the datapath (Cilium's bpf.monitorAggregation:
//                                         # none, low, medium, maximum; bpf/lib/conntrack.h says what each emits)
//     metrics: [dns, drop, tcp, flow, port-distribution, icmp, http]   # hubble.metrics.enabled, with
//                                         # options as Hubble writes them: "drop:sourceContext=pod;..."
//     l7Visibility:                       # ports whose payload the datapath copies for L7 parsing
//       - {port: 53, protocol: UDP, parser: dns}
// Pure (no node: imports): the CLI, the agent and the unit tests all load it.

export const METRIC_HANDLERS = ['dns', 'drop', 'tcp', 'flow', 'port-distribution', 'icmp', 'http'] as const;
export type MetricHandlerName = (typeof METRIC_HANDLERS)[number];

/** labelsContext values, in the order Hubble emits them. */
export const CONTEXT_LABELS = [
  'source_ip', 'source_pod', 'source_namespace', 'source_workload', 'source_app',
  'destination_ip', 'destination_pod', 'destination_namespace', 'destination_workload', 'destination_app',
  'traffic_direction',
] as const;
export type ContextLabel = (typeof CONTEXT_LABELS)[number];

export const CONTEXT_IDENTIFIERS = ['identity', 'namespace', 'pod', 'pod-short', 'dns', 'ip', 'reserved-identity'] as const;
export type ContextIdentifier = (typeof CONTEXT_IDENTIFIERS)[number];

export interface ContextOptions {
  labels: ContextLabel[];
  source: ContextIdentifier[];
  destination: ContextIdentifier[];
}

export interface MetricSpec {
  name: MetricHandlerName;
  context: ContextOptions;
  /** Handler-specific switches ("query", "ignoreAAAA" for dns). */
  flags: string[];
}

export interface L7PortSpec {
  port: number;
  protocol: 'TCP' | 'UDP';
  parser: 'dns' | 'http';
}

/** Cilium's monitor aggregation levels (bpf.monitorAggregation). */
export const MONITOR_AGGREGATION_LEVELS = ['none', 'low', 'medium', 'maximum'] as const;
export type MonitorAggregation = (typeof MONITOR_AGGREGATION_LEVELS)[number];
/** Other spellings Cilium accepts for the same levels. */
const MONITOR_AGGREGATION_ALIASES: Record<string, MonitorAggregation> = { disabled: 'none', lowest: 'low', max: 'maximum' };
export const DEFAULT_MONITOR_AGGREGATION: MonitorAggregation = 'medium';

/** Whether the datapath reports where packets enter (the FROM_* observation points) at this level. */
export function reportsFromPoints(level: MonitorAggregation): boolean {
  return level === 'none' || level === 'medium';
}

export interface HubbleConfig {
  enabled: boolean;
  eventBufferCapacity: number;
  monitorAggregation: MonitorAggregation;
  metrics: MetricSpec[];
  l7Visibility: L7PortSpec[];
}

export const DEFAULT_EVENT_BUFFER_CAPACITY = 4096;
export const DEFAULT_METRICS = METRIC_HANDLERS.map((n) => n as string);
export const DEFAULT_L7_VISIBILITY: L7PortSpec[] = [
  { port: 53, protocol: 'UDP', parser: 'dns' },
  { port: 53, protocol: 'TCP', parser: 'dns' },
  { port: 80, protocol: 'TCP', parser: 'http' },
  { port: 8080, protocol: 'TCP', parser: 'http' },
];
/** At most this many ports get payload capture (the datapath's port map is this small). */
export const MAX_L7_PORTS = 32;

export class HubbleConfigError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

const DNS_FLAGS = ['query', 'ignoreaaaa'];

/** "drop:sourceContext=pod|namespace;destinationContext=pod;labelsContext=source_ip,traffic_direction". */
export function parseMetricSpec(text: string, field = 'hubble.metrics'): MetricSpec {
  const s = text.trim();
  const colon = s.indexOf(':');
  const name = (colon < 0 ? s : s.slice(0, colon)) as MetricHandlerName;
  if (!(METRIC_HANDLERS as readonly string[]).includes(name)) {
    throw new HubbleConfigError(field, `unknown metric "${name}" (expected one of ${METRIC_HANDLERS.join(', ')})`);
  }
  const spec: MetricSpec = { name, context: { labels: [], source: [], destination: [] }, flags: [] };
  if (colon < 0) return spec;
  for (const opt of s.slice(colon + 1).split(';').map((o) => o.trim()).filter(Boolean)) {
    const eq = opt.indexOf('=');
    const key = (eq < 0 ? opt : opt.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? '' : opt.slice(eq + 1);
    const ids = (): ContextIdentifier[] =>
      value.split('|').map((v) => {
        if (!(CONTEXT_IDENTIFIERS as readonly string[]).includes(v)) throw new HubbleConfigError(field, `${name}: unknown context "${v}" (expected ${CONTEXT_IDENTIFIERS.join('|')})`);
        return v as ContextIdentifier;
      });
    if (key === 'sourcecontext') spec.context.source = ids();
    else if (key === 'destinationcontext') spec.context.destination = ids();
    else if (key === 'labelscontext') {
      const wanted = value.split(',').map((v) => v.trim());
      for (const w of wanted) if (!(CONTEXT_LABELS as readonly string[]).includes(w)) throw new HubbleConfigError(field, `${name}: invalid labelsContext value "${w}" (expected ${CONTEXT_LABELS.join(', ')})`);
      spec.context.labels = CONTEXT_LABELS.filter((l) => wanted.includes(l));
    } else if (name === 'dns' && DNS_FLAGS.includes(key) && eq < 0) spec.flags.push(key);
    else throw new HubbleConfigError(field, `${name}: unknown option "${opt}"`);
  }
  return spec;
}

/** The metric's text as parseMetricSpec reads it (what the daemon writes into an agent's config file). */
export function formatMetricSpec(m: MetricSpec): string {
  const opts: string[] = [];
  if (m.context.source.length) opts.push(`sourceContext=${m.context.source.join('|')}`);
  if (m.context.destination.length) opts.push(`destinationContext=${m.context.destination.join('|')}`);
  if (m.context.labels.length) opts.push(`labelsContext=${m.context.labels.join(',')}`);
  opts.push(...m.flags);
  return opts.length ? `${m.name}:${opts.join(';')}` : m.name;
}

/** A resolved config as the raw mapping resolveHubbleConfig reads back unchanged. */
export function hubbleConfigToRaw(c: HubbleConfig): Record<string, unknown> {
  return { enabled: c.enabled, eventBufferCapacity: c.eventBufferCapacity, monitorAggregation: c.monitorAggregation, metrics: c.metrics.map(formatMetricSpec), l7Visibility: c.l7Visibility.map((p) => ({ ...p })) };
}

/** Validates the raw `hubble:` object of a cluster file (undefined: the defaults). */
export function resolveHubbleConfig(raw: unknown, field = 'hubble'): HubbleConfig {
  const r = (raw ?? {}) as Record<string, unknown>;
  if (typeof r !== 'object' || Array.isArray(r)) throw new HubbleConfigError(field, 'expected a mapping');
  for (const k of Object.keys(r)) if (!['enabled', 'eventBufferCapacity', 'monitorAggregation', 'metrics', 'l7Visibility'].includes(k)) throw new HubbleConfigError(`${field}.${k}`, 'unknown field');
  const enabled = r.enabled ?? true;
  if (typeof enabled !== 'boolean') throw new HubbleConfigError(`${field}.enabled`, 'expected true or false');
  const cap = r.eventBufferCapacity ?? DEFAULT_EVENT_BUFFER_CAPACITY;
  if (typeof cap !== 'number' || !Number.isInteger(cap) || cap < 1 || cap > 1 << 20) throw new HubbleConfigError(`${field}.eventBufferCapacity`, `expected a whole number from 1 to ${1 << 20}, got ${JSON.stringify(cap)}`);
  const aggRaw = r.monitorAggregation ?? DEFAULT_MONITOR_AGGREGATION;
  const aggName = typeof aggRaw === 'string' ? aggRaw.toLowerCase() : '';
  const monitorAggregation = MONITOR_AGGREGATION_ALIASES[aggName] ?? (MONITOR_AGGREGATION_LEVELS as readonly string[]).find((l) => l === aggName);
  if (!monitorAggregation) throw new HubbleConfigError(`${field}.monitorAggregation`, `expected one of ${MONITOR_AGGREGATION_LEVELS.join(', ')}, got ${JSON.stringify(aggRaw)}`);
  const metricsRaw = r.metrics ?? DEFAULT_METRICS;
  if (!Array.isArray(metricsRaw) || metricsRaw.some((m) => typeof m !== 'string')) throw new HubbleConfigError(`${field}.metrics`, 'expected a list of metric names (with options), e.g. [drop, "flow:sourceContext=pod"]');
  const metrics = metricsRaw.map((m, i) => parseMetricSpec(m as string, `${field}.metrics[${i}]`));
  const names = metrics.map((m) => m.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new HubbleConfigError(`${field}.metrics`, `metric "${dup}" listed twice`);
  const l7Raw = r.l7Visibility ?? DEFAULT_L7_VISIBILITY;
  if (!Array.isArray(l7Raw)) throw new HubbleConfigError(`${field}.l7Visibility`, 'expected a list of {port, protocol, parser}');
  if (l7Raw.length > MAX_L7_PORTS) throw new HubbleConfigError(`${field}.l7Visibility`, `at most ${MAX_L7_PORTS} entries`);
  const l7Visibility = l7Raw.map((e, i): L7PortSpec => {
    const at = `${field}.l7Visibility[${i}]`;
    const o = (e ?? {}) as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['port', 'protocol', 'parser'].includes(k)) throw new HubbleConfigError(`${at}.${k}`, 'unknown field');
    if (typeof o.port !== 'number' || !Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new HubbleConfigError(`${at}.port`, `expected a port 1-65535, got ${JSON.stringify(o.port)}`);
    const protocol = o.protocol ?? 'TCP';
    if (protocol !== 'TCP' && protocol !== 'UDP') throw new HubbleConfigError(`${at}.protocol`, `expected TCP or UDP, got ${JSON.stringify(protocol)}`);
    if (o.parser !== 'dns' && o.parser !== 'http') throw new HubbleConfigError(`${at}.parser`, `expected dns or http, got ${JSON.stringify(o.parser)}`);
    if (o.parser === 'http' && protocol !== 'TCP') throw new HubbleConfigError(`${at}.protocol`, 'HTTP is parsed on TCP only');
    return { port: o.port, protocol, parser: o.parser };
  });
  const keys = l7Visibility.map((p) => `${p.protocol}/${p.port}`);
  const dupPort = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dupPort) throw new HubbleConfigError(`${field}.l7Visibility`, `${dupPort} listed twice`);
  return { enabled, eventBufferCapacity: cap, monitorAggregation: monitorAggregation as MonitorAggregation, metrics, l7Visibility };
}

export function defaultHubbleConfig(): HubbleConfig {
  return resolveHubbleConfig(undefined);
}
