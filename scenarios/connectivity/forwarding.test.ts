// The forwarding checks' judgements, fed the datapath bugs they exist for (issue 12, found 4).
import { describe, expect, it } from 'vitest';
import type { Flow } from '../../agent/observer/flow.js';
import { connectionExpectations, expectedReplyTtl, flowProblems, replyTtl } from './forwarding.js';

const flow = (o: Partial<Flow> & { src: string; dst: string; sport: number; dport: number; flags: string[]; si: number; di: number }): Flow => ({
  time: '2026-01-01T00:00:00Z',
  verdict: 'FORWARDED',
  IP: { source: o.src, destination: o.dst, ipVersion: 'IPv4' },
  l4: { TCP: { source_port: o.sport, destination_port: o.dport, flags: Object.fromEntries(o.flags.map((f) => [f, true])) as Record<string, true> } },
  source: { identity: o.si },
  destination: { identity: o.di },
  Type: 'L3_L4',
  node_name: o.node_name ?? 'n',
  event_type: { type: 4 },
  traffic_direction: o.traffic_direction ?? 'INGRESS',
  trace_observation_point: o.trace_observation_point ?? 'TO_ENDPOINT',
  is_reply: o.is_reply ?? false,
  Summary: '',
});

const A = { ip: '198.19.1.2', node: 'n1', identity: 300 };
const B = { ip: '198.19.2.2', node: 'n2', identity: 301 };

describe('reply TTL', () => {
  it('reads ping output and expects one hop per routing node', () => {
    expect(replyTtl('64 bytes from 198.19.2.2: icmp_seq=1 ttl=62 time=0.2 ms')).toBe(62);
    expect(replyTtl('1 packets transmitted, 0 received')).toBeUndefined();
    expect(expectedReplyTtl(true)).toBe(63);
    expect(expectedReplyTtl(false)).toBe(62);
  });
});

describe('connection flows', () => {
  const good = (): Record<string, Flow[]> => ({
    n2: [flow({ src: A.ip, dst: B.ip, sport: 40000, dport: 8080, flags: ['SYN'], si: 300, di: 301 })],
    n1: [
      flow({ src: A.ip, dst: B.ip, sport: 40000, dport: 8080, flags: ['SYN'], si: 300, di: 301, trace_observation_point: 'TO_OVERLAY', traffic_direction: 'EGRESS' }),
      flow({ src: B.ip, dst: A.ip, sport: 8080, dport: 40000, flags: ['SYN', 'ACK'], si: 301, di: 300, is_reply: true, traffic_direction: 'EGRESS' }),
    ],
  });
  const judge = (flows: Record<string, Flow[]>) => connectionExpectations(A, B, 8080, 'tunnel').flatMap((e) => flowProblems(e, flows[e.node] ?? []));
  it('passes the flows Hubble would show', () => {
    expect(judge(good())).toEqual([]);
  });
  it('catches TO_ENDPOINT reported as EGRESS', () => {
    const f = good();
    f.n2![0]!.traffic_direction = 'EGRESS';
    expect(judge(f)).toEqual(['n2: SYN delivered to the server: direction EGRESS, expected INGRESS']);
  });
  it('catches a reply not marked as one, and a wrong identity', () => {
    const f = good();
    f.n1![1]!.is_reply = false;
    f.n2![0]!.source.identity = 301;
    expect(judge(f)).toEqual(['n2: SYN delivered to the server: source identity 301, expected 300', 'n1: SYN-ACK delivered to the client: is_reply false, expected true']);
  });
  it('catches a missing event', () => {
    const f = good();
    f.n1 = f.n1!.slice(1);
    expect(judge(f)).toEqual(['n1: no flow for the SYN sent into the tunnel']);
  });
});
