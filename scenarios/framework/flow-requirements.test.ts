import { describe, expect, it } from 'vitest';
import type { Flow } from '../../agent/observer/flow.js';
import { judgeFlows, path, planFlows, type Endpoint, type FlowPlan } from './flow-requirements.js';
import type { ProbeStep } from './model.js';
import { resolveHubbleConfig } from '../../lib/hubble-config.js';

const A: Endpoint = { kind: 'pod', ip: '198.19.0.5', node: 'node1' };
const B: Endpoint = { kind: 'pod', ip: '198.19.1.4', node: 'node2' };
const C: Endpoint = { kind: 'pod', ip: '198.19.0.6', node: 'node1' };

const step = (over: Partial<ProbeStep>): ProbeStep => ({ kind: 'probe', id: 's', name: 's', from: { pod: 'x/a' }, to: { pod: 'y/b' }, protocol: 'tcp', port: 80, expect: { outcome: 'ok' }, ...over });

/** A trace as the datapath reports it. */
function trace(node: string, point: string, src: Endpoint, dst: Endpoint, l4: Flow['l4'], reply: boolean): Flow {
  return {
    time: '2024-01-01T00:00:00.000000000Z', verdict: 'FORWARDED', IP: { source: src.ip, destination: dst.ip, ipVersion: 'IPv4' }, l4,
    source: {}, destination: {}, Type: 'L3_L4', node_name: node, event_type: { type: 4 }, trace_observation_point: point, is_reply: reply,
  };
}

/** Every trace of a TCP connection src:40000 → dst:80 (SYN, SYN-ACK, server FIN) along the datapath's path. */
function tcpConnection(src: Endpoint, dst: Endpoint, routing: 'tunnel' | 'native', skip: (node: string, point: string) => boolean = () => false): Flow[] {
  const out: Flow[] = [];
  const fwd = path(src, dst, routing)!;
  const rev = path(dst, src, routing)!;
  const tcp = (sp: number, dp: number, flags: Record<string, true>) => ({ TCP: { source_port: sp, destination_port: dp, flags } });
  for (const h of fwd) if (!skip(h.node, h.point)) out.push(trace(h.node, h.point, src, dst, tcp(40000, 80, { SYN: true }), false));
  for (const h of rev) if (!skip(h.node, h.point)) out.push(trace(h.node, h.point, dst, src, tcp(80, 40000, { SYN: true, ACK: true }), true));
  for (const h of rev) if (!skip(h.node, h.point)) out.push(trace(h.node, h.point, dst, src, tcp(80, 40000, { FIN: true, ACK: true }), true));
  return out;
}

const plan = (s: ProbeStep, src = A, dst = B, routing: 'tunnel' | 'native' = 'tunnel', l7: number[] = []) => planFlows(s, src, dst, { routing }, l7) as FlowPlan;

