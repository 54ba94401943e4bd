// Hubble's flow metrics (pkg/hubble/metrics: flow, drop, tcp, port-distribution, icmp, dns, http) with
// their names, label names and labelsContext / sourceContext / destinationContext options, exposed with
// prom-client. Counting is on the ingest path of every event, so it works on a reused view of the raw
// record and bumps a plain Map entry per series; prom-client's counters are brought up to date when
// the registry is read (collect), which keeps the per-event cost at a few string and map operations.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ContextOptions, MetricSpec } from '../../lib/hubble-config.js';
import type { FlowEndpoint, Layer7Json } from './flow.js';
import { DNS_RCODE_NAMES, DROP_REASON_NAMES, icmpv4TypeCodeName, MONITOR_TYPE, TRACE_POINT_NAMES, type VerdictName } from './names.js';

/** What the handlers need of one event; the observer fills one reused instance per event. */
export interface MetricEvent {
  monitorType: number;
  subType: number;
  verdict: VerdictName;
  /** IP protocol number. */
  proto: number;
  tcpFlags: number;
  dstPort: number;
  /** The deprecated `reply` field: true only for replies of traces and L7 records. */
  reply: boolean;
  icmpType: number;
  icmpCode: number;
  /** 1 ingress, 2 egress, 0 unknown. */
  direction: number;
  dropReason: number;
  l7?: Layer7Json;
  /** Endpoints and addresses, resolved only when a context option needs them. */
  context(): { srcIp: string; dstIp: string; source: FlowEndpoint; destination: FlowEndpoint };
}

const SEP = '\u0001';

/** A prom-client Counter whose increments are summed in a Map between scrapes. Handlers without
 *  context labels (the default) use incFast: the series is found by a small number computed from the
 *  record's fields, and its label values are built once, when the series first appears — no array,
 *  join or string key per event (which was half of the ingest time). */
class AggCounter {
  private pending = new Map<string, number>();
  private readonly fast = new Map<number, { values: string[]; n: number }>();
  readonly counter: Counter<string>;

  /** beforeCollect: brings pending counts in (the signature counter) before the series are read. */
  constructor(registry: Registry, name: string, help: string, readonly labelNames: string[], beforeCollect: () => void = () => undefined) {
    const self = this;
    this.counter = new Counter({ name, help, labelNames, registers: [registry], collect() { beforeCollect(); self.flush(); } });
  }

  inc(values: string[], by = 1): void {
    const key = values.join(SEP);
    this.pending.set(key, (this.pending.get(key) ?? 0) + by);
  }

  incFast(key: number, values: () => string[], by = 1): void {
    const f = this.fast.get(key);
    if (f) f.n += by;
    else this.fast.set(key, { values: values(), n: by });
  }

  flush(): void {
    for (const [key, n] of this.pending) this.add(key.split(SEP), n);
    this.pending.clear();
    for (const f of this.fast.values()) {
      if (f.n) this.add(f.values, f.n);
      f.n = 0;
    }
  }

  private add(values: string[], n: number): void {
    const labels: Record<string, string> = {};
    this.labelNames.forEach((l, i) => (labels[l] = values[i] ?? ''));
    this.counter.inc(labels, n);
  }
}

function protocolName(e: MetricEvent): string {
  if (e.monitorType === MONITOR_TYPE.l7) return e.l7?.dns ? 'DNS' : e.l7?.http ? 'HTTP' : 'Unknown L7';
  switch (e.proto) {
    case 6: return 'TCP';
    case 17: return 'UDP';
    case 1: return 'ICMPv4';
    case 58: return 'ICMPv6';
    case 132: return 'SCTP';
    default: return 'Unknown L4';
  }
}

const APP_LABELS = ['k8s:app.kubernetes.io/name=', 'k8s:k8s-app=', 'k8s:app='];
function appOf(labels: string[] | undefined): string {
  for (const prefix of APP_LABELS) {
    const l = labels?.find((x) => x.startsWith(prefix));
    if (l && l.length > prefix.length) return l.slice(prefix.length);
  }
  return '';
}

function shortPod(name: string): string {
  return name.replace(/^(.+?)(-[a-z0-9]+){1,2}$/, '$1');
}

