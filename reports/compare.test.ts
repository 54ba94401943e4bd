import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { comparePassed, comparePerf, loadPerfResult, matchesMetric, parseOverride, parsePercent, renderCompareJunit, renderCompareTable } from './compare.js';
import { fixtureResult } from '../scenarios/performance/fixture.js';
import { report } from '../harness/cli/report.js';
import { testTempDir } from '../lib/testing/temp-dir.js';

describe('compare', () => {
  it('a run compared with itself passes', () => {
    const r = fixtureResult();
    const c = comparePerf(r, r, { threshold: 0.05 });
    expect(c.regressions).toEqual([]);
    expect(c.rows.every((x) => x.verdict === 'no-change' && x.changePct === 0)).toBe(true);
    expect(comparePassed(c)).toBe(true);
  });

  it('a slowed metric fails and is named', () => {
    const c = comparePerf(fixtureResult(), fixtureResult({ scale: { 'kernel-vxlan:tcp-4.other.throughput': 0.8 } }), { threshold: 0.05 });
    expect(c.regressions.map((r) => `${r.config}:${r.metric}`)).toEqual(['kernel-vxlan:tcp-4.other.throughput']);
    expect(c.regressions[0]!.changePct).toBeCloseTo(-20, 5);
    expect(renderCompareTable(c)).toMatch(/1 metric\(s\) regressed beyond the threshold: kernel-vxlan:tcp-4.other.throughput/);
  });

  it('uses each metric\'s direction', () => {
    const head = fixtureResult({ scale: { 'baseline:rr.other.p99': 1.3, 'baseline:rr.same.p99': 0.7, 'baseline:crr.same.rate': 1.5, 'baseline:tcp-1.same.cpuPerGB': 1.2 } });
    const c = comparePerf(fixtureResult(), head, { threshold: 0.05 });
    const v = (k: string) => c.rows.find((r) => `${r.config}:${r.metric}` === k)!.verdict;
    expect(v('baseline:rr.other.p99')).toBe('regressed'); // latency up: worse
    expect(v('baseline:rr.same.p99')).toBe('improved'); // latency down: better
    expect(v('baseline:crr.same.rate')).toBe('improved'); // rate up: better
    expect(v('baseline:tcp-1.same.cpuPerGB')).toBe('regressed'); // CPU per GB up: worse
  });

  it('ignores changes of count-like metrics under their noise floor', () => {
    // 10 → 30 retransmits is +200 % but 20 segments, under the 1000-segment floor: noise, not a regression.
    const c = comparePerf(fixtureResult(), fixtureResult({ scale: { 'baseline:tcp-1.same.retransmits': 3 } }), { threshold: 0.05 });
    expect(c.regressions).toEqual([]);
  });

  it('thresholds: per-metric overrides, family and wildcard patterns', () => {
    expect(parsePercent('--threshold', '5%')).toBe(0.05);
    expect(parsePercent('--threshold', '2.5')).toBe(0.025);
    expect(() => parsePercent('--threshold', 'five')).toThrow(/percentage/);
    expect(parseOverride('tcp.other.throughput=10%')).toEqual({ pattern: 'tcp.other.throughput', threshold: 0.1 });
    expect(matchesMetric('tcp.other.throughput', 'baseline', 'tcp-4.other.throughput')).toBe(true);
    expect(matchesMetric('tcp-1.*.throughput', 'baseline', 'tcp-1.same.throughput')).toBe(true);
    expect(matchesMetric('kernel-vxlan:rr.*.p99', 'baseline', 'rr.same.p99')).toBe(false);
    const head = fixtureResult({ scale: { 'baseline:tcp-1.other.throughput': 0.92 } });
    expect(comparePerf(fixtureResult(), head, { threshold: 0.05 }).regressions).toHaveLength(1);
    expect(comparePerf(fixtureResult(), head, { threshold: 0.05, overrides: [parseOverride('tcp.other.throughput=10%')] }).regressions).toHaveLength(0);
  });

  it('a metric missing from HEAD fails the gate; a new one does not', () => {
    const c = comparePerf(fixtureResult(), fixtureResult({ unavailable: { 'cnilab-native': 'down' } }), { threshold: 0.05 });
    expect(c.regressions).toEqual([]);
    expect(c.failures.length).toBeGreaterThan(0);
    expect(c.failures.every((r) => r.verdict === 'missing' && r.config === 'cnilab-native')).toBe(true);
    expect(comparePassed(c)).toBe(false);
    expect(renderCompareTable(c)).toMatch(/without evidence \(missing from HEAD/);
    const added = comparePerf(fixtureResult({ unavailable: { 'cnilab-native': 'down' } }), fixtureResult(), { threshold: 0.05 });
    expect(added.rows.filter((r) => r.verdict === 'new').length).toBeGreaterThan(0);
    expect(comparePassed(added)).toBe(true);
    const junit = renderCompareJunit(comparePerf(fixtureResult(), fixtureResult({ scale: { 'baseline:udp.same.loss': 5 } }), { threshold: 0.05 }));
    expect(junit).toMatch(/failures="1"/);
    expect(junit).toMatch(/<testcase classname="performance.baseline" name="baseline:udp.same.loss"><failure/);
  });

  it('failed samples fail the gate, on either side', () => {
    const head = fixtureResult();
    const s = head.samples.find((x) => x.config === 'cnilab-tunnel' && x.test === 'rr' && x.path === 'other')!;
    delete s.values;
    s.error = 'sockperf measured no round trip';
    const c = comparePerf(fixtureResult(), head, { threshold: 0.05 });
    expect(c.failures.map((r) => `${r.config}:${r.metric}`)).toEqual(expect.arrayContaining(['cnilab-tunnel:rr.other.p99']));
    expect(c.failures.every((r) => r.verdict === 'failed-samples')).toBe(true);
    expect(comparePassed(comparePerf(head, fixtureResult(), { threshold: 0.05 }))).toBe(false);
  });

  it('runs with other parameters or on another machine are not comparable', () => {
    const other = fixtureResult({ samples: 3 });
    other.parameters.durationSec = 5;
    other.environment.cpuModel = 'Other CPU';
    const c = comparePerf(fixtureResult(), other, { threshold: 0.05 });
    expect(c.mismatches).toEqual(['samples: base 5, head 3', 'duration (s): base 2, head 5', 'CPU model: base "Fixture CPU", head "Other CPU"']);
    expect(comparePassed(c)).toBe(false);
    expect(renderCompareTable(c)).toMatch(/NOT COMPARABLE/);
  });

  it('noise wider than the threshold is inconclusive, not a regression nor a pass by luck', () => {
    // ±2 % jitter on both sides: whether a 3 % slowdown exceeds a 3 % threshold cannot be told.
    const c = comparePerf(fixtureResult(), fixtureResult({ scale: { 'baseline:tcp-1.other.throughput': 0.97 } }), { threshold: 0.03 });
    const row = c.rows.find((r) => `${r.config}:${r.metric}` === 'baseline:tcp-1.other.throughput')!;
    expect(row.interval!.lo).toBeLessThan(row.interval!.hi);
    expect(row.verdict).toBe('inconclusive');
    expect(comparePassed(c)).toBe(true);
  });
});

describe('cnilab report compare', () => {
  const dir = testTempDir('pf-compare-');
  const write = (name: string, v: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v));
    return p;
  };
  const base = write('base.json', fixtureResult());
  const slow = write('slow.json', fixtureResult({ scale: { 'baseline:tcp-1.other.throughput': 0.5 } }));

  it('exits 0 on the same run, 1 naming the regressed metric, 2 on bad input', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await report(['compare', base, base, '--threshold', '5%'])).toBe(0);
      expect(await report(['compare', base, slow, '--threshold', '5%', '--junit', join(dir, 'j.xml')])).toBe(1);
      expect(out.mock.calls.map((c) => String(c[0])).join('')).toMatch(/regressed beyond the threshold: baseline:tcp-1.other.throughput/);
      expect(await report(['compare', base, join(dir, 'nope.json')])).toBe(2);
      expect(await report(['compare', base, write('conn.json', { schemaVersion: 1, configurations: [] })])).toBe(2);
      expect(await report(['compare', base, write('v2.json', { ...fixtureResult(), schemaVersion: 2 })])).toBe(2);
      expect(await report(['compare', base, write('bad.json', '{')])).toBe(2);
      expect(await report(['compare', base])).toBe(2);
      expect(await report(['compare', base, base, '--threshold', 'x'])).toBe(2);
      expect(err.mock.calls.map((c) => String(c[0])).join('')).toMatch(/not a cnilab performance result/);
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
    expect(() => loadPerfResult(join(dir, 'v2.json'))).toThrow(/schema version 2 is not supported/);
  });
});