describe('flow requirements', () => {
  it('follows the datapath: four points across nodes (tunnel or native), two on one node', () => {
    expect(path(A, B, 'tunnel')).toEqual([
      { node: 'node1', point: 'FROM_ENDPOINT' }, { node: 'node1', point: 'TO_OVERLAY' }, { node: 'node2', point: 'FROM_OVERLAY' }, { node: 'node2', point: 'TO_ENDPOINT' },
    ]);
    expect(path(A, B, 'native')!.map((h) => h.point)).toEqual(['FROM_ENDPOINT', 'TO_NETWORK', 'FROM_NETWORK', 'TO_ENDPOINT']);
    expect(path(A, C, 'tunnel')).toEqual([{ node: 'node1', point: 'FROM_ENDPOINT' }, { node: 'node1', point: 'TO_ENDPOINT' }]);
  });

  it('monitorAggregation low or maximum: the FROM_* points are not required (the datapath hides them)', () => {
    expect(path(A, B, 'tunnel', false)!.map((h) => h.point)).toEqual(['TO_OVERLAY', 'TO_ENDPOINT']);
    const maximum = resolveHubbleConfig({ monitorAggregation: 'maximum' });
    const p = planFlows(step({}), A, B, { routing: 'native', hubble: maximum }) as FlowPlan;
    expect(p.requirements.map((r) => r.what).join('; ')).not.toMatch(/from-/);
    expect(p.requirements.map((r) => r.what).join('; ')).toMatch(/to-network.*to-endpoint/);
    const medium = planFlows(step({}), A, B, { routing: 'native', hubble: resolveHubbleConfig({}) }) as FlowPlan;
    expect(medium.requirements.map((r) => r.what).join('; ')).toMatch(/from-endpoint/);
    // A pod's traffic to a node is seen only where it enters: nothing left to require.
    expect(planFlows(step({}), A, { kind: 'node', ip: '198.18.0.12', node: 'node2' }, { routing: 'tunnel', hubble: maximum })).toMatch(/no flow model/);
  });

  it('an allowed TCP connection needs SYN, SYN-ACK and FIN at every point on both nodes', () => {
    for (const routing of ['tunnel', 'native'] as const) {
      const p = plan(step({}), A, B, routing);
      expect(p.requirements.filter((r) => r.what.startsWith('SYN at'))).toHaveLength(4);
      expect(judgeFlows(p, tcpConnection(A, B, routing))).toEqual({ passed: true, missing: [], unexpected: [] });
      // One missing observation point fails it, naming the node and the point.
      const j = judgeFlows(p, tcpConnection(A, B, routing, (n, pt) => n === 'node2' && pt.startsWith('FROM_')));
      expect(j.passed).toBe(false);
      expect(j.missing).toContain(`node2: SYN at ${routing === 'tunnel' ? 'from-overlay' : 'from-network'}`);
      expect(j.missing).toContain('any node: FIN at every observation point of the side that closed');
    }
    expect(judgeFlows(plan(step({}), A, C), tcpConnection(A, C, 'tunnel')).passed).toBe(true);
  });

  it('a drop between the two fails an allowed connection', () => {
    const flows = tcpConnection(A, B, 'tunnel');
    flows.push({ ...flows[0]!, verdict: 'DROPPED', drop_reason_desc: 'POLICY_DENIED', event_type: { type: 1, sub_type: 133 }, node_name: 'node2' });
    expect(judgeFlows(plan(step({})), flows)).toMatchObject({ passed: false, unexpected: ['node2: a drop (POLICY_DENIED)'] });
  });

  it('a denied probe needs the drop with the expected reason and direction', () => {
    const s = step({ expect: { outcome: 'timeout' }, flows: { drop: { reason: 'POLICY_DENIED', direction: 'INGRESS' } } });
    const p = plan(s);
    const syn = trace('node1', 'FROM_ENDPOINT', A, B, { TCP: { source_port: 40000, destination_port: 80, flags: { SYN: true } } }, false);
    const drop = (reason: string, dir: 'INGRESS' | 'EGRESS'): Flow => ({ ...syn, node_name: 'node2', verdict: 'DROPPED', drop_reason_desc: reason, traffic_direction: dir, event_type: { type: 1 }, trace_observation_point: undefined, is_reply: undefined });
    expect(judgeFlows(p, [syn, drop('POLICY_DENIED', 'INGRESS')]).passed).toBe(true);
    expect(judgeFlows(p, [syn, drop('POLICY_DENIED', 'EGRESS')]).missing).toEqual(['any node: a drop POLICY_DENIED INGRESS']);
    expect(judgeFlows(p, [syn, drop('POLICY_DENY', 'INGRESS')]).passed).toBe(false);
    expect(judgeFlows(p, [syn]).passed).toBe(false);
  });

  it('ICMP needs echo request and reply; UDP request and reply; a refused TCP probe the RST back', () => {
    const icmp = plan(step({ protocol: 'icmp', port: undefined }));
    const echo = (reply: boolean) => (path(reply ? B : A, reply ? A : B, 'tunnel')!).map((h) => trace(h.node, h.point, reply ? B : A, reply ? A : B, { ICMPv4: reply ? {} : { type: 8 } }, reply));
    expect(judgeFlows(icmp, [...echo(false), ...echo(true)]).passed).toBe(true);
    expect(judgeFlows(icmp, echo(false)).missing).toHaveLength(4);
    const refused = plan(step({ expect: { outcome: 'refused' } }));
    expect(refused.requirements.map((r) => r.what)).toContain('RST at to-endpoint');
  });

  it('HTTP on an L7 port needs the http-request and http-response flows on the client node', () => {
    const p = plan(step({ protocol: 'http', port: 8080 }), A, B, 'tunnel', [8080]);
    expect(p.requirements.map((r) => r.what)).toEqual(expect.arrayContaining(['http-request', 'http-response with a status']));
    expect(plan(step({ protocol: 'http', port: 9999 }), A, B, 'tunnel', [8080]).requirements.map((r) => r.what)).not.toContain('http-request');
  });

  it('says why a probe has no flow plan', () => {
    expect(planFlows(step({ flows: { skip: 'hubble disabled on purpose' } }), A, B, { routing: 'tunnel' })).toBe('hubble disabled on purpose');
    expect(planFlows(step({}), { kind: 'ip', ip: '1.1.1.1' }, { kind: 'ip', ip: '2.2.2.2' }, { routing: 'tunnel' })).toMatch(/no flow model/);
  });
});