function identifierValue(id: string, ep: FlowEndpoint, ip: string): string {
  const withNs = (n: string) => (ep.namespace ? `${ep.namespace}/${n}` : n);
  switch (id) {
    case 'identity': return (ep.labels ?? []).join(',');
    case 'namespace': return ep.namespace ?? '';
    case 'pod': return ep.pod_name || ep.namespace ? withNs(ep.pod_name ?? '') : '';
    case 'pod-short': return ep.pod_name || ep.namespace ? withNs(shortPod(ep.pod_name ?? '')) : '';
    case 'dns': return '';
    case 'ip': return ip;
    case 'reserved-identity': return ep.labels?.find((l) => l === 'reserved:kube-apiserver') ?? ep.labels?.find((l) => l.startsWith('reserved:')) ?? '';
    default: return '';
  }
}

/** Label names and values of a handler's context options, in Hubble's order. */
export class MetricContext {
  readonly names: string[];
  readonly empty: boolean;

  constructor(private readonly o: ContextOptions) {
    this.names = [...o.labels, ...(o.source.length ? ['source'] : []), ...(o.destination.length ? ['destination'] : [])];
    this.empty = this.names.length === 0;
  }

  values(e: MetricEvent): string[] {
    if (this.empty) return [];
    const c = e.context();
    const out: string[] = [];
    for (const l of this.o.labels) {
      switch (l) {
        case 'source_ip': out.push(c.srcIp); break;
        case 'source_pod': out.push(c.source.pod_name ?? ''); break;
        case 'source_namespace': out.push(c.source.namespace ?? ''); break;
        case 'source_workload': out.push(''); break;
        case 'source_app': out.push(appOf(c.source.labels)); break;
        case 'destination_ip': out.push(c.dstIp); break;
        case 'destination_pod': out.push(c.destination.pod_name ?? ''); break;
        case 'destination_namespace': out.push(c.destination.namespace ?? ''); break;
        case 'destination_workload': out.push(''); break;
        case 'destination_app': out.push(appOf(c.destination.labels)); break;
        case 'traffic_direction': out.push(e.direction === 1 ? 'ingress' : e.direction === 2 ? 'egress' : 'unknown'); break;
      }
    }
    // "always use first non-empty context"
    const pick = (ids: string[], ep: FlowEndpoint, ip: string) => ids.map((id) => identifierValue(id, ep, ip)).find((v) => v !== '') ?? '';
    if (this.o.source.length) out.push(pick(this.o.source, c.source, c.srcIp));
    if (this.o.destination.length) out.push(pick(this.o.destination, c.destination, c.dstIp));
    return out;
  }
}

/** n: how many events this one stands for (the signature counter's count; 1 on the per-event path). */
type Handler = (e: MetricEvent, n: number) => void;

const VERDICTS: VerdictName[] = ['FORWARDED', 'DROPPED', 'ERROR', 'AUDIT', 'REDIRECTED', 'TRACED', 'TRANSLATED'];
function verdictIndex(v: VerdictName): number {
  const i = VERDICTS.indexOf(v);
  return i < 0 ? 7 : i;
}

function makeHandler(spec: MetricSpec, registry: Registry, pre: () => void): { handler: Handler; contextFree: boolean } {
  const ctx = new MetricContext(spec.context);
  const handler = makeCounting(spec, registry, ctx, pre);
  return { handler, contextFree: ctx.empty };
}

