import { describe, expect, it } from 'vitest';
import type { ProbeOutcome, ProbeRequest } from '../probe/prober.js';
import { buildReachability } from './execute.js';

function outcome(from: string, to: string, allowed: boolean, connected: boolean | undefined, correct: boolean): ProbeOutcome {
  const request: ProbeRequest = { from: { key: from, ip: '1', netns: 'n' }, to: { key: to, ip: '2', answer: to }, protocol: 'TCP', port: 80, expect: { allowed, reason: `oracle ${from}->${to}` } };
  return { request, correct, attempts: correct ? 1 : 3, ...(correct ? {} : { why: 'because' }), observation: { connected, evidence: connected ? 'answer' : connected === false ? 'drop-flow' : 'error', sourcePort: 1, ms: 1, flows: [], ...(connected === false ? { drop: { node: 'n2', verdict: 'DROPPED', dropReason: 'POLICY_DENIED', direction: 'INGRESS', reverse: false, time: '' } } : {}) } };
}

describe('buildReachability', () => {
  it('lays probes out as expected / observed / comparison rows, marks unknown and unprobed cells, and explains mismatches', () => {
    const plan = { rows: ['a', 'b'], columns: ['a', 'b', 'c'], combos: [{ protocol: 'TCP' as const, port: 80 }] };
    const outs = [outcome('a', 'a', true, true, true), outcome('a', 'b', false, false, true), outcome('a', 'c', false, true, false), outcome('b', 'a', true, undefined, false), outcome('b', 'b', true, true, true)];
    const r = buildReachability(plan, outs, { firstTryIncorrect: 2, retriedProbes: 2, reprobes: 4, secondTry: true, ms: 50 }, true, []);
    expect(r.tables).toEqual([{ protocol: 'TCP', port: 80, expected: ['.XX', '..-'], observed: ['.X.', '?.-'], comparison: ['..X', '?.-'] }]);
    expect(r).toMatchObject({ correct: 3, incorrect: 2, flows: 'agents', evidence: { answer: 3, 'drop-flow': 1, error: 1 }, retries: { secondTry: true, retriedProbes: 2 } });
    expect(r.mismatches[0]).toEqual({ from: 'a', to: 'c', protocol: 'TCP', port: 80, expected: 'blocked', observed: 'connected', why: 'because', oracle: 'oracle a->c', attempts: 3 });
    expect(r.unsupported).toBeUndefined();
  });
});
