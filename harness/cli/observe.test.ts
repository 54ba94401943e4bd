import { beforeAll, describe, expect, it } from 'vitest';
import { parseObserveArgs, parseTime } from './observe.js';
import { compactFlow, FlowPrinter, flowType } from './observe-printer.js';
import { buildFilters, parseEventType } from './observe-flags.js';
import type { Flow } from '../../agent/observer/flow.js';
import type { GetFlowsResponse } from '../../agent/observer/api.js';

beforeAll(() => {
  process.env.TZ = 'UTC';
});

const base: Flow = {
  time: '2026-11-25T20:12:08.122456789Z',
  uuid: 'u',
  verdict: 'FORWARDED',
  IP: { source: '198.19.1.2', destination: '198.19.0.3', ipVersion: 'IPv4' },
  l4: { TCP: { source_port: 80, destination_port: 40252, flags: { SYN: true, ACK: true } } },
  source: { identity: 258, namespace: 'y', pod_name: 'a' },
  destination: { identity: 263, namespace: 'x', pod_name: 'a' },
  Type: 'L3_L4',
  node_name: 'node1',
  event_type: { type: 4 },
  traffic_direction: 'EGRESS',
  trace_observation_point: 'TO_ENDPOINT',
  is_reply: true,
  Summary: 'TCP Flags: SYN, ACK',
};

describe('observe output', () => {
  it("prints hubble's compact line: a reply from the initiator's side with <-", () => {
    expect(compactFlow(base)).toBe('Nov 25 20:12:08.122 [node1]: x/a:40252 (ID:263) <- y/a:80 (ID:258) to-endpoint FORWARDED (TCP Flags: SYN, ACK)');
  });

  it('prints drops with the monitor text, <> when the direction of the connection is unknown', () => {
    const drop: Flow = { ...base, verdict: 'DROPPED', drop_reason: 133, drop_reason_desc: 'POLICY_DENIED', event_type: { type: 1, sub_type: 133 }, is_reply: undefined, l4: { ICMPv4: { type: 8 } }, Summary: 'ICMPv4 EchoRequest', source: { identity: 2 } };
    expect(compactFlow(drop)).toBe('Nov 25 20:12:08.122 [node1]: 198.19.1.2 (world) <> x/a (ID:263) Policy denied DROPPED (ICMPv4 EchoRequest)');
  });

  it('names policy verdicts, trace points and L7 flows as hubble does', () => {
    expect(flowType({ ...base, event_type: { type: 5 }, policy_match_type: 2, traffic_direction: 'INGRESS' })).toBe('policy-verdict:L3-L4 INGRESS');
    expect(compactFlow({ ...base, event_type: { type: 5 }, verdict: 'DROPPED', is_reply: undefined })).toContain('policy-verdict:none EGRESS DENIED');
    expect(flowType({ ...base, event_type: { type: 4, sub_type: 5 } })).toBe('from-endpoint');
    expect(flowType({ ...base, l7: { type: 'RESPONSE', http: { code: 200 } } })).toBe('http-response');
  });

  it('writes json as one GetFlowsResponse per line, dict blocks and aligned tables', () => {
    const out: string[] = [];
    const err: string[] = [];
    const rs: GetFlowsResponse[] = [
      { flow: base, node_name: 'node1', time: base.time },
      { lost_events: { source: 'PERF_EVENT_RING_BUFFER', num_events_lost: '3', cpu: 1 }, node_name: 'node1', time: base.time },
      { node_status: { state_change: 'NODE_UNAVAILABLE', node_names: ['node2'], message: 'agent of node2 is not reachable (ENOENT)' }, time: base.time },
    ];
    new FlowPrinter('json', (s) => out.push(s), (s) => err.push(s)).print(rs);
    expect(out.map((l) => JSON.parse(l))).toEqual(rs);
    out.length = 0;
    new FlowPrinter('compact', (s) => out.push(s), (s) => err.push(s)).print(rs);
    expect(out[1]).toBe('EVENTS LOST: PERF_EVENT_RING_BUFFER CPU(1) 3\n');
    expect(err).toEqual(['Warning: node node2 unavailable: agent of node2 is not reachable (ENOENT)\n']);
    out.length = 0;
    new FlowPrinter('dict', (s) => out.push(s), () => undefined).print([rs[0]!, rs[0]!]);
    expect(out.join('')).toContain('  TIMESTAMP: Nov 25 20:12:08.122\n       NODE: node1\n     SOURCE: y/a:80\nDESTINATION: x/a:40252\n       TYPE: to-endpoint\n    VERDICT: FORWARDED\n    SUMMARY: TCP Flags: SYN, ACK\n------------\n');
    out.length = 0;
    new FlowPrinter('table', (s) => out.push(s), () => undefined).print([rs[0]!]);
    expect(out[0]).toMatch(/^TIMESTAMP\s+NODE\s+SOURCE\s+DESTINATION\s+TYPE\s+VERDICT\s+SUMMARY\n$/);
    expect(out[1]!.indexOf('node1')).toBe(out[0]!.indexOf('NODE'));
  });
});