function makeCounting(spec: MetricSpec, registry: Registry, ctx: MetricContext, pre: () => void): Handler {
  const cn = ctx.names;
  switch (spec.name) {
    case 'flow': {
      const c = new AggCounter(registry, 'hubble_flows_processed_total', 'Total number of flows processed', ['protocol', 'type', 'subtype', 'verdict', ...cn], pre);
      const slow = (e: MetricEvent) => {
        let type: string;
        let sub = '';
        switch (e.monitorType) {
          case MONITOR_TYPE.l7: type = 'L7'; sub = e.l7?.dns ? 'DNS' : e.l7?.http ? 'HTTP' : ''; break;
          case MONITOR_TYPE.drop: type = 'Drop'; break;
          case MONITOR_TYPE.trace: type = 'Trace'; sub = TRACE_POINT_NAMES[e.subType] ?? ''; break;
          case MONITOR_TYPE['policy-verdict']: type = 'PolicyVerdict'; break;
          // Socket-LB translations; sub-type the SocketTranslationPoint number.
          case MONITOR_TYPE['trace-sock']: type = 'SockTrace'; sub = String(e.subType); break;
          default: type = 'Unknown'; sub = String(e.monitorType);
        }
        return [protocolName(e), type, sub, e.verdict];
      };
      return (e, n) => {
        // One series per (protocol, monitor type, sub-type, verdict) when no context label splits it;
        // L7 records (sub-type from the parsed payload) take the general path.
        if (ctx.empty && e.monitorType !== MONITOR_TYPE.l7) c.incFast(e.proto | (e.monitorType << 8) | (e.subType << 16) | (verdictIndex(e.verdict) << 24), () => slow(e), n);
        else c.inc([...slow(e), ...ctx.values(e)], n);
      };
    }
    case 'drop': {
      const c = new AggCounter(registry, 'hubble_drop_total', 'Number of drops', ['reason', 'protocol', ...cn], pre);
      return (e, n) => {
        if (e.verdict !== 'DROPPED') return;
        c.inc([DROP_REASON_NAMES[e.dropReason] ?? `DROP_REASON_${e.dropReason}`, protocolName(e), ...ctx.values(e)], n);
      };
    }
    case 'tcp': {
      const c = new AggCounter(registry, 'hubble_tcp_flags_total', 'TCP flag occurrences', ['flag', 'family', ...cn], pre);
      return (e, n) => {
        if (e.verdict !== 'FORWARDED' || e.proto !== 6 || e.monitorType === MONITOR_TYPE.l7) return;
        const f = e.tcpFlags;
        if (!(f & 0x07)) return;
        if (ctx.empty) {
          if (f & 0x02) c.incFast(f & 0x10 ? 1 : 0, () => [f & 0x10 ? 'SYN-ACK' : 'SYN', 'IPv4'], n);
          if (f & 0x01) c.incFast(2, () => ['FIN', 'IPv4'], n);
          if (f & 0x04) c.incFast(3, () => ['RST', 'IPv4'], n);
          return;
        }
        const v = ctx.values(e);
        if (f & 0x02) c.inc([f & 0x10 ? 'SYN-ACK' : 'SYN', 'IPv4', ...v], n);
        if (f & 0x01) c.inc(['FIN', 'IPv4', ...v], n);
        if (f & 0x04) c.inc(['RST', 'IPv4', ...v], n);
      };
    }
    case 'port-distribution': {
      const c = new AggCounter(registry, 'hubble_port_distribution_total', 'Numbers of packets distributed by destination port', ['protocol', 'port', ...cn], pre);
      return (e, n) => {
        if (e.verdict !== 'FORWARDED' || e.reply || e.monitorType === MONITOR_TYPE.l7 || (e.proto !== 6 && e.proto !== 17) || !e.dstPort) return;
        if (ctx.empty) c.incFast(e.proto * 65536 + e.dstPort, () => [protocolName(e), String(e.dstPort)], n);
        else c.inc([protocolName(e), String(e.dstPort), ...ctx.values(e)], n);
      };
    }
    case 'icmp': {
      const c = new AggCounter(registry, 'hubble_icmp_total', 'Number of ICMP messages', ['family', 'type', ...cn], pre);
      return (e, n) => {
        if (e.proto !== 1 || e.monitorType === MONITOR_TYPE.l7) return;
        if (ctx.empty) c.incFast((e.icmpType << 8) | e.icmpCode, () => ['IPv4', icmpv4TypeCodeName(e.icmpType, e.icmpCode)], n);
        else c.inc(['IPv4', icmpv4TypeCodeName(e.icmpType, e.icmpCode), ...ctx.values(e)], n);
      };
    }
    case 'dns': {
      const query = spec.flags.includes('query');
      const ignoreAAAA = spec.flags.includes('ignoreaaaa');
      const qr = [...cn, 'rcode', 'qtypes', 'ips_returned', ...(query ? ['query'] : [])];
      const queries = new AggCounter(registry, 'hubble_dns_queries_total', 'Number of DNS queries observed', qr, pre);
      const responses = new AggCounter(registry, 'hubble_dns_responses_total', 'Number of DNS responses observed', qr, pre);
      const types = new AggCounter(registry, 'hubble_dns_response_types_total', 'Number of DNS response types', [...cn, 'type', 'qtypes', ...(query ? ['query'] : [])], pre);
      return (e, n) => {
        const d = e.l7?.dns;
        if (!d) return;
        if (ignoreAAAA && d.qtypes?.length === 1 && d.qtypes[0] === 'AAAA') return;
        const v = ctx.values(e);
        const qtypes = (d.qtypes ?? []).join(',');
        const q = query ? [d.query ?? ''] : [];
        if (e.verdict === 'DROPPED') queries.inc([...v, 'Policy denied', qtypes, String(d.ips?.length ?? 0), ...q], n);
        else if (e.l7!.type === 'REQUEST') queries.inc([...v, '', qtypes, String(d.ips?.length ?? 0), ...q], n);
        else {
          responses.inc([...v, DNS_RCODE_NAMES[d.rcode ?? 0] ?? String(d.rcode), qtypes, String(d.ips?.length ?? 0), ...q], n);
          for (const t of d.rrtypes ?? []) types.inc([...v, t, qtypes, ...q], n);
        }
      };
    }
    case 'http': {
      const requests = new AggCounter(registry, 'hubble_http_requests_total', 'Count of HTTP requests', [...cn, 'method', 'protocol', 'reporter'], pre);
      const responses = new AggCounter(registry, 'hubble_http_responses_total', 'Count of HTTP responses', [...cn, 'method', 'protocol', 'status', 'reporter'], pre);
      const duration = new Histogram({ name: 'hubble_http_request_duration_seconds', help: 'Quantiles of HTTP request duration in seconds', labelNames: [...cn, 'method', 'reporter'], registers: [registry] });
      return (e, n) => {
        const h = e.l7?.http;
        if (!h) return;
        const v = ctx.values(e);
        const reporter = e.direction === 2 ? 'client' : e.direction === 1 ? 'server' : 'unknown';
        if (e.l7!.type === 'REQUEST') requests.inc([...v, h.method ?? '', h.protocol ?? '', reporter], n);
        else if (e.l7!.type === 'RESPONSE') {
          responses.inc([...v, h.method ?? '', h.protocol ?? '', String(h.code ?? 0), reporter], n);
          const labels: Record<string, string> = { method: h.method ?? '', reporter };
          cn.forEach((name, i) => (labels[name] = v[i] ?? ''));
          for (let i = 0; i < n; i++) duration.observe(labels, Number(e.l7!.latency_ns ?? 0) / 1e9);
        }
      };
    }
  }
}

