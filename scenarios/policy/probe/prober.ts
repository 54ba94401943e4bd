// The prober: many probes in flight from one process, each with its own source port, each settled by
// the first conclusive evidence — the responder's hostname (connected), its drop flow (blocked, with
// the reason, direction and node the datapath reported), a refusal, or, only where the CNI reports no
// flows, the timeout. Then judged against the oracle's expectation. Mismatches are re-probed like the
// upstream netpol e2e does (again and again for a while, then a "second try" of the whole set), and
// every retry is counted in the result so a flaky pass never looks like a clean one.
import type { PolicyDropReason } from '../oracle/model.js';
import { FlowWatch, type ConnectionKey, type ObservedFlow } from './flows.js';
import { socketProbe, type SocketProbeResult } from './socket.js';
import { pool } from '../../../lib/pool.js';

export interface ProbeSource {
  key: string;
  ip: string;
  netns: string;
}
export interface ProbeTarget {
  key: string;
  ip: string;
  /** What the responder must answer (serve-hostname: the pod's name). */
  answer: string;
}
export interface ExpectedResult {
  allowed: boolean;
  /** For a blocked probe on a CNI with flows: the drop it must show. */
  drop?: { direction: 'EGRESS' | 'INGRESS'; reason: PolicyDropReason; node?: string };
  /** The oracle's reason, kept for the report. */
  reason: string;
}
export interface ProbeRequest {
  from: ProbeSource;
  to: ProbeTarget;
  protocol: 'TCP' | 'UDP';
  port: number;
  expect: ExpectedResult;
}

/** 'unreachable': an ICMP unreachable or a reset (seen through exec probes, whose tool reports it). */
export type Evidence = 'answer' | 'wrong-answer' | 'drop-flow' | 'timeout' | 'refused' | 'unreachable' | 'error';

export interface ProbeObservation {
  /** undefined when the probe could not tell (a local error). */
  connected: boolean | undefined;
  evidence: Evidence;
  answer?: string;
  drop?: ObservedFlow;
  sourcePort: number;
  ms: number;
  error?: string;
  /** Every flow of the connection the agents reported (empty on CNIs without flows). */
  flows: ObservedFlow[];
}

export interface ProbeOutcome {
  request: ProbeRequest;
  observation: ProbeObservation;
  correct: boolean;
  /** Why an incorrect probe is incorrect, in words. */
  why?: string;
  attempts: number;
}

export interface ProberOptions {
  /** The agents' flows; absent on CNIs that report none (the timeout is then the evidence of a block). */
  flows?: FlowWatch;
  concurrency?: number;
  timeoutMs?: number;
  /** Re-probe mismatches every intervalMs for up to windowMs, then probe everything once more. */
  retry?: { intervalMs: number; windowMs: number; secondTry: boolean };
  /** Replaces the real socket probe (unit tests of the retry logic). */
  attempt?: (req: ProbeRequest, sourcePort: number) => Promise<ProbeObservation>;
}

export interface ProbeRunStats {
  probes: number;
  firstTryIncorrect: number;
  retriedProbes: number;
  reprobes: number;
  secondTry: boolean;
  ms: number;
}

const DEFAULTS = { concurrency: 48, timeoutMs: 1000, retry: { intervalMs: 500, windowMs: 3000, secondTry: true } };
const PORT_MIN = 20000;
const PORT_SPAN = 40000;

/** Source ports per source: a new one for every attempt, starting at a random place so two runs on one cluster do not reuse 5-tuples. */
export class SourcePorts {
  private next = new Map<string, number>();
  take(source: string): number {
    const n = this.next.get(source) ?? Math.floor(Math.random() * PORT_SPAN);
    this.next.set(source, (n + 1) % PORT_SPAN);
    return PORT_MIN + n;
  }
}

export function judge(req: ProbeRequest, o: ProbeObservation, flowsAvailable: boolean): { correct: boolean; why?: string } {
  if (o.connected === undefined) return { correct: false, why: `the probe could not run: ${o.error ?? o.evidence}` };
  if (req.expect.allowed) {
    if (o.evidence === 'answer') return { correct: true };
    if (o.evidence === 'wrong-answer') return { correct: false, why: `answered "${o.answer}" instead of "${req.to.answer}"` };
    return { correct: false, why: `expected to connect, but ${describeBlock(o)}` };
  }
  if (o.connected) return { correct: false, why: `expected blocked, but it connected${o.answer !== undefined ? ` and "${o.answer}" answered` : ''}` };
  if (o.evidence === 'drop-flow') {
    const d = o.drop!;
    const want = req.expect.drop;
    if (d.reverse) return { correct: false, why: `the reply was dropped (${d.dropReason} ${d.direction} on ${d.node}), not the request` };
    if (want && (d.dropReason !== want.reason || d.direction !== want.direction || (want.node && d.node !== want.node))) {
      return { correct: false, why: `dropped with ${d.dropReason} ${d.direction} on ${d.node}; expected ${want.reason} ${want.direction}${want.node ? ` on ${want.node}` : ''}` };
    }
    return { correct: true };
  }
  if (flowsAvailable) return { correct: false, why: `blocked (${o.evidence}) but the agents reported no drop flow for it: unconfirmed` };
  return { correct: true };
}

