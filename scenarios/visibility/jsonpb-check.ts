// What a Hubble user's tooling expects of `hubble observe -o json` lines (REFERENCE.md): one
// GetFlowsResponse per line, protojson with the proto field names, enums as their names, uint64 as
// strings, zero values left out, RFC 3339 times. Returns the problems of one line ([] when it is right);
// written independently of the printer, from the proto's shape, so it can catch the printer's mistakes.
import { DROP_REASON_NAMES, OBSERVATION_POINT_NAMES, TRACE_REASON_NAMES, VERDICT_NAMES } from '../../agent/observer/names.js';

type J = Record<string, unknown>;

const FLOW_FIELDS = new Set([
  'time', 'uuid', 'verdict', 'drop_reason', 'auth_type', 'ethernet', 'IP', 'l4', 'source', 'destination', 'Type', 'node_name', 'node_labels',
  'source_names', 'destination_names', 'l7', 'reply', 'event_type', 'source_service', 'destination_service', 'traffic_direction',
  'policy_match_type', 'trace_observation_point', 'trace_reason', 'drop_reason_desc', 'is_reply', 'debug_capture_point', 'interface',
  'proxy_port', 'trace_context', 'sock_xlate_point', 'socket_cookie', 'cgroup_id', 'Summary', 'egress_allowed_by', 'ingress_allowed_by',
  'egress_denied_by', 'ingress_denied_by',
]);
const ENDPOINT_FIELDS = new Set(['ID', 'identity', 'cluster_name', 'namespace', 'labels', 'pod_name', 'workloads']);
const RFC3339_NS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

const isObj = (v: unknown): v is J => typeof v === 'object' && v !== null && !Array.isArray(v);
const uint = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0; // zero is left out

function checkPort(p: J, where: string, out: string[]): void {
  for (const [k, v] of Object.entries(p)) {
    if (k === 'source_port' || k === 'destination_port') {
      if (!uint(v) || (v as number) > 65535) out.push(`${where}.${k}: ${JSON.stringify(v)}`);
    } else if (k === 'flags') {
      if (!isObj(v) || Object.entries(v).some(([f, b]) => !['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR', 'NS'].includes(f) || b !== true)) out.push(`${where}.flags: ${JSON.stringify(v)}`);
    } else out.push(`${where}: unknown field ${k}`);
  }
}

function checkEndpoint(e: unknown, where: string, out: string[]): void {
  if (!isObj(e)) return void out.push(`${where}: not an object`);
  for (const [k, v] of Object.entries(e)) {
    if (!ENDPOINT_FIELDS.has(k)) out.push(`${where}: unknown field ${k}`);
    else if ((k === 'ID' || k === 'identity') && !uint(v)) out.push(`${where}.${k}: ${JSON.stringify(v)} (zero must be left out)`);
    else if (k === 'labels' && (!Array.isArray(v) || v.some((l) => typeof l !== 'string' || !/^[a-z0-9-]+:/.test(l)))) out.push(`${where}.labels: ${JSON.stringify(v)}`);
    else if ((k === 'namespace' || k === 'pod_name') && (typeof v !== 'string' || v === '')) out.push(`${where}.${k}: ${JSON.stringify(v)}`);
  }
}

