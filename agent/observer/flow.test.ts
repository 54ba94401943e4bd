import { describe, expect, it } from 'vitest';
import type { DatapathEvent } from '../datapath/types.js';
import { decodeFlow, flowUuid, l7Summary, makeKtimeToDate, rfc3339Nano, tcpFlags, tcpFlagsSummary } from './flow.js';

const base: DatapathEvent = {
  ktimeNs: process.hrtime.bigint(),
  kind: 'trace',
  observationPoint: 101,
  direction: 1,
  ifindex: 7,
  srcIdentity: 300,
  dstIdentity: 301,
  srcIp: '198.19.1.2',
  dstIp: '198.19.2.3',
  protocol: 6,
  srcPort: 40000,
  dstPort: 8080,
  tcpFlags: 0x12,
  isReply: true,
  length: 60,
  ethSrc: '02:00:00:00:00:01',
  ethDst: '02:00:00:00:00:02',
  traceReason: 3,
};
const ctx = {
  nodeName: 'node1',
  toDate: makeKtimeToDate(),
  resolve: (ip: string) => (ip === '198.19.1.2' ? { ID: 3, namespace: 'x', pod_name: 'a', labels: ['k8s:pod=a'] } : {}),
  ifname: (i: number) => (i === 7 ? 'lxc0123456789ab' : undefined),
};

describe('decodeFlow', () => {
  it('turns a trace into a forwarded flow with Hubble names, in proto field order', () => {
    const f = decodeFlow(base, ctx, { uuid: 'u-1' });
    expect(f).toMatchObject({
      uuid: 'u-1',
      verdict: 'FORWARDED',
      ethernet: { source: '02:00:00:00:00:01', destination: '02:00:00:00:00:02' },
      IP: { source: '198.19.1.2', destination: '198.19.2.3', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 40000, destination_port: 8080, flags: { SYN: true, ACK: true } } },
      source: { ID: 3, identity: 300, namespace: 'x', labels: ['k8s:pod=a'], pod_name: 'a' },
      destination: { identity: 301 },
      Type: 'L3_L4',
      node_name: 'node1',
      reply: true,
      traffic_direction: 'INGRESS',
      trace_observation_point: 'TO_ENDPOINT',
      is_reply: true,
      interface: { index: 7, name: 'lxc0123456789ab' },
      trace_reason: 'REPLY',
      Summary: 'TCP Flags: SYN, ACK',
    });
    // to-endpoint is monitor trace point 0: a zero sub_type is left out, as protojson does.
    expect(f.event_type).toEqual({ type: 4 });
    expect(Object.keys(f).slice(0, 4)).toEqual(['time', 'uuid', 'verdict', 'ethernet']);
    expect(f.drop_reason_desc).toBeUndefined();
    expect(Math.abs(Date.parse(f.time) - Date.now())).toBeLessThan(5000);
    expect(f.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  });

  it('gives other trace points their monitor sub-type', () => {
    expect(decodeFlow({ ...base, observationPoint: 4 }, ctx).event_type).toEqual({ type: 4, sub_type: 4 });
    expect(decodeFlow({ ...base, observationPoint: 5 }, ctx)).toMatchObject({ event_type: { type: 4, sub_type: 5 }, trace_observation_point: 'FROM_ENDPOINT' });
  });

  it('turns a drop into a dropped flow with its reason and no reply information', () => {
    const f = decodeFlow({ ...base, kind: 'drop', dropReason: 133, observationPoint: undefined, direction: 2, tcpFlags: 0x02, isReply: false, traceReason: undefined }, ctx);
    expect(f).toMatchObject({ verdict: 'DROPPED', drop_reason: 133, drop_reason_desc: 'POLICY_DENIED', traffic_direction: 'EGRESS', event_type: { type: 1, sub_type: 133 } });
    expect(f.l4?.TCP?.flags).toEqual({ SYN: true });
    expect(f.trace_observation_point).toBeUndefined();
    expect(f.is_reply).toBeUndefined();
    expect(f.reply).toBeUndefined();
  });

  it('decodes policy verdicts with their match type', () => {
    const allowed = decodeFlow({ ...base, kind: 'policy-verdict', policyMatchType: 2, isReply: false, direction: 1 }, ctx);
    expect(allowed).toMatchObject({ verdict: 'FORWARDED', event_type: { type: 5 }, policy_match_type: 2, traffic_direction: 'INGRESS', is_reply: false });
    const denied = decodeFlow({ ...base, kind: 'policy-verdict', dropReason: 133, isReply: false }, ctx);
    expect(denied).toMatchObject({ verdict: 'DROPPED', drop_reason_desc: 'POLICY_DENIED' });
    expect(denied.policy_match_type).toBeUndefined();
  });

  it('decodes UDP and ICMP, leaving zero values out', () => {
    expect(decodeFlow({ ...base, protocol: 17 }, ctx).l4).toEqual({ UDP: { source_port: 40000, destination_port: 8080 } });
    const req = decodeFlow({ ...base, protocol: 1, srcPort: 0, dstPort: 0, icmpType: 8, icmpCode: 0 }, ctx);
    expect(req.l4).toEqual({ ICMPv4: { type: 8 } });
    expect(req.Summary).toBe('ICMPv4 EchoRequest');
    expect(decodeFlow({ ...base, protocol: 1, icmpType: 0, icmpCode: 0 }, ctx).l4).toEqual({ ICMPv4: {} });
    expect(decodeFlow({ ...base, protocol: 1, icmpType: 3, icmpCode: 3 }, ctx).Summary).toBe('ICMPv4 DestinationUnreachable(Port)');
  });

  it('names unknown enum values instead of failing', () => {
    const f = decodeFlow({ ...base, kind: 'drop', dropReason: 250 }, ctx);
    expect(f.drop_reason_desc).toBe('DROP_REASON_250');
    expect(decodeFlow({ ...base, direction: 0 }, ctx).traffic_direction).toBeUndefined();
  });

  it('makes L7 flows with event type 129 and Hubble summaries', () => {
    const l7 = { type: 'RESPONSE' as const, latency_ns: '3000000', http: { code: 200, method: 'GET', url: 'http://x/echo', protocol: 'HTTP/1.1' } };
    const f = decodeFlow({ ...base, kind: 'l7-capture', direction: 2 }, ctx, { l7 });
    expect(f).toMatchObject({ Type: 'L7', event_type: { type: 129 }, l7, is_reply: true, Summary: 'HTTP/1.1 200 3ms (GET http://x/echo)' });
    expect(f.interface).toBeUndefined();
    expect(l7Summary({ type: 'REQUEST', dns: { query: 'a.example.', qtypes: ['A'] } })).toBe('DNS Query a.example. A');
  });

  it('knows every TCP flag bit and Hubble summary order', () => {
    expect(Object.keys(tcpFlags(0xff)).sort()).toEqual(['ACK', 'CWR', 'ECE', 'FIN', 'PSH', 'RST', 'SYN', 'URG']);
    expect(tcpFlagsSummary(tcpFlags(0x11))).toBe('ACK, FIN');
  });

  it('makes stable, distinct, RFC 4122-shaped UUIDs', () => {
    const p = Buffer.alloc(16, 7);
    expect(flowUuid(p, 5)).toBe(flowUuid(p, 5));
    expect(flowUuid(p, 5)).not.toBe(flowUuid(p, 6));
    expect(flowUuid(p, 2 ** 40)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('prints nanosecond RFC 3339 times', () => {
    expect(rfc3339Nano(new Date('2024-01-02T03:04:05.123Z'), 1_000_456_789n)).toBe('2024-01-02T03:04:05.123456789Z');
  });
});
