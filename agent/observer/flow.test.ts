import { describe, expect, it } from 'vitest';
import type { DatapathEvent } from '../datapath/types.js';
import { decodeFlow, FlowRing, makeKtimeToDate, tcpFlags, type Flow } from './flow.js';

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
};
const ctx = {
  nodeName: 'node1',
  toDate: makeKtimeToDate(),
  resolve: (ip: string) => (ip === '198.19.1.2' ? { ID: 3, namespace: 'x', pod_name: 'a', labels: ['k8s:pod=a'] } : {}),
};

describe('decodeFlow', () => {
  it('turns a trace into a forwarded flow with Hubble names', () => {
    const f = decodeFlow(base, ctx);
    expect(f).toMatchObject({
      verdict: 'FORWARDED',
      IP: { source: '198.19.1.2', destination: '198.19.2.3', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 40000, destination_port: 8080, flags: { SYN: true, ACK: true } } },
      source: { identity: 300, namespace: 'x', pod_name: 'a', labels: ['k8s:pod=a'], ID: 3 },
      destination: { identity: 301 },
      traffic_direction: 'INGRESS',
      trace_observation_point: 'TO_ENDPOINT',
      is_reply: true,
      node_name: 'node1',
      event_type: { type: 4, sub_type: 101 },
      interface: { index: 7 },
      Type: 'L3_L4',
    });
    expect(f.drop_reason_desc).toBeUndefined();
    expect(Math.abs(Date.parse(f.time) - Date.now())).toBeLessThan(5000);
  });

  it('turns a drop into a dropped flow with its reason', () => {
    const f = decodeFlow({ ...base, kind: 'drop', dropReason: 133, observationPoint: undefined, direction: 2, tcpFlags: 0x02, isReply: false }, ctx);
    expect(f).toMatchObject({ verdict: 'DROPPED', drop_reason: 133, drop_reason_desc: 'POLICY_DENIED', traffic_direction: 'EGRESS', event_type: { type: 1, sub_type: 133 } });
    expect(f.l4?.TCP?.flags).toEqual({ SYN: true });
    expect(f.trace_observation_point).toBeUndefined();
  });

  it('decodes UDP and ICMP', () => {
    expect(decodeFlow({ ...base, protocol: 17 }, ctx).l4).toEqual({ UDP: { source_port: 40000, destination_port: 8080 } });
    const icmp = decodeFlow({ ...base, protocol: 1, srcPort: 0, dstPort: 0, icmpType: 8, icmpCode: 0 }, ctx);
    expect(icmp.l4).toEqual({ ICMPv4: { type: 8, code: 0 } });
    expect(icmp.Summary).toBe('ICMPv4 EchoRequest');
  });

  it('names unknown enum values instead of failing', () => {
    const f = decodeFlow({ ...base, kind: 'drop', dropReason: 250 }, ctx);
    expect(f.drop_reason_desc).toBe('DROP_REASON_250');
    expect(decodeFlow({ ...base, direction: 0 }, ctx).traffic_direction).toBe('TRAFFIC_DIRECTION_UNKNOWN');
  });

  it('knows every TCP flag bit', () => {
    expect(Object.keys(tcpFlags(0xff)).sort()).toEqual(['ACK', 'CWR', 'ECE', 'FIN', 'PSH', 'RST', 'SYN', 'URG']);
  });
});

describe('FlowRing', () => {
  it('keeps the last N in order', () => {
    const ring = new FlowRing(3);
    for (let i = 0; i < 5; i++) ring.push({ Summary: String(i) } as Flow);
    expect(ring.last().map((f) => f.Summary)).toEqual(['2', '3', '4']);
    expect(ring.last(2).map((f) => f.Summary)).toEqual(['3', '4']);
    expect(ring.seen).toBe(5);
    expect(ring.size).toBe(3);
  });
});
