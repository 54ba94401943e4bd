// Flow requirements, as `cilium connectivity test` has them: a probe passes only if the flows it must
// leave were seen too. Derived from each probe step (protocol, expectation, where source and target
// are), strict by default:
//   an allowed TCP connection  SYN, SYN-ACK and a FIN at every observation point of their direction, on
//                              both nodes; no drop between the two
//   a refused TCP connection   the SYN, and the RST back
//   UDP / ICMP allowed         the request and the reply (echo request and echo reply) at every point
//   a dropped probe            a drop between the two, with the step's expected reason and direction
//   HTTP on an L7 port         also the http-request and http-response flows on the client's node
// The path model (which node reports which observation point) is the datapath's: the sender's node
// reports where the packet enters its datapath (from-endpoint) and where it leaves (to-endpoint on the
// same node, to-overlay / to-network across nodes); the receiver's node where it arrives (from-overlay
// / from-network) and where it is delivered (to-endpoint). At the monitor aggregation levels that hide
// where packets enter (hubble.monitorAggregation low and maximum) the FROM_* points are left out, and
// traffic whose only point is one of them (a pod to a node) has no flow model. Pure functions, unit-tested with made-up
// flows; the runner hook (flow-checks.ts) collects the real flows from the relay.
import type { Flow } from '../../agent/observer/flow.js';
import type { ClusterSpec } from '../../harness/cluster/spec.js';
import { reportsFromPoints } from '../../lib/hubble-config.js';
import type { ProbeStep, ScenarioContext } from './model.js';

export type Point = 'FROM_ENDPOINT' | 'TO_ENDPOINT' | 'TO_OVERLAY' | 'FROM_OVERLAY' | 'TO_NETWORK' | 'FROM_NETWORK' | 'TO_STACK' | 'FROM_HOST';

/** What a step may declare about its flows (ProbeStep.flows). */
export interface StepFlowSpec {
  /** The drop a denied probe must show (Hubble names), e.g. {reason: 'POLICY_DENIED', direction: 'INGRESS'}. */
  drop?: { reason: string; direction?: 'INGRESS' | 'EGRESS' };
  /** Leave this probe's flows unchecked (the reason is shown in the report). */
  skip?: string;
}

export interface FlowRequirement {
  node: string;
  what: string;
  /** Met by one flow that matches... */
  match?: (f: Flow) => boolean;
  /** ...or judged on all the flows of the probe together. */
  whole?: (flows: Flow[]) => boolean;
}

export interface FlowPlan {
  requirements: FlowRequirement[];
  /** Flows that must not be there (a drop of an allowed connection). */
  forbidden: FlowRequirement[];
  /** The relay filter that returns every flow the requirements look at. */
  ips: string[];
  /** What the plan expects, in one line, for the report. */
  summary: string;
}

export interface Endpoint {
  kind: 'pod' | 'node' | 'ip';
  ip: string;
  /** The node hosting a pod, or the node itself; undefined for outside addresses. */
  node?: string;
}

type Hop = { node: string; point: Point };

/** The observation points a packet crosses from `a` to `b`, in order, or undefined when unknown.
 *  fromPoints false: the datapath does not report the FROM_* points (they are left out). */
export function path(a: Endpoint, b: Endpoint, routing: ClusterSpec['routing'], fromPoints = true): Hop[] | undefined {
  const hops = fullPath(a, b, routing);
  if (!hops || fromPoints) return hops;
  const shown = hops.filter((h) => !h.point.startsWith('FROM_'));
  return shown.length ? shown : undefined;
}

function fullPath(a: Endpoint, b: Endpoint, routing: ClusterSpec['routing']): Hop[] | undefined {
  const [to, from] = routing === 'native' ? (['TO_NETWORK', 'FROM_NETWORK'] as const) : (['TO_OVERLAY', 'FROM_OVERLAY'] as const);
  if (a.kind === 'pod' && b.kind === 'pod') {
    if (a.node === b.node) return [{ node: a.node!, point: 'FROM_ENDPOINT' }, { node: a.node!, point: 'TO_ENDPOINT' }];
    return [{ node: a.node!, point: 'FROM_ENDPOINT' }, { node: a.node!, point: to }, { node: b.node!, point: from }, { node: b.node!, point: 'TO_ENDPOINT' }];
  }
  // The node's own traffic is seen where it reaches a pod, and a pod's where it leaves it.
  if (b.kind === 'pod') return [{ node: b.node!, point: 'TO_ENDPOINT' }];
  if (a.kind === 'pod') return [{ node: a.node!, point: 'FROM_ENDPOINT' }];
  return undefined;
}

