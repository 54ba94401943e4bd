// Datapath events → Hubble flows: the field names, nesting and enum names of api/v1/flow/flow.proto as
// protojson prints them with proto names (what `hubble observe -o json` shows): enums as names, uint64
// as strings, zero values left out, fields in the proto's declaration order. A Flow is built only when
// somebody reads it (lazy decoding): the ring keeps the raw records.
import type { DatapathEvent } from '../datapath/types.js';
import {
  DROP_REASON_NAMES, icmpv4TypeCodeName, MONITOR_TYPE, OBSERVATION_POINT_NAMES, SOCK_XLATE_POINT_NAMES, TCP_FLAG_BITS, TRAFFIC_DIRECTION_NAMES,
  TRACE_REASON_NAMES, tracePointOfObservationPoint, type TrafficDirectionName, type VerdictName,
} from './names.js';

export interface FlowEndpoint {
  ID?: number;
  identity?: number;
  namespace?: string;
  labels?: string[];
  pod_name?: string;
}

export interface TcpFlagsJson {
  FIN?: true; SYN?: true; RST?: true; PSH?: true; ACK?: true; URG?: true; ECE?: true; CWR?: true; NS?: true;
}

export interface DnsJson {
  query?: string;
  ips?: string[];
  ttl?: number;
  cnames?: string[];
  observation_source?: string;
  rcode?: number;
  qtypes?: string[];
  rrtypes?: string[];
}

export interface HttpJson {
  code?: number;
  method?: string;
  url?: string;
  protocol?: string;
}

export interface Layer7Json {
  type: 'REQUEST' | 'RESPONSE' | 'SAMPLE';
  /** uint64 → string in protojson. */
  latency_ns?: string;
  dns?: DnsJson;
  http?: HttpJson;
}

export interface Flow {
  time: string;
  uuid: string;
  verdict: VerdictName;
  /** Deprecated numeric twin of drop_reason_desc, still filled by Hubble. */
  drop_reason?: number;
  ethernet?: { source?: string; destination?: string };
  IP: { source: string; destination: string; ipVersion: 'IPv4' };
  l4?: {
    TCP?: { source_port?: number; destination_port?: number; flags?: TcpFlagsJson };
    UDP?: { source_port?: number; destination_port?: number };
    ICMPv4?: { type?: number; code?: number };
  };
  source: FlowEndpoint;
  destination: FlowEndpoint;
  Type: 'L3_L4' | 'L7';
  node_name: string;
  l7?: Layer7Json;
  /** Deprecated: set only when true, as protobuf cannot tell false from absent. */
  reply?: true;
  event_type: { type: number; sub_type?: number };
  /** The Service a load-balanced packet or socket was addressed to (replies: it came from). */
  source_service?: { name: string; namespace: string };
  destination_service?: { name: string; namespace: string };
  traffic_direction?: TrafficDirectionName;
  policy_match_type?: number;
  trace_observation_point?: string;
  drop_reason_desc?: string;
  /** google.protobuf.BoolValue: present (true or false) when known. */
  is_reply?: boolean;
  interface?: { index?: number; name?: string };
  /** Socket-LB translations (verdict TRANSLATED): where in the socket's life it happened. */
  sock_xlate_point?: string;
  trace_reason?: string;
  Summary?: string;
}

/** The Service behind a datapath service id (agent/service keeps the mapping). */
export type ServiceResolver = (svcId: number) => { name: string; namespace: string } | undefined;

/** Who is behind an address, from the agent's endpoints and ipcache. */
export type EndpointResolver = (ip: string, identity: number) => Omit<FlowEndpoint, 'identity'>;

export interface FlowContext {
  nodeName: string;
  resolve: EndpointResolver;
  toDate: (ktimeNs: bigint) => Date;
  /** Interface name of an ifindex on this node, when known. */
  ifname?: (ifindex: number) => string | undefined;
  /** The Service of a load-balanced packet's service id, when known. */
  service?: ServiceResolver;
}

/** Wall-clock time of a bpf_ktime_get_ns value: both it and process.hrtime use CLOCK_MONOTONIC. */
export function makeKtimeToDate(): (ktimeNs: bigint) => Date {
  // Milliseconds since boot fit a double exactly for centuries; only the sub-millisecond part is lost.
  const offsetMs = Date.now() - Number(process.hrtime.bigint() / 1_000_000n);
  return (k) => new Date(Math.floor(Number(k / 1_000_000n) + offsetMs));
}

/** RFC 3339 with nanoseconds, as protojson prints a Timestamp ("2024-01-02T03:04:05.123456789Z"). */
export function rfc3339Nano(date: Date, ktimeNs?: bigint): string {
  const iso = date.toISOString(); // ms precision
  if (ktimeNs === undefined) return iso;
  const sub = String(Number(ktimeNs % 1_000_000n)).padStart(6, '0');
  return `${iso.slice(0, -1)}${sub}Z`;
}

