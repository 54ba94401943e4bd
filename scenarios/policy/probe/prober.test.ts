import { describe, expect, it } from 'vitest';
import type { ObservedFlow } from './flows.js';
import { judge, Prober, SourcePorts, type ProbeObservation, type ProbeRequest } from './prober.js';

const req = (allowed: boolean, drop?: ProbeRequest['expect']['drop']): ProbeRequest => ({
  from: { key: 'x/a', ip: '198.19.1.10', netns: 'ns-xa' },
  to: { key: 'y/b', ip: '198.19.2.11', answer: 'b' },
  protocol: 'TCP',
  port: 80,
  expect: { allowed, reason: 'oracle says so', ...(drop ? { drop } : {}) },
});
const drop = (over: Partial<ObservedFlow> = {}): ObservedFlow => ({ node: 'node2', verdict: 'DROPPED', dropReason: 'POLICY_DENIED', direction: 'INGRESS', reverse: false, time: '', ...over });
const obs = (over: Partial<ProbeObservation>): ProbeObservation => ({ connected: false, evidence: 'timeout', sourcePort: 20000, ms: 1, flows: [], ...over });
const WANT = { direction: 'INGRESS' as const, reason: 'POLICY_DENIED' as const, node: 'node2' };

describe('judge: a verdict is earned by evidence', () => {
  it('an allowed probe passes only when the responder answers with its own name', () => {
    expect(judge(req(true), obs({ connected: true, evidence: 'answer', answer: 'b' }), true)).toEqual({ correct: true });
    expect(judge(req(true), obs({ connected: true, evidence: 'wrong-answer', answer: 'c' }), true)).toEqual({ correct: false, why: 'answered "c" instead of "b"' });
    expect(judge(req(true), obs({ evidence: 'drop-flow', drop: drop() }), true).why).toBe('expected to connect, but it was dropped: POLICY_DENIED INGRESS on node2');
    expect(judge(req(true), obs({ evidence: 'timeout' }), false).correct).toBe(false);
  });

  it('a blocked probe passes on its drop flow with the right reason, direction and node', () => {
    expect(judge(req(false, WANT), obs({ evidence: 'drop-flow', drop: drop() }), true)).toEqual({ correct: true });
    expect(judge(req(false, WANT), obs({ evidence: 'drop-flow', drop: drop({ direction: 'EGRESS', node: 'node1' }) }), true).why).toBe('dropped with POLICY_DENIED EGRESS on node1; expected POLICY_DENIED INGRESS on node2');
    expect(judge(req(false, WANT), obs({ evidence: 'drop-flow', drop: drop({ dropReason: 'POLICY_DENY' }) }), true).correct).toBe(false);
    expect(judge(req(false, WANT), obs({ evidence: 'drop-flow', drop: drop({ reverse: true }) }), true).why).toMatch(/the reply was dropped/);
    expect(judge(req(false, WANT), obs({ connected: true, evidence: 'answer', answer: 'b' }), true).why).toBe('expected blocked, but it connected and "b" answered');
  });

  it('without a drop flow a block is unconfirmed where the CNI reports flows, and a timeout suffices where it reports none', () => {
    expect(judge(req(false, WANT), obs({ evidence: 'timeout' }), true)).toEqual({ correct: false, why: 'blocked (timeout) but the agents reported no drop flow for it: unconfirmed' });
    expect(judge(req(false, WANT), obs({ evidence: 'timeout' }), false)).toEqual({ correct: true });
    expect(judge(req(false, WANT), obs({ evidence: 'refused' }), false)).toEqual({ correct: true });
    expect(judge(req(false, WANT), obs({ evidence: 'refused' }), true).correct).toBe(false);
    expect(judge(req(false), obs({ connected: undefined, evidence: 'error', error: 'EMFILE' }), false)).toEqual({ correct: false, why: 'the probe could not run: EMFILE' });
  });
});

describe('Prober retries like the upstream e2e, and says so', () => {
  const answer = obs({ connected: true, evidence: 'answer', answer: 'b' });

  it('re-probes a mismatch until it matches, counting the retry', async () => {
    let calls = 0;
    const prober = new Prober({ attempt: async () => (++calls === 1 ? obs({ evidence: 'timeout' }) : answer), retry: { intervalMs: 1, windowMs: 100, secondTry: true } });
    const { outcomes, stats } = await prober.run([req(true)]);
    expect(outcomes[0]).toMatchObject({ correct: true, attempts: 2 });
    expect(stats).toMatchObject({ probes: 1, firstTryIncorrect: 1, retriedProbes: 1, reprobes: 1, secondTry: false });
  });

  it('gives up after the window, then probes everything once more (second try) and keeps that result', async () => {
    const seen: number[] = [];
    const prober = new Prober({
      attempt: async (r, port) => (seen.push(port), r.expect.allowed ? answer : answer),
      retry: { intervalMs: 5, windowMs: 22, secondTry: true },
    });
    const { outcomes, stats } = await prober.run([req(true), req(false, WANT)]);
    expect(outcomes.map((o) => o.correct)).toEqual([true, false]);
    expect(stats.secondTry).toBe(true);
    expect(stats.retriedProbes).toBe(1);
    expect(outcomes[1]!.attempts).toBeGreaterThanOrEqual(3);
    // Every attempt used a new source port.
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('does not retry what is correct, and retries a port the kernel still holds without counting it', async () => {
    let n = 0;
    const prober = new Prober({ attempt: async () => (++n === 1 ? obs({ connected: undefined, evidence: 'error', error: 'EADDRINUSE' }) : answer) });
    const { outcomes, stats } = await prober.run([req(true)]);
    expect(outcomes[0]).toMatchObject({ correct: true, attempts: 1 });
    expect(stats).toMatchObject({ firstTryIncorrect: 0, reprobes: 0, secondTry: false });
  });

  it('hands out distinct source ports per source within the ephemeral-free range', () => {
    const ports = new SourcePorts();
    const a = Array.from({ length: 1000 }, () => ports.take('x/a'));
    expect(new Set(a).size).toBe(1000);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(20000);
    expect(Math.max(...a)).toBeLessThan(60000);
  });
});