const flagsOf = (f: Flow) => f.l4?.TCP?.flags ?? {};

interface Dir {
  src: Endpoint;
  dst: Endpoint;
  /** Server port: the destination's in the forward direction, the source's in the reply. */
  port?: number;
  reply: boolean;
}

function l4Match(f: Flow, proto: ProbeStep['protocol'], d: Dir): boolean {
  const sameIps = f.IP.destination === d.dst.ip && (d.src.kind === 'node' ? true : f.IP.source === d.src.ip);
  const sameIpsReply = f.IP.source === d.src.ip && (d.dst.kind === 'node' ? true : f.IP.destination === d.dst.ip);
  if (!(d.reply ? sameIpsReply : sameIps)) return false;
  switch (proto) {
    case 'icmp':
      return !!f.l4?.ICMPv4;
    case 'udp':
      return !!f.l4?.UDP && (d.port === undefined || (d.reply ? f.l4.UDP.source_port : f.l4.UDP.destination_port) === d.port);
    default:
      return !!f.l4?.TCP && (d.port === undefined || (d.reply ? f.l4.TCP.source_port : f.l4.TCP.destination_port) === d.port);
  }
}

function traceAt(f: Flow, hop: Hop): boolean {
  return f.event_type.type === 4 && f.node_name === hop.node && f.trace_observation_point === hop.point && f.verdict === 'FORWARDED';
}

function describe(e: Endpoint): string {
  return e.kind === 'node' ? `node ${e.node}` : e.ip;
}

/**
 * The flow plan of one probe, or a reason there is none (an outside target, a skipped step). `l7Ports`:
 * the TCP ports with HTTP visibility (hubble.l7Visibility).
 */
export function planFlows(step: ProbeStep, src: Endpoint, dst: Endpoint, spec: Pick<ClusterSpec, 'routing' | 'hubble'>, l7Ports: number[] = []): FlowPlan | string {
  if (step.flows?.skip) return step.flows.skip;
  const fromPoints = !spec.hubble || reportsFromPoints(spec.hubble.monitorAggregation);
  const fwd = path(src, dst, spec.routing, fromPoints);
  const rev = path(dst, src, spec.routing, fromPoints);
  if (!fwd || !rev) return `no flow model for ${src.kind} → ${dst.kind} traffic`;
  const port = step.protocol === 'icmp' ? undefined : step.port;
  const f: Dir = { src, dst, port, reply: false };
  const r: Dir = { src: dst, dst: src, port, reply: true };
  const proto = step.protocol;
  const reqs: FlowRequirement[] = [];
  const at = (hops: Hop[], d: Dir, what: string, pred: (fl: Flow) => boolean) => {
    for (const h of hops) reqs.push({ node: h.node, what: `${what} at ${h.point.toLowerCase().replace('_', '-')}`, match: (fl) => traceAt(fl, h) && l4Match(fl, proto, d) && pred(fl) });
  };
  const forbidden: FlowRequirement[] = [];
  const outcome = step.expect.outcome;
  const who = `${describe(src)} → ${describe(dst)}`;
  let summary: string;
  if (outcome === 'ok') {
    if (proto === 'icmp') {
      at(fwd, f, 'echo request', (fl) => fl.l4?.ICMPv4?.type === 8);
      at(rev, r, 'echo reply', (fl) => (fl.l4?.ICMPv4?.type ?? 0) === 0);
      summary = 'echo request and reply at every observation point';
    } else if (proto === 'udp') {
      at(fwd, f, 'request', () => true);
      at(rev, r, 'reply', (fl) => fl.is_reply === true);
      summary = 'request and reply at every observation point';
    } else {
      at(fwd, f, 'SYN', (fl) => !!flagsOf(fl).SYN && !flagsOf(fl).ACK);
      at(rev, r, 'SYN-ACK', (fl) => !!flagsOf(fl).SYN && !!flagsOf(fl).ACK && fl.is_reply === true);
      // One side closes first: a FIN at every point of one direction or the other.
      const finF = fwd.map((h) => ({ h, m: (fl: Flow) => traceAt(fl, h) && l4Match(fl, proto, f) && !!flagsOf(fl).FIN }));
      const finR = rev.map((h) => ({ h, m: (fl: Flow) => traceAt(fl, h) && l4Match(fl, proto, r) && !!flagsOf(fl).FIN }));
      reqs.push({
        node: '*',
        what: 'FIN at every observation point of the side that closed',
        whole: (fs) => finF.every((x) => fs.some(x.m)) || finR.every((x) => fs.some(x.m)),
      });
      summary = 'SYN, SYN-ACK and FIN at every observation point';
      if (proto === 'http' && step.port !== undefined && l7Ports.includes(step.port) && src.kind === 'pod') {
        reqs.push({ node: src.node!, what: 'http-request', match: (fl) => fl.Type === 'L7' && fl.node_name === src.node && fl.l7?.type === 'REQUEST' && !!fl.l7.http && fl.IP.source === src.ip && fl.IP.destination === dst.ip });
        reqs.push({ node: src.node!, what: 'http-response with a status', match: (fl) => fl.Type === 'L7' && fl.node_name === src.node && fl.l7?.type === 'RESPONSE' && !!fl.l7.http?.code && fl.IP.source === dst.ip && fl.IP.destination === src.ip });
        summary += ', http-request and http-response';
      }
    }
    forbidden.push({ node: '*', what: 'a drop', match: (fl) => fl.verdict === 'DROPPED' && (l4Match(fl, proto, f) || l4Match(fl, proto, r)) });
  } else if (outcome === 'refused') {
    at(fwd, f, 'SYN', (fl) => !!flagsOf(fl).SYN);
    at(rev, r, 'RST', (fl) => !!flagsOf(fl).RST && fl.is_reply === true);
    summary = 'SYN and the RST back at every observation point';
  } else {
    // A probe expected to fail: where it leaves its source, and (timeouts) the drop that stopped it.
    at(fwd.slice(0, 1), f, proto === 'icmp' ? 'echo request' : 'first packet', () => true);
    summary = 'the first packet where it leaves its source';
    const drop = step.flows?.drop;
    if (drop || outcome === 'timeout') {
      reqs.push({
        node: '*',
        what: `a drop${drop ? ` ${drop.reason}${drop.direction ? ` ${drop.direction}` : ''}` : ''}`,
        match: (fl) => fl.verdict === 'DROPPED' && l4Match(fl, proto, f) && (!drop || (fl.drop_reason_desc === drop.reason && (!drop.direction || fl.traffic_direction === drop.direction))),
      });
      summary += `, and a drop${drop ? ` (${drop.reason}${drop.direction ? `, ${drop.direction}` : ''})` : ''}`;
    }
  }
  return { requirements: reqs, forbidden, ips: [...new Set([src.ip, dst.ip])], summary: `${who}: ${summary}` };
}

