import { describe, expect, it } from 'vitest';
import { compactFlow } from './observe.js';
import type { Flow } from '../../agent/observer/flow.js';

const base: Flow = {
  time: '2026-11-25T20:12:08.122Z',
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
  Summary: '',
};

describe('observe output', () => {
  it('prints a reply with the initiator on the left and the arrow reversed, as hubble does', () => {
    expect(compactFlow(base)).toBe('2026-11-25T20:12:08.122Z  node1  x/a:40252 (ID:263) <- y/a:80 (ID:258) TO_ENDPOINT FORWARDED TCP Flags: SYN, ACK');
  });
  it('prints a drop with its reason', () => {
    const drop: Flow = { ...base, verdict: 'DROPPED', drop_reason: 169, drop_reason_desc: 'FIB_LOOKUP_FAILED', is_reply: false, l4: { ICMPv4: { type: 8, code: 0 } } };
    expect(compactFlow(drop)).toMatch(/y\/a \(ID:258\) -> x\/a \(ID:263\) DROPPED \(FIB_LOOKUP_FAILED\) ICMPv4 type 8$/);
  });
});
