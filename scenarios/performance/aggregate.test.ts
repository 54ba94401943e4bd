import { describe as suite, expect, it } from 'vitest';
import { aggregate, describe, evaluateTargets, findMetric, ratios } from './aggregate.js';
import { parseProcStat, cpuSecondsBetween, cpuSecondsPerGB } from './cpu.js';
import { parseCrrOutput } from './crr.js';
import { fixtureResult } from './fixture.js';
import type { PerfSample } from '../../reports/performance-model.js';

const s = (config: string, round: number, throughput: number | undefined, extra: Partial<PerfSample> = {}): PerfSample => ({
  config, round, warmup: round < 0, test: 'tcp-1', path: 'other', startedAt: '', startMs: 0, durationMs: 0,
  ...(throughput === undefined ? { error: 'boom' } : { values: { throughput } }), ...extra,
});

suite('statistics', () => {
  it('median, min–max and a t-based 95 % CI of the mean', () => {
    const d = describe([1, 2, 3, 4, 100])!;
    expect(d).toMatchObject({ n: 5, median: 3, min: 1, max: 100, mean: 22 });
    expect(d.ci95![0]).toBeLessThan(22);
    expect(d.ci95![1]).toBeGreaterThan(22);
    expect(describe([5])).toEqual({ n: 1, median: 5, min: 5, max: 5, mean: 5 });
    expect(describe([])).toBeUndefined();
    expect(describe([2, 4])!.median).toBe(3);
  });

  it('aggregates per configuration and metric, without warm-up or failed samples', () => {
    const m = aggregate([s('baseline', -1, 1), s('baseline', 0, 10), s('baseline', 1, 30), s('baseline', 2, 20), s('baseline', 3, undefined), s('kernel-vxlan', 0, 9)]);
    const b = findMetric(m, 'baseline', 'tcp-1.other.throughput')!;
    expect(b).toMatchObject({ n: 3, failed: 1, median: 20, min: 10, max: 30, direction: 'higher-is-better', unit: 'bit/s' });
    // retransmits/cpuPerGB had no values at all: no aggregate, never a made-up zero.
    expect(findMetric(m, 'baseline', 'tcp-1.other.retransmits')).toBeUndefined();
    expect(findMetric(m, 'kernel-vxlan', 'tcp-1.other.throughput')!.median).toBe(9);
  });

  it('ratios divide medians by the baseline', () => {
    const m = aggregate([s('baseline', 0, 10), s('baseline', 1, 10), s('cnilab-native', 0, 9), s('cnilab-native', 1, 9.4)]);
    const r = ratios(m);
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ config: 'cnilab-native', versus: 'baseline', metric: 'tcp-1.other.throughput' });
    expect(r[0]!.ratio).toBeCloseTo(0.92, 5);
  });
});

suite('targets', () => {
  it('met when our datapath is as fast as its kernel counterpart', () => {
    const r = fixtureResult();
    expect(r.targets.length).toBe(12);
    expect(r.targets.every((t) => t.status === 'met')).toBe(true);
  });

  it('missed for throughput below 0.95× and p99 above 1.10×, with the ratio recorded', () => {
    const r = fixtureResult({ scale: { 'cnilab-native:tcp-1.other.throughput': 0.9, 'cnilab-tunnel:rr.same.p99': 1.2 } });
    const missed = r.targets.filter((t) => t.status === 'missed');
    expect(missed.map((t) => t.id).sort()).toEqual(['cnilab-native/tcp-1.other.throughput', 'cnilab-tunnel/rr.same.p99']);
    expect(missed.find((t) => t.id.startsWith('cnilab-native'))!.ratio).toBeCloseTo(0.9, 5);
    expect(missed.find((t) => t.id.startsWith('cnilab-tunnel'))).toMatchObject({ versus: 'kernel-vxlan', comparator: '<=' });
  });

  it('unavailable, with the reason, when a configuration could not come up', () => {
    const r = fixtureResult({ unavailable: { 'cnilab-native': 'agent not built' } });
    const native = r.targets.filter((t) => t.config === 'cnilab-native');
    expect(native.every((t) => t.status === 'unavailable' && t.reason === 'cnilab-native unavailable: agent not built')).toBe(true);
    expect(r.metrics.some((m) => m.config === 'cnilab-native')).toBe(false);
    expect(evaluateTargets([], []).every((t) => t.status === 'unavailable')).toBe(true);
  });
});

suite('tool output', () => {
  it('reads CPU busy time from /proc/stat', () => {
    const a = parseProcStat('cpu  100 5 50 1000 7 3 2 0 0 0\ncpu0 1 2 3 4\n');
    expect(a.busy).toBe(160);
    expect(cpuSecondsBetween(a, { busy: 360 })).toBe(2);
    expect(cpuSecondsPerGB(2, 4e9)).toBe(0.5);
    expect(cpuSecondsPerGB(2, 0)).toBeUndefined();
  });

  it('parses the CRR client line and refuses a run with no transaction', () => {
    expect(parseCrrOutput('{"transactions":500,"errors":0,"seconds":2}\n').rate).toBe(250);
    expect(() => parseCrrOutput('{"transactions":0,"errors":1001,"seconds":1.5}')).toThrow(/no transaction/);
    expect(() => parseCrrOutput('garbage')).toThrow(/no result/);
  });
});