export interface FlowJudgement {
  passed: boolean;
  missing: string[];
  unexpected: string[];
}

/** Which requirements the flows meet (flows: those of the probe's window). */
export function judgeFlows(plan: FlowPlan, flows: Flow[]): FlowJudgement {
  const missing: string[] = [];
  for (const r of plan.requirements) {
    const ok = r.whole ? r.whole(flows) : flows.some((f) => (r.node === '*' || f.node_name === r.node) && r.match!(f));
    if (!ok) missing.push(`${r.node === '*' ? 'any node' : r.node}: ${r.what}`);
  }
  const unexpected = plan.forbidden.flatMap((r) => flows.filter((f) => r.match!(f)).map((f) => `${f.node_name}: ${r.what} (${f.drop_reason_desc ?? f.verdict})`));
  return { passed: missing.length === 0 && unexpected.length === 0, missing, unexpected: [...new Set(unexpected)] };
}

/** Where a probe's source and target are, from the scenario context. */
export function endpointsOf(ctx: ScenarioContext, step: ProbeStep): { src: Endpoint; dst: Endpoint } | string {
  const src: Endpoint | undefined = 'pod' in step.from
    ? ((p) => p && { kind: 'pod' as const, ip: p.ip, node: p.node })(ctx.pods.get(step.from.pod))
    : ((n) => n && { kind: 'node' as const, ip: n.underlayIp, node: n.name })(ctx.nodes.get(step.from.node));
  let dst: Endpoint | undefined;
  if ('pod' in step.to) dst = ((p) => p && { kind: 'pod' as const, ip: p.ip, node: p.node })(ctx.pods.get(step.to.pod));
  else if ('node' in step.to) dst = ((n) => n && { kind: 'node' as const, ip: n.underlayIp, node: n.name })(ctx.nodes.get(step.to.node));
  else {
    const ip = step.to.ip;
    const pod = [...ctx.pods.values()].find((p) => p.ip === ip);
    const node = [...ctx.nodes.values()].find((n) => n.underlayIp === ip);
    dst = pod ? { kind: 'pod', ip, node: pod.node } : node ? { kind: 'node', ip, node: node.name } : { kind: 'ip', ip };
  }
  if (!src || !dst) return 'source or target not resolved';
  return { src, dst };
}