export function checkFlow(f: unknown): string[] {
  const out: string[] = [];
  if (!isObj(f)) return ['flow: not an object'];
  for (const k of Object.keys(f)) if (!FLOW_FIELDS.has(k)) out.push(`flow: unknown field ${k}`);
  if (typeof f.time !== 'string' || !RFC3339_NS.test(f.time)) out.push(`time: ${JSON.stringify(f.time)}`);
  if (f.uuid !== undefined && (typeof f.uuid !== 'string' || !UUID.test(f.uuid))) out.push(`uuid: ${JSON.stringify(f.uuid)}`);
  if (!VERDICT_NAMES.includes(f.verdict as never) || f.verdict === 'VERDICT_UNKNOWN') out.push(`verdict: ${JSON.stringify(f.verdict)}`);
  if (f.ethernet !== undefined && (!isObj(f.ethernet) || Object.entries(f.ethernet).some(([k, v]) => !['source', 'destination'].includes(k) || typeof v !== 'string' || !MAC.test(v)))) out.push(`ethernet: ${JSON.stringify(f.ethernet)}`);
  const ip = f.IP as J | undefined;
  if (!isObj(ip) || !IPV4.test(String(ip.source)) || !IPV4.test(String(ip.destination)) || ip.ipVersion !== 'IPv4' || Object.keys(ip).some((k) => !['source', 'destination', 'ipVersion', 'encrypted'].includes(k))) out.push(`IP: ${JSON.stringify(ip)}`);
  if (f.l4 !== undefined) {
    if (!isObj(f.l4) || Object.keys(f.l4).length !== 1) out.push(`l4: ${JSON.stringify(f.l4)} (one of TCP, UDP, ICMPv4, ...)`);
    else {
      const [kind, v] = Object.entries(f.l4)[0]!;
      if (kind === 'TCP' || kind === 'UDP' || kind === 'SCTP') {
        if (!isObj(v)) out.push(`l4.${kind}: not an object`);
        else checkPort(v, `l4.${kind}`, out);
        if (kind !== 'TCP' && isObj(v) && 'flags' in v) out.push(`l4.${kind}.flags: only TCP has flags`);
      } else if (kind === 'ICMPv4' || kind === 'ICMPv6') {
        if (!isObj(v) || Object.entries(v).some(([k, n]) => !['type', 'code'].includes(k) || !uint(n))) out.push(`l4.${kind}: ${JSON.stringify(v)}`);
      } else out.push(`l4: unknown protocol ${kind}`);
    }
  }
  checkEndpoint(f.source, 'source', out);
  checkEndpoint(f.destination, 'destination', out);
  if (f.Type !== 'L3_L4' && f.Type !== 'L7') out.push(`Type: ${JSON.stringify(f.Type)}`);
  if (typeof f.node_name !== 'string' || !f.node_name) out.push(`node_name: ${JSON.stringify(f.node_name)}`);
  const et = f.event_type as J | undefined;
  if (!isObj(et) || ![1, 4, 5, 129].includes(et.type as number) || (et.sub_type !== undefined && !uint(et.sub_type))) out.push(`event_type: ${JSON.stringify(et)}`);
  if (f.traffic_direction !== undefined && f.traffic_direction !== 'INGRESS' && f.traffic_direction !== 'EGRESS') out.push(`traffic_direction: ${JSON.stringify(f.traffic_direction)}`);
  if (f.trace_observation_point !== undefined && !Object.values(OBSERVATION_POINT_NAMES).includes(f.trace_observation_point as string)) out.push(`trace_observation_point: ${JSON.stringify(f.trace_observation_point)}`);
  if (f.trace_observation_point !== undefined && isObj(et)) {
    // The sub-type is the monitor's trace point: TO_ENDPOINT is 0 (left out), the others keep their number.
    const want = f.trace_observation_point === 'TO_ENDPOINT' ? undefined : Number(Object.entries(OBSERVATION_POINT_NAMES).find(([, n]) => n === f.trace_observation_point)![0]);
    if (et.type !== 4 || et.sub_type !== want) out.push(`event_type ${JSON.stringify(et)} does not match ${f.trace_observation_point}`);
  }
  if (f.trace_reason !== undefined && !Object.values(TRACE_REASON_NAMES).includes(f.trace_reason as string)) out.push(`trace_reason: ${JSON.stringify(f.trace_reason)}`);
  if (f.drop_reason_desc !== undefined && !Object.values(DROP_REASON_NAMES).includes(f.drop_reason_desc as string)) out.push(`drop_reason_desc: ${JSON.stringify(f.drop_reason_desc)}`);
  if (f.verdict === 'DROPPED' && f.event_type && (et?.type === 1) && f.drop_reason_desc === undefined) out.push('a drop without drop_reason_desc');
  if (f.is_reply !== undefined && typeof f.is_reply !== 'boolean') out.push(`is_reply: ${JSON.stringify(f.is_reply)}`);
  if (f.reply !== undefined && f.reply !== true) out.push(`reply: ${JSON.stringify(f.reply)} (false must be left out)`);
  if (f.interface !== undefined && (!isObj(f.interface) || !uint(f.interface.index) || (f.interface.name !== undefined && typeof f.interface.name !== 'string'))) out.push(`interface: ${JSON.stringify(f.interface)}`);
  if (f.l7 !== undefined) {
    const l7 = f.l7 as J;
    if (!isObj(l7) || !['REQUEST', 'RESPONSE', 'SAMPLE'].includes(l7.type as string)) out.push(`l7: ${JSON.stringify(l7)}`);
    else {
      if (l7.latency_ns !== undefined && (typeof l7.latency_ns !== 'string' || !/^\d+$/.test(l7.latency_ns))) out.push(`l7.latency_ns: ${JSON.stringify(l7.latency_ns)} (uint64 as a string)`);
      if (f.Type !== 'L7') out.push('l7 set on a flow whose Type is not L7');
    }
  }
  if (f.Summary !== undefined && typeof f.Summary !== 'string') out.push(`Summary: ${JSON.stringify(f.Summary)}`);
  return out;
}

export function checkGetFlowsResponse(r: unknown): string[] {
  if (!isObj(r)) return ['not an object'];
  const kinds = ['flow', 'lost_events', 'node_status'].filter((k) => k in r);
  if (kinds.length !== 1) return [`exactly one of flow, lost_events, node_status expected, got ${kinds.join(', ') || 'none'}`];
  const out: string[] = [];
  for (const k of Object.keys(r)) if (!['flow', 'lost_events', 'node_status', 'node_name', 'time'].includes(k)) out.push(`unknown field ${k}`);
  if (typeof r.time !== 'string' || !RFC3339_NS.test(r.time)) out.push(`time: ${JSON.stringify(r.time)}`);
  if ('flow' in r) {
    out.push(...checkFlow(r.flow));
    if (r.node_name !== (r.flow as J).node_name) out.push('node_name differs from the flow\'s');
    if (r.time !== (r.flow as J).time) out.push('time differs from the flow\'s');
  } else if ('lost_events' in r) {
    const l = r.lost_events as J;
    if (!isObj(l) || !['PERF_EVENT_RING_BUFFER', 'OBSERVER_EVENTS_QUEUE', 'HUBBLE_RING_BUFFER'].includes(l.source as string)) out.push(`lost_events.source: ${JSON.stringify(l?.source)}`);
    if (typeof l?.num_events_lost !== 'string' || !/^[1-9]\d*$/.test(l.num_events_lost)) out.push(`lost_events.num_events_lost: ${JSON.stringify(l?.num_events_lost)} (uint64 as a string)`);
    if (l?.cpu !== undefined && (typeof l.cpu !== 'number' || !Number.isInteger(l.cpu))) out.push(`lost_events.cpu: ${JSON.stringify(l.cpu)}`);
  } else {
    const s = r.node_status as J;
    if (!isObj(s) || !['NODE_CONNECTED', 'NODE_UNAVAILABLE', 'NODE_GONE', 'NODE_ERROR'].includes(s.state_change as string) || !Array.isArray(s.node_names)) out.push(`node_status: ${JSON.stringify(s)}`);
  }
  return out;
}
