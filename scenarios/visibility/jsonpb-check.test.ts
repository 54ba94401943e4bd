import { describe, expect, it } from 'vitest';
import { decodeFlow, makeKtimeToDate } from '../../agent/observer/flow.js';
import { checkGetFlowsResponse } from './jsonpb-check.js';

const ev = { ktimeNs: process.hrtime.bigint(), kind: 'trace' as const, observationPoint: 5, direction: 2, ifindex: 7, srcIdentity: 300, dstIdentity: 301, srcIp: '198.19.1.2', dstIp: '198.19.2.3', protocol: 6, srcPort: 40000, dstPort: 80, tcpFlags: 2, isReply: false, length: 60, traceReason: 1, ethSrc: '02:00:00:00:00:01', ethDst: '02:00:00:00:00:02' };
const ctx = { nodeName: 'node1', toDate: makeKtimeToDate(), resolve: () => ({ namespace: 'x', pod_name: 'a', labels: ['k8s:pod=a'] }), ifname: () => 'lxc0123456789ab' };

describe('jsonpb check', () => {
  it('accepts what the observer prints (a trace, a drop, an L7 flow, a LostEvent, a node status)', () => {
    const f = decodeFlow(ev, ctx, { uuid: '01234567-89ab-4cde-8f01-234567890abc' });
    expect(checkGetFlowsResponse(JSON.parse(JSON.stringify({ flow: f, node_name: 'node1', time: f.time })))).toEqual([]);
    const d = decodeFlow({ ...ev, kind: 'drop', dropReason: 133 }, ctx);
    expect(checkGetFlowsResponse({ flow: d, node_name: 'node1', time: d.time })).toEqual([]);
    const l7 = decodeFlow({ ...ev, kind: 'l7-capture' }, ctx, { l7: { type: 'RESPONSE', latency_ns: '1200', http: { code: 200, method: 'GET', url: 'http://a/', protocol: 'HTTP/1.1' } } });
    expect(checkGetFlowsResponse({ flow: l7, node_name: 'node1', time: l7.time })).toEqual([]);
    expect(checkGetFlowsResponse({ lost_events: { source: 'PERF_EVENT_RING_BUFFER', num_events_lost: '3', cpu: 0 }, node_name: 'node1', time: f.time })).toEqual([]);
    expect(checkGetFlowsResponse({ node_status: { state_change: 'NODE_UNAVAILABLE', node_names: ['node2'] }, time: f.time })).toEqual([]);
  });

  it('catches what Hubble tooling would trip on', () => {
    const f = JSON.parse(JSON.stringify(decodeFlow(ev, ctx)));
    const bad = (mut: (x: any) => void) => {
      const x = JSON.parse(JSON.stringify(f));
      mut(x);
      return checkGetFlowsResponse({ flow: x, node_name: x.node_name, time: x.time });
    };
    expect(bad((x) => (x.verdict = 1))).toContain('verdict: 1');
    expect(bad((x) => (x.event_type = { type: 4, sub_type: 101 }))).toEqual([expect.stringMatching(/does not match FROM_ENDPOINT/)]);
    expect(bad((x) => (x.IP.ip_version = 'IPv4'))).toEqual([expect.stringMatching(/^IP:/)]);
    expect(bad((x) => (x.source.identity = 0))).toEqual([expect.stringMatching(/zero must be left out/)]);
    expect(bad((x) => (x.l4.TCP.sourcePort = 1))).toEqual(['l4.TCP: unknown field sourcePort']);
    expect(bad((x) => (x.traffic_direction = 'TRAFFIC_DIRECTION_UNKNOWN'))).toHaveLength(1);
    expect(bad((x) => (x.time = '2024-01-01 00:00:00'))).toContain('time: "2024-01-01 00:00:00"');
    expect(checkGetFlowsResponse({ lost_events: { source: 'PERF_EVENT_RING_BUFFER', num_events_lost: 3 }, time: f.time })).toHaveLength(1);
  });
});