export function tcpFlags(byte: number): TcpFlagsJson {
  const out: Record<string, true> = {};
  for (const [name, bit] of TCP_FLAG_BITS) if (byte & bit) out[name] = true;
  return out as TcpFlagsJson;
}

/** Hubble's summary order for TCP flags (SYN, ACK, RST, FIN, PSH, URG, ECE, CWR, NS). */
const SUMMARY_FLAG_ORDER = ['SYN', 'ACK', 'RST', 'FIN', 'PSH', 'URG', 'ECE', 'CWR', 'NS'] as const;
export function tcpFlagsSummary(flags: TcpFlagsJson | undefined): string {
  return SUMMARY_FLAG_ORDER.filter((f) => flags?.[f]).join(', ');
}

function endpoint(identity: number, info: Omit<FlowEndpoint, 'identity'>): FlowEndpoint {
  const e: FlowEndpoint = {};
  if (info.ID) e.ID = info.ID;
  if (identity) e.identity = identity;
  if (info.namespace) e.namespace = info.namespace;
  if (info.labels?.length) e.labels = info.labels;
  if (info.pod_name) e.pod_name = info.pod_name;
  return e;
}

const uuidPrefixes = new WeakMap<Buffer, string>();

/** A stable per-flow UUID: the agent's random 80 bits (RFC 4122 version 4 layout) and the flow's
 *  48-bit sequence number, so it is unique per agent run and the same on every read. */