/** The node's metrics registry: Hubble's handlers plus the lost-events counter. */
export class HubbleMetrics {
  readonly registry = new Registry();
  private readonly handlers: Handler[];
  private readonly lost: AggCounter;
  private readonly collectHooks: Array<() => void> = [];
  /** No handler has context labels: an event's series depend on its record's own fields alone (what
   *  the signature counter needs). */
  readonly contextFree: boolean;

  constructor(specs: MetricSpec[]) {
    const pre = () => {
      for (const h of this.collectHooks) h();
    };
    const made = specs.map((s) => makeHandler(s, this.registry, pre));
    this.handlers = made.map((m) => m.handler);
    this.contextFree = made.every((m) => m.contextFree);
    this.lost = new AggCounter(this.registry, 'hubble_lost_events_total', 'Number of lost events', ['source']);
  }

  /** n: how many identical events `e` stands for. */
  observe(e: MetricEvent, n = 1): void {
    for (let i = 0; i < this.handlers.length; i++) this.handlers[i]!(e, n);
  }

  /** fn runs before any Hubble series is read (a scrape): counts held elsewhere are brought in. */
  beforeCollect(fn: () => void): void {
    this.collectHooks.push(fn);
  }

  lostEvents(source: string, n: number): void {
    this.lost.inc([source.toLowerCase()], n);
  }

  gauge(name: string, help: string, labelNames: string[], collect: (g: Gauge<string>) => void): void {
    new Gauge({ name, help, labelNames, registers: [this.registry], collect() { collect(this); } });
  }

  counter(name: string, help: string, labelNames: string[], collect: (c: Counter<string>) => void): void {
    new Counter({ name, help, labelNames, registers: [this.registry], collect() { collect(this); } });
  }
}
