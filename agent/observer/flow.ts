// Datapath events → Hubble-style flows (field names and enum names of api/v1/flow/flow.proto, as
// `hubble observe -o json` prints them), and the per-node ring of recent flows.
import type { DatapathEvent } from '../datapath/types.js';
import { DROP_REASON_NAMES, MONITOR_TYPE, OBSERVATION_POINT_NAMES, SOCK_XLATE_POINT_NAMES, TCP_FLAG_BITS, TRAFFIC_DIRECTION_NAMES } from './names.js';

export interface FlowEndpoint {
  ID?: number;
  identity: number;
  namespace?: string;
  pod_name?: string;
  labels?: string[];
}

export interface Flow {
  time: string;
  verdict: 'FORWARDED' | 'DROPPED' | 'TRANSLATED';
  drop_reason?: number;
  drop_reason_desc?: string;
  IP: { source: string; destination: string; ipVersion: 'IPv4' };
  l4?: {
    TCP?: { source_port: number; destination_port: number; flags?: Record<string, true> };
    UDP?: { source_port: number; destination_port: number };
    ICMPv4?: { type: number; code: number };
  };
  source: FlowEndpoint;
  destination: FlowEndpoint;
  Type: 'L3_L4';
  node_name: string;
  event_type: { type: number; sub_type?: number };
  traffic_direction: string;
  trace_observation_point?: string;
  is_reply: boolean;
  interface?: { index: number };
  /** Socket-LB translations (verdict TRANSLATED): where in the socket's life it happened. */
  sock_xlate_point?: string;
  /** The Service a load-balanced packet or socket was addressed to (replies: it came from). */
  destination_service?: { name: string; namespace: string };
  source_service?: { name: string; namespace: string };
  Summary: string;
}

/** The Service behind a datapath service id (agent/service keeps the mapping). */
export type ServiceResolver = (svcId: number) => { name: string; namespace: string } | undefined;

/** Who is behind an address, from the agent's endpoints and ipcache. */
export type EndpointResolver = (ip: string, identity: number) => Omit<FlowEndpoint, 'identity'>;

/** Wall-clock time of a bpf_ktime_get_ns value: both it and process.hrtime use CLOCK_MONOTONIC. */
export function makeKtimeToDate(): (ktimeNs: bigint) => Date {
  const offsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  return (k) => new Date(Number((k + offsetNs) / 1_000_000n));
}

export function tcpFlags(byte: number): Record<string, true> {
  const out: Record<string, true> = {};
  for (const [name, bit] of TCP_FLAG_BITS) if (byte & bit) out[name] = true;
  return out;
}

export function decodeFlow(ev: DatapathEvent, ctx: { nodeName: string; resolve: EndpointResolver; toDate: (k: bigint) => Date; service?: ServiceResolver }): Flow {
  const dropped = ev.kind === 'drop' || (ev.kind === 'policy-verdict' && ev.dropReason !== undefined && ev.dropReason !== 0);
  const flow: Flow = {
    time: ctx.toDate(ev.ktimeNs).toISOString(),
    verdict: dropped ? 'DROPPED' : ev.kind === 'sock-xlate' ? 'TRANSLATED' : 'FORWARDED',
    IP: { source: ev.srcIp, destination: ev.dstIp, ipVersion: 'IPv4' },
    source: { identity: ev.srcIdentity, ...ctx.resolve(ev.srcIp, ev.srcIdentity) },
    destination: { identity: ev.dstIdentity, ...ctx.resolve(ev.dstIp, ev.dstIdentity) },
    Type: 'L3_L4',
    node_name: ctx.nodeName,
    event_type: { type: MONITOR_TYPE[ev.kind] },
    traffic_direction: TRAFFIC_DIRECTION_NAMES[ev.direction] ?? 'TRAFFIC_DIRECTION_UNKNOWN',
    is_reply: ev.isReply,
    Summary: '',
  };
  if (dropped && ev.dropReason !== undefined) {
    flow.drop_reason = ev.dropReason;
    flow.drop_reason_desc = DROP_REASON_NAMES[ev.dropReason] ?? `DROP_REASON_${ev.dropReason}`;
    flow.event_type.sub_type = ev.dropReason;
  }
  if (ev.kind === 'trace' && ev.observationPoint !== undefined) {
    flow.trace_observation_point = OBSERVATION_POINT_NAMES[ev.observationPoint] ?? `POINT_${ev.observationPoint}`;
    flow.event_type.sub_type = ev.observationPoint;
  }
  if (ev.kind === 'sock-xlate' && ev.sockXlatePoint !== undefined) {
    flow.sock_xlate_point = SOCK_XLATE_POINT_NAMES[ev.sockXlatePoint] ?? `SOCK_XLATE_POINT_${ev.sockXlatePoint}`;
    flow.event_type.sub_type = ev.sockXlatePoint;
  }
  const svc = ev.svcId ? ctx.service?.(ev.svcId) : undefined;
  if (svc) flow[ev.isReply ? 'source_service' : 'destination_service'] = svc;
  if (ev.ifindex) flow.interface = { index: ev.ifindex };
  if (ev.protocol === 6) {
    const flags = tcpFlags(ev.tcpFlags);
    flow.l4 = { TCP: { source_port: ev.srcPort, destination_port: ev.dstPort, ...(Object.keys(flags).length ? { flags } : {}) } };
    flow.Summary = `TCP Flags: ${Object.keys(flags).join(', ')}`;
  } else if (ev.protocol === 17) {
    flow.l4 = { UDP: { source_port: ev.srcPort, destination_port: ev.dstPort } };
    flow.Summary = 'UDP';
  } else if (ev.protocol === 1) {
    flow.l4 = { ICMPv4: { type: ev.icmpType ?? 0, code: ev.icmpCode ?? 0 } };
    flow.Summary = `ICMPv4 ${icmpName(ev.icmpType ?? 0)}`;
  }
  return flow;
}

function icmpName(type: number): string {
  return ({ 0: 'EchoReply', 3: 'DestinationUnreachable', 8: 'EchoRequest', 11: 'TimeExceeded' } as Record<number, string>)[type] ?? `Type${type}`;
}

/** The last `capacity` flows, oldest overwritten first. */
export class FlowRing {
  private buf: Flow[] = [];
  private head = 0;
  /** Flows ever seen (so a reader can tell how many were overwritten). */
  seen = 0;

  constructor(readonly capacity = 4096) {}

  push(f: Flow): void {
    this.seen++;
    if (this.buf.length < this.capacity) this.buf.push(f);
    else {
      this.buf[this.head] = f;
      this.head = (this.head + 1) % this.capacity;
    }
  }

  /** The most recent `n` flows, oldest first. */
  last(n = this.capacity): Flow[] {
    const ordered = this.buf.length < this.capacity ? this.buf : [...this.buf.slice(this.head), ...this.buf.slice(0, this.head)];
    return n >= ordered.length ? [...ordered] : ordered.slice(ordered.length - n);
  }

  get size(): number {
    return this.buf.length;
  }
}