export function flowUuid(prefix: Buffer, seq: number): string {
  let p = uuidPrefixes.get(prefix);
  if (!p) {
    const b = Buffer.from(prefix.subarray(0, 10));
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = b.toString('hex');
    p = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-`;
    uuidPrefixes.set(prefix, p);
  }
  return p + seq.toString(16).padStart(12, '0');
}

function verdictOf(ev: DatapathEvent): VerdictName {
  if (ev.kind === 'drop') return 'DROPPED';
  // A policy verdict carries a drop reason when it denied the connection (the datapath has no audit mode).
  if (ev.kind === 'policy-verdict') return (ev.dropReason ?? 0) !== 0 ? 'DROPPED' : 'FORWARDED';
  if (ev.kind === 'sock-xlate') return 'TRANSLATED';
  return 'FORWARDED';
}

/** The L3/L4 flow of a datapath record. `l7` turns it into the L7 flow Hubble's proxy would report. */
export function decodeFlow(ev: DatapathEvent, ctx: FlowContext, opts: { uuid?: string; l7?: Layer7Json } = {}): Flow {
  const verdict = verdictOf(ev);
  const l7 = opts.l7;
  const isL7 = l7 !== undefined;
  // Fields are assigned in flow.proto's declaration order, which is the order JSON.stringify prints.
  const flow = { time: rfc3339Nano(ctx.toDate(ev.ktimeNs), ev.ktimeNs) } as Flow;
  if (opts.uuid) flow.uuid = opts.uuid;
  flow.verdict = verdict;
  if (verdict === 'DROPPED' && ev.dropReason) flow.drop_reason = ev.dropReason;
  if (ev.ethSrc || ev.ethDst) {
    const eth: { source?: string; destination?: string } = {};
    if (ev.ethSrc) eth.source = ev.ethSrc;
    if (ev.ethDst) eth.destination = ev.ethDst;
    flow.ethernet = eth;
  }
  flow.IP = { source: ev.srcIp, destination: ev.dstIp, ipVersion: 'IPv4' };
  let summary = '';
  if (ev.protocol === 6 || ev.protocol === 17) {
    const l4: { source_port?: number; destination_port?: number; flags?: TcpFlagsJson } = {};
    if (ev.srcPort) l4.source_port = ev.srcPort;
    if (ev.dstPort) l4.destination_port = ev.dstPort;
    if (ev.protocol === 6) {
      if (ev.tcpFlags) l4.flags = tcpFlags(ev.tcpFlags);
      flow.l4 = { TCP: l4 };
      summary = `TCP Flags: ${tcpFlagsSummary(l4.flags)}`;
    } else {
      flow.l4 = { UDP: l4 };
      summary = 'UDP';
    }
  } else if (ev.protocol === 1) {
    const type = ev.icmpType ?? 0;
    const code = ev.icmpCode ?? 0;
    const icmp: { type?: number; code?: number } = {};
    if (type) icmp.type = type;
    if (code) icmp.code = code;
    flow.l4 = { ICMPv4: icmp };
    summary = `ICMPv4 ${icmpv4TypeCodeName(type, code)}`;
  }
  flow.source = endpoint(ev.srcIdentity, ctx.resolve(ev.srcIp, ev.srcIdentity));
  flow.destination = endpoint(ev.dstIdentity, ctx.resolve(ev.dstIp, ev.dstIdentity));
  flow.Type = isL7 ? 'L7' : 'L3_L4';
  flow.node_name = ctx.nodeName;
  if (isL7) flow.l7 = l7;
  const knowsReply = ev.kind === 'trace' || isL7;
  if (knowsReply && ev.isReply) flow.reply = true;
  if (isL7) flow.event_type = { type: MONITOR_TYPE.l7 };
  else if (ev.kind === 'drop') flow.event_type = ev.dropReason ? { type: MONITOR_TYPE.drop, sub_type: ev.dropReason } : { type: MONITOR_TYPE.drop };
  else if (ev.kind === 'policy-verdict') flow.event_type = { type: MONITOR_TYPE['policy-verdict'] };
  else if (ev.kind === 'sock-xlate') flow.event_type = ev.sockXlatePoint ? { type: MONITOR_TYPE['trace-sock'], sub_type: ev.sockXlatePoint } : { type: MONITOR_TYPE['trace-sock'] };
  else {
    const sub = tracePointOfObservationPoint(ev.observationPoint ?? 0);
    flow.event_type = sub ? { type: MONITOR_TYPE.trace, sub_type: sub } : { type: MONITOR_TYPE.trace };
  }
  const svc = ev.svcId ? ctx.service?.(ev.svcId) : undefined;
  if (svc) flow[ev.isReply ? 'source_service' : 'destination_service'] = svc;
  const dir = TRAFFIC_DIRECTION_NAMES[ev.direction];
  if (dir && dir !== 'TRAFFIC_DIRECTION_UNKNOWN') flow.traffic_direction = dir;
  if (ev.kind === 'policy-verdict' && ev.policyMatchType) flow.policy_match_type = ev.policyMatchType;
  if (ev.kind === 'trace' && !isL7 && ev.observationPoint) flow.trace_observation_point = OBSERVATION_POINT_NAMES[ev.observationPoint] ?? `POINT_${ev.observationPoint}`;
  if (verdict === 'DROPPED' && ev.dropReason) flow.drop_reason_desc = DROP_REASON_NAMES[ev.dropReason] ?? `DROP_REASON_${ev.dropReason}`;
  // Hubble knows is_reply for traces (from conntrack) and L7 records; a policy verdict is only made for a
  // new connection, so it is never a reply; for drops it is not known (absent).
  if (knowsReply) flow.is_reply = ev.isReply;
  else if (ev.kind === 'policy-verdict') flow.is_reply = false;
  if (ev.ifindex && !isL7) {
    const name = ctx.ifname?.(ev.ifindex);
    flow.interface = name ? { index: ev.ifindex, name } : { index: ev.ifindex };
  }
  if (ev.kind === 'sock-xlate' && ev.sockXlatePoint !== undefined) flow.sock_xlate_point = SOCK_XLATE_POINT_NAMES[ev.sockXlatePoint] ?? `SOCK_XLATE_POINT_${ev.sockXlatePoint}`;
  if (ev.kind === 'trace' && !isL7 && ev.traceReason) flow.trace_reason = TRACE_REASON_NAMES[ev.traceReason] ?? `TRACE_REASON_${ev.traceReason}`;
  flow.Summary = isL7 ? l7Summary(l7) : summary;
  return flow;
}

/** Hubble's L7 summary text ("HTTP/1.1 200 3ms (GET http://…)", "DNS Query example.com. A"). */
export function l7Summary(l7: Layer7Json): string {
  const ms = l7.latency_ns ? `${Math.round(Number(l7.latency_ns) / 1e6)}ms` : '0ms';
  if (l7.http) {
    const h = l7.http;
    return l7.type === 'RESPONSE' ? `${h.protocol ?? 'HTTP/1.1'} ${h.code ?? 0} ${ms} (${h.method ?? ''} ${h.url ?? ''})` : `${h.protocol ?? 'HTTP/1.1'} ${h.method ?? ''} ${h.url ?? ''}`;
  }
  if (l7.dns) {
    const d = l7.dns;
    const q = `${d.query ?? ''} ${(d.qtypes ?? []).join(',')}`.trim();
    if (l7.type === 'REQUEST') return `DNS Query ${q}`;
    const answer = d.ips?.length ? `"${d.ips.join(',')}"` : d.rcode ? `RCode: ${d.rcode}` : '""';
    return `DNS Answer ${answer} TTL: ${d.ttl ?? 0} (Query ${q})`;
  }
  return '';
}
