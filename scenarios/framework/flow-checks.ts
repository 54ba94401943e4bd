// The runner's flow checks (see flow-requirements.ts for what is required): after each probe, the probe's
// flows are read from the cluster's relay and judged; a missing flow fails the check, and the report
// shows the flows that were seen. Around each batch of probes (the runner runs consecutive probe steps
// together, with nothing else), the metric counters the probes move predictably are read before and
// after and must have moved by exactly what the probes did.
import { existsSync } from 'node:fs';
import { getFlowsStream } from '../../agent/api/flow-stream.js';
import type { GetFlowsResponse } from '../../agent/observer/api.js';
import type { Flow } from '../../agent/observer/flow.js';
import { paths } from '../../harness/cluster/names.js';
import type { ClusterSpec } from '../../harness/cluster/spec.js';
import { compactFlow } from '../../harness/cli/observe-printer.js';
import { unixJsonRequest } from '../../harness/exec/unix-http.js';
import type { CheckResult } from '../../reports/model.js';
import { endpointsOf, judgeFlows, path, planFlows, type FlowPlan } from './flow-requirements.js';
import type { ProbeStep, ScenarioContext } from './model.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FlowCheckOptions {
  /** How long flows may take to show up before a requirement counts as missing. */
  timeoutMs?: number;
  pollMs?: number;
  /** false: no exact counter deltas per batch of probes (flow requirements still apply). */
  counters?: boolean;
}

/** Counters a batch of probes moves by a predictable amount: name{label} → value. */
type Counters = Map<string, number>;
const WATCHED: Array<[string, string, string]> = [
  ['hubble_icmp_total', 'type', 'EchoRequest'],
  ['hubble_icmp_total', 'type', 'EchoReply'],
  ['hubble_tcp_flags_total', 'flag', 'SYN'],
  ['hubble_tcp_flags_total', 'flag', 'SYN-ACK'],
];
const key = (m: string, l: string, v: string) => `${m}{${l}="${v}"}`;

export class FlowChecks {
  private readonly relay: string;
  private readonly o: Required<FlowCheckOptions>;
  private readonly l7Ports: number[];

  private constructor(private readonly spec: ClusterSpec, o: FlowCheckOptions) {
    this.relay = paths.relaySocket(spec.name);
    this.o = { timeoutMs: 2500, pollMs: 150, counters: true, ...o };
    this.l7Ports = (spec.hubble?.l7Visibility ?? []).filter((p) => p.parser === 'http').map((p) => p.port);
  }

  /** Flow checks for a cluster that has an observer (cnilab, hubble enabled), else undefined. */
  static forCluster(spec: ClusterSpec, o: FlowCheckOptions = {}): FlowChecks | undefined {
    if (spec.cni !== 'cnilab' || spec.hubble?.enabled === false) return undefined;
    if (!existsSync(paths.relaySocket(spec.name))) return undefined;
    return new FlowChecks(spec, o);
  }

  /** All flows touching `ips` since `sinceMs`, from every node. */
  async flows(ips: string[], sinceMs: number): Promise<{ flows: Flow[]; unavailable: string[] }> {
    const flows: Flow[] = [];
    const unavailable: string[] = [];
    const s = getFlowsStream(this.relay, '/v1/flows', { since: new Date(sinceMs).toISOString(), whitelist: [{ source_ip: ips }, { destination_ip: ips }] }, (r: GetFlowsResponse) => {
      if ('flow' in r) flows.push(r.flow);
      else if ('node_status' in r && r.node_status.state_change !== 'NODE_CONNECTED') unavailable.push(...r.node_status.node_names);
    });
    await s.done;
    return { flows, unavailable };
  }

  /** The flow check of a passed probe step, or undefined when none applies. */
  async checkProbe(ctx: ScenarioContext, step: ProbeStep, startedAtMs: number, probe: CheckResult): Promise<CheckResult | undefined> {
    if (!probe.passed) return undefined; // the probe's own failure says it already
    const eps = endpointsOf(ctx, step);
    if (typeof eps === 'string') return undefined;
    const plan = planFlows(step, eps.src, eps.dst, this.spec, this.l7Ports);
    if (typeof plan === 'string') return undefined;
    const t0 = performance.now();
    const base = { id: `${step.id}/flows`, name: `flows of ${step.name}`, from: probe.from, to: probe.to, protocol: probe.protocol, ...(probe.port !== undefined ? { port: probe.port } : {}), expected: plan.summary, tags: { ...step.tags, kind: 'flows' } };
    // Flow times come from the nodes' clocks, converted from CLOCK_MONOTONIC: allow a little slack.
    const since = startedAtMs - 250;
    let last: { flows: Flow[]; unavailable: string[] } = { flows: [], unavailable: [] };
    let judgement = judgeFlows(plan, []);
    try {
      for (;;) {
        last = await this.flows(plan.ips, since);
        judgement = judgeFlows(plan, last.flows);
        if (judgement.passed || performance.now() - t0 > this.o.timeoutMs) break;
        await sleep(this.o.pollMs);
      }
    } catch (e) {
      return { ...base, passed: false, verdict: 'unavailable', observed: `flows could not be read: ${(e as Error).message}`, durationMs: Math.round(performance.now() - t0) };
    }
    const seen = seenText(plan, last.flows);
    const observed = judgement.passed ? `${plan.requirements.length} required flows seen` : [judgement.missing.length ? `missing: ${judgement.missing.join('; ')}` : '', judgement.unexpected.length ? `unexpected: ${judgement.unexpected.join('; ')}` : ''].filter(Boolean).join('; ');
    const unavailable = !judgement.passed && last.unavailable.length > 0;
    const command = `cnilab observe --name ${this.spec.name} --since ${new Date(since).toISOString()} --ip ${plan.ips.join(' --ip ')}`;
    return {
      ...base,
      passed: judgement.passed,
      verdict: judgement.passed ? 'pass' : unavailable ? 'unavailable' : 'fail',
      observed: unavailable ? `${observed} (nodes unavailable: ${[...new Set(last.unavailable)].join(', ')})` : observed,
      durationMs: Math.round(performance.now() - t0),
      ...(judgement.passed ? {} : { detail: seen }),
      command,
      // The flows themselves, as hubble's compact lines: what the verdict rests on.
      evidence: [{ kind: 'flow', command, observed: seen || '(no flows)' }],
    };
  }