describe('observe flags → Hubble filters', () => {
  const tokens = (...a: string[]) => {
    const out: Array<{ name: string; value?: string }> = [];
    for (let i = 0; i < a.length; i++) out.push(a[i] === 'not' ? { name: 'not' } : { name: a[i]!, value: a[++i] });
    return out;
  };

  it('splits either-side flags into a source and a destination filter, OR-ed', () => {
    expect(buildFilters(tokens('pod', 'x/a'))).toEqual({ whitelist: [{ source_pod: ['x/a'] }, { destination_pod: ['x/a'] }], blacklist: [] });
    expect(buildFilters(tokens('namespace', 'y', 'verdict', 'dropped')).whitelist).toEqual([
      { source_pod: ['y/'], verdict: ['DROPPED'] },
      { destination_pod: ['y/'], verdict: ['DROPPED'] },
    ]);
  });

  it('adds --from/--to and side-less flags to every filter; namespaces prefix bare pod names', () => {
    expect(buildFilters(tokens('to-pod', 'b', 'namespace', 'y', 'protocol', 'tcp')).whitelist).toEqual([{ destination_pod: ['y/b'], protocol: ['tcp'] }]);
    expect(buildFilters(tokens('from-pod', 'x/a', 'to-pod', 'y/b')).whitelist).toEqual([{ source_pod: ['x/a'], destination_pod: ['y/b'] }]);
    expect(buildFilters(tokens('type', 'trace:to-endpoint', 'node', 'node1')).whitelist).toEqual([{ event_type: [{ type: 4, match_sub_type: true, sub_type: 0 }], node_name: ['node1'] }]);
  });

  it('sends the flag after --not to the blacklist', () => {
    expect(buildFilters(tokens('verdict', 'FORWARDED', 'not', 'port', '53'))).toEqual({
      whitelist: [{ verdict: ['FORWARDED'] }],
      blacklist: [{ source_port: ['53'] }, { destination_port: ['53'] }],
    });
  });

  it('rejects bad values naming the flag', () => {
    expect(() => buildFilters(tokens('verdict', 'ALLOWED'))).toThrow(/--verdict: expected one of/);
    expect(() => parseEventType('trace:to-mars')).toThrow(/--type: unknown sub-type "to-mars"/);
    expect(() => parseEventType('bogus')).toThrow(/--type: unknown event type/);
    expect(() => buildFilters(tokens('ip', '10.0.0.300'))).toThrow(/source_ip/);
    expect(() => buildFilters(tokens('http-status', 'abc'))).toThrow(/http_status_code/);
    expect(() => buildFilters([{ name: 'not' }])).toThrow(/--not/);
    expect(parseEventType('drop')).toEqual({ type: 1 });
    expect(parseEventType('l7')).toEqual({ type: 129 });
  });
});

describe('observe arguments', () => {
  it('defaults to the last 20 flows, and to none of the history with --follow alone', () => {
    expect(parseObserveArgs([]).request).toEqual({ number: 20 });
    expect(parseObserveArgs(['-f']).request).toEqual({ follow: true });
    expect(parseObserveArgs(['--follow', '--last', '5', '--to-pod', 'y/b', '-o', 'json'])).toMatchObject({ output: 'json', request: { number: 5, follow: true, whitelist: [{ destination_pod: ['y/b'] }] } });
    expect(parseObserveArgs(['--first', '3']).request).toEqual({ number: 3, first: true });
    expect(parseObserveArgs(['--node', 'node2']).nodes).toEqual(['node2']);
  });

  it('rejects bad input with the flag named', () => {
    expect(() => parseObserveArgs(['--last', '0'])).toThrow(/--last/);
    expect(() => parseObserveArgs(['-o', 'yaml'])).toThrow(/--output/);
    expect(() => parseObserveArgs(['--bogus'])).toThrow(/bogus/);
    expect(() => parseObserveArgs(['--first', '2', '--follow'])).toThrow(/--first/);
    expect(() => parseObserveArgs(['--since', 'yesterday'])).toThrow(/--since/);
  });

  it('reads times as RFC 3339 or a duration back from now', () => {
    expect(parseTime('--since', '2024-01-02T03:04:05Z')).toBe('2024-01-02T03:04:05.000Z');
    expect(parseTime('--since', '1h30m', Date.parse('2024-01-02T03:00:00Z'))).toBe('2024-01-02T01:30:00.000Z');
  });
});