function describeBlock(o: ProbeObservation): string {
  if (o.evidence === 'drop-flow') return `it was dropped: ${o.drop!.dropReason} ${o.drop!.direction} on ${o.drop!.node}`;
  if (o.evidence === 'refused') return 'it was refused';
  if (o.evidence === 'timeout') return 'it timed out';
  return `${o.evidence}${o.error ? `: ${o.error}` : ''}`;
}

export class Prober {
  private readonly ports = new SourcePorts();
  private readonly o: Required<Omit<ProberOptions, 'flows' | 'attempt'>> & Pick<ProberOptions, 'flows' | 'attempt'>;

  constructor(opts: ProberOptions = {}) {
    this.o = { ...DEFAULTS, ...opts, retry: opts.retry ?? DEFAULTS.retry };
  }

  get flowsAvailable(): boolean {
    return this.o.flows !== undefined;
  }

  /** One probe, settled by the first conclusive evidence. */
  async probeOnce(req: ProbeRequest): Promise<ProbeObservation> {
    for (let bindTries = 0; ; bindTries++) {
      const sourcePort = this.ports.take(req.from.key);
      const obs = await (this.o.attempt ?? ((r, p) => this.attempt(r, p)))(req, sourcePort);
      // A source port still held by an old connection is our problem, not an observation.
      if (obs.evidence === 'error' && /EADDRINUSE|EADDRNOTAVAIL/.test(obs.error ?? '') && bindTries < 3) continue;
      return obs;
    }
  }

  private async attempt(req: ProbeRequest, sourcePort: number): Promise<ProbeObservation> {
    const key: ConnectionKey = { protocol: req.protocol, srcIp: req.from.ip, srcPort: sourcePort, dstIp: req.to.ip, dstPort: req.port };
    const flows = this.o.flows;
    flows?.watch(key);
    const ac = new AbortController();
    const socket = socketProbe({ netns: req.from.netns, protocol: req.protocol, host: req.to.ip, port: req.port, sourcePort, timeoutMs: this.o.timeoutMs, signal: ac.signal });
    const dropped = flows ? flows.nextDrop(key, ac.signal) : new Promise<undefined>(() => undefined);
    type First = { kind: 'socket'; r: SocketProbeResult } | { kind: 'drop'; f: ObservedFlow };
    const first: First = await Promise.race([
      socket.then((r) => ({ kind: 'socket' as const, r })),
      dropped.then((f) => (f ? { kind: 'drop' as const, f } : new Promise<never>(() => undefined))),
    ]);
    ac.abort();
    const r = first.kind === 'socket' ? first.r : await socket;
    let drop = first.kind === 'drop' ? first.f : undefined;
    if (!drop && flows && r.outcome !== 'answer') {
      // A drop reported just after the timeout still counts: read the agents once more.
      await flows.pollNow();
      drop = flows.flowsOf(key).find((f) => f.verdict === 'DROPPED');
    }
    const seen = flows?.release(key) ?? [];
    const base = { sourcePort, ms: r.ms, flows: seen };
    if (r.outcome === 'answer' && !drop) {
      return { ...base, connected: true, evidence: r.answer === req.to.answer ? 'answer' : 'wrong-answer', answer: r.answer };
    }
    if (drop) return { ...base, connected: false, evidence: 'drop-flow', drop };
    if (r.outcome === 'refused') return { ...base, connected: false, evidence: 'refused' };
    if (r.outcome === 'timeout') return { ...base, connected: false, evidence: 'timeout' };
    return { ...base, connected: undefined, evidence: 'error', error: r.error ?? r.outcome };
  }

  private async probeAndJudge(req: ProbeRequest, attempts: number): Promise<ProbeOutcome> {
    const observation = await this.probeOnce(req);
    return { request: req, observation, attempts, ...judge(req, observation, this.flowsAvailable) };
  }

  /** Probe everything, re-probe mismatches, then a second try of the whole set if any remain. */
  async run(reqs: ProbeRequest[]): Promise<{ outcomes: ProbeOutcome[]; stats: ProbeRunStats }> {
    const t0 = performance.now();
    const { concurrency, retry } = this.o;
    let outcomes = await pool(reqs, concurrency, (r) => this.probeAndJudge(r, 1));
    const stats: ProbeRunStats = { probes: reqs.length, firstTryIncorrect: outcomes.filter((o) => !o.correct).length, retriedProbes: 0, reprobes: 0, secondTry: false, ms: 0 };
    const retried = new Set<number>();
    const deadline = performance.now() + retry.windowMs;
    while (outcomes.some((o) => !o.correct) && performance.now() + retry.intervalMs <= deadline) {
      await new Promise((r) => setTimeout(r, retry.intervalMs));
      const bad = outcomes.map((o, i) => (o.correct ? -1 : i)).filter((i) => i >= 0);
      const again = await pool(bad, concurrency, (i) => this.probeAndJudge(reqs[i]!, outcomes[i]!.attempts + 1));
      bad.forEach((i, n) => {
        retried.add(i);
        outcomes[i] = again[n]!;
      });
      stats.reprobes += bad.length;
    }
    if (retry.secondTry && outcomes.some((o) => !o.correct)) {
      stats.secondTry = true;
      const prev = outcomes;
      outcomes = await pool(reqs, concurrency, (r) => this.probeAndJudge(r, 1));
      outcomes.forEach((o, i) => (o.attempts += prev[i]!.attempts));
      stats.reprobes += reqs.length;
    }
    stats.retriedProbes = retried.size;
    stats.ms = Math.round(performance.now() - t0);
    return { outcomes, stats };
  }
}