  /** The counters before a batch of probes. */
  async counters(): Promise<Counters | undefined> {
    try {
      const r = await unixJsonRequest(this.relay, 'GET', '/v1/metrics', undefined, 10_000);
      if (r.status !== 200 || r.body.unavailable?.length) return undefined;
      const out: Counters = new Map();
      for (const [m, l, v] of WATCHED) out.set(key(m, l, v), 0);
      for (const metric of r.body.metrics as Array<{ name: string; values: Array<{ value: number; labels: Record<string, string> }> }>) {
        for (const [m, l, v] of WATCHED) {
          if (metric.name !== m) continue;
          for (const val of metric.values) if (val.labels[l] === v) out.set(key(m, l, v), out.get(key(m, l, v))! + val.value);
        }
      }
      return out;
    } catch {
      return undefined;
    }
  }

  /** What a batch of probe steps must add to the watched counters, or why it cannot be said. */
  expectedDeltas(ctx: ScenarioContext, steps: ProbeStep[]): Counters | string {
    const d: Counters = new Map(WATCHED.map(([m, l, v]) => [key(m, l, v), 0]));
    const add = (k: string, n: number) => d.set(k, d.get(k)! + n);
    for (const s of steps) {
      const eps = endpointsOf(ctx, s);
      if (typeof eps === 'string') return `${s.id}: ${eps}`;
      // The node's own traffic crosses points that depend on the source address the kernel picks
      // (router or underlay address): its flows are required where it meets the pod, not counted.
      if (eps.src.kind !== 'pod' || eps.dst.kind !== 'pod') return `${s.id} involves a node: its packets are not counted exactly`;
      if (s.protocol === 'udp') continue;
      const refusedTcp = s.expect.outcome === 'refused' && s.protocol !== 'icmp';
      if (s.expect.outcome !== 'ok' && !refusedTcp) return `${s.id} is expected to fail: how far its packets get is not counted here`;
      const fwd = path(eps.src, eps.dst, this.spec.routing);
      const rev = path(eps.dst, eps.src, this.spec.routing);
      if (!fwd || !rev) return `${s.id}: no flow model for this path`;
      if (s.protocol === 'icmp') {
        add(key('hubble_icmp_total', 'type', 'EchoRequest'), fwd.length);
        add(key('hubble_icmp_total', 'type', 'EchoReply'), rev.length);
      } else {
        add(key('hubble_tcp_flags_total', 'flag', 'SYN'), fwd.length);
        if (!refusedTcp) add(key('hubble_tcp_flags_total', 'flag', 'SYN-ACK'), rev.length);
      }
    }
    return d;
  }

  /** The metric check of a batch: the watched counters moved by exactly the expected deltas. */
  async checkBatch(ctx: ScenarioContext, steps: ProbeStep[], before: Counters | undefined, results: CheckResult[]): Promise<CheckResult | undefined> {
    if (!steps.length || results.some((r) => !r.passed)) return undefined; // failures are reported already
    if (this.o.counters === false) return undefined;
    const expected = this.expectedDeltas(ctx, steps);
    if (typeof expected === 'string') return undefined;
    const id = `metrics/${steps[0]!.id}..${steps[steps.length - 1]!.id}`;
    const want = [...expected].filter(([, n]) => n > 0);
    if (!want.length) return undefined;
    const base = { id, name: `metric counters moved by what ${steps.length} probes did`, expected: want.map(([k, n]) => `${k} +${n}`).join(', '), tags: { kind: 'metrics' } };
    const t0 = performance.now();
    if (!before) return { ...base, passed: false, verdict: 'unavailable', observed: 'the counters could not be read before the probes', durationMs: 0 };
    let got: Array<[string, number]> = [];
    for (;;) {
      const after = await this.counters();
      if (!after) return { ...base, passed: false, verdict: 'unavailable', observed: 'the counters could not be read after the probes', durationMs: Math.round(performance.now() - t0) };
      got = [...expected].map(([k]) => [k, after.get(k)! - before.get(k)!]);
      const exact = got.every(([k, n]) => n === expected.get(k));
      if (exact || performance.now() - t0 > this.o.timeoutMs) {
        const observed = got.filter(([k]) => expected.get(k)! > 0 || got.find(([g]) => g === k)![1] !== 0).map(([k, n]) => `${k} +${n}`).join(', ');
        const evidence = [{ kind: 'counter' as const, command: `cnilab metrics --name ${this.spec.name}`, observed }];
        return { ...base, passed: exact, verdict: exact ? 'pass' : 'fail', observed, evidence, durationMs: Math.round(performance.now() - t0) };
      }
      await sleep(this.o.pollMs);
    }
  }
}

/** The flows seen, as compact lines, for a failed check's detail. */
function seenText(plan: FlowPlan, flows: Flow[]): string {
  if (!flows.length) return `flows seen: none (${plan.ips.join(', ')})`;
  const lines = flows.slice(-40).map((f) => compactFlow(f));
  return `flows seen (${flows.length}${flows.length > 40 ? ', the last 40' : ''}):\n${lines.join('\n')}`;
}
