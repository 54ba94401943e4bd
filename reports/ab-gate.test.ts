// The A/B gate's evaluation on synthetic two-sided runs: an A/A run is "no change", a slower head is a
// regression with its interval, noise wider than the threshold is inconclusive, and failed samples
// fail the gate.
import { describe, expect, it } from 'vitest';
import { fixtureResult } from '../scenarios/performance/fixture.js';
import type { PerfResult, PerfSample } from './performance-model.js';
import { abPassed, evaluateAb, noiseFloor, renderAbMarkdown, renderAbTerminal, type AbReport } from './ab-gate.js';

/** A run with configurations base and head: tcp-1 and rr, `rounds` rounds, head = base × factor, with
 *  per-round noise shared by both sides (what interleaving buys) plus `own` noise each. */
function abRun(o: { rounds?: number; factor?: number; own?: number; fail?: boolean } = {}): PerfResult {
  const r = fixtureResult({ samples: 1 });
  const rounds = o.rounds ?? 8;
  const samples: PerfSample[] = [];
  let t = 0;
  for (let round = 0; round < rounds; round++) {
    const shared = 1 + 0.15 * Math.sin(round * 2.3); // the machine's load: large, common to both
    for (const [config, path] of [['base', 'same'], ['head', 'same'], ['base', 'other'], ['head', 'other']] as const) {
      const own = 1 + (o.own ?? 0.005) * Math.sin(round * 5.1 + (config === 'head' ? 1 : 0));
      const f = (config === 'head' ? (o.factor ?? 1) : 1) * shared * own;
      samples.push({ config, round, warmup: false, test: 'tcp-1', path, startedAt: '', startMs: t++, durationMs: 1, values: { throughput: 10e9 * f, retransmits: 10, cpuPerGB: 1.2 / f } });
      const rr: PerfSample = { config, round, warmup: false, test: 'rr', path, startedAt: '', startMs: t++, durationMs: 1, values: { p50: 20 / f, p90: 25 / f, p99: 60 / f, tps: 40000 * f } };
      if (o.fail && config === 'head' && path === 'other' && round === 3) {
        delete rr.values;
        rr.error = 'sockperf measured no round trip';
      }
      samples.push(rr);
    }
  }
  return { ...r, parameters: { ...r.parameters, samples: rounds, configs: ['base', 'head'], tests: ['tcp-1', 'rr'] }, samples };
}

const report = (perf: PerfResult, aa = false): AbReport => {
  const metrics = evaluateAb(perf, { threshold: 0.05 });
  return { kind: 'ab-gate', schemaVersion: 1, base: { label: 'a', objectPath: '/a.o' }, head: { label: 'b', objectPath: '/b.o' }, routing: 'tunnel', threshold: 0.05, aa, metrics, noiseFloor: noiseFloor(metrics), passed: abPassed(metrics), perf };
};

describe('A/B gate evaluation', () => {
  it('A/A: no change on every metric, even with 15 % load swings shared by both sides', () => {
    const m = evaluateAb(abRun(), { threshold: 0.05 });
    const judged = m.filter((x) => x.interval);
    expect(judged.length).toBeGreaterThan(4);
    expect(judged.map((x) => [x.metric, x.verdict])).toEqual(judged.map((x) => [x.metric, 'no-change']));
    expect(abPassed(m)).toBe(true);
    const r = report(abRun(), true);
    expect(r.noiseFloor).toBeLessThan(0.05);
    expect(renderAbTerminal(r)).toMatch(/gate passed.*A\/A/);
  });
  it('a head 20 % slower regresses throughput, latency and rate-like metrics, with intervals', () => {
    const m = evaluateAb(abRun({ factor: 0.8 }), { threshold: 0.05 });
    const v = (id: string) => m.find((x) => x.metric === id)!;
    expect(v('tcp-1.other.throughput').verdict).toBe('regressed');
    expect(v('tcp-1.other.throughput').interval!.hi).toBeLessThan(0.95);
    expect(v('rr.other.p99').verdict).toBe('regressed'); // latency up
    expect(v('rr.other.tps').verdict).toBe('regressed');
    expect(v('tcp-1.other.retransmits').verdict).toBe('no-change'); // under its absolute floor
    expect(abPassed(m)).toBe(false);
    expect(renderAbMarkdown(report(abRun({ factor: 0.8 })))).toMatch(/REGRESSED beyond 5% with 95% confidence: tcp-1.same.throughput, .*tcp-1.other.throughput/);
  });
  it('noise of the head alone wider than the threshold: inconclusive, and says how many samples it needs', () => {
    const m = evaluateAb(abRun({ factor: 0.96, own: 0.12, rounds: 6 }), { threshold: 0.05 });
    const t = m.find((x) => x.metric === 'tcp-1.other.throughput')!;
    expect(t.verdict).toBe('inconclusive');
    expect(t.samplesNeeded!['5%']).toBeGreaterThan(6);
  });
  it('a failed sample fails the gate for its metric', () => {
    const m = evaluateAb(abRun({ fail: true }), { threshold: 0.05 });
    expect(m.filter((x) => x.verdict === 'failed-samples').map((x) => x.metric)).toEqual(['rr.other.p50', 'rr.other.p90', 'rr.other.p99', 'rr.other.tps']);
    expect(abPassed(m)).toBe(false);
  });
  it('no samples at all is no pass', () => {
    const empty = { ...abRun(), samples: [] };
    const m = evaluateAb(empty, { threshold: 0.05 });
    expect(m.every((x) => x.verdict === 'missing')).toBe(true);
    expect(abPassed(m)).toBe(false);
  });
});
