// From raw samples to what a reader trusts: per-metric median and spread (min–max, 95 % CI of the
// mean), ratios against the in-run baseline, and the targets with met/missed. Pure functions: unit
// tested without a cluster. Warm-up and failed samples never enter an aggregate.
import { median } from '../../bench/stats.js';
import {
  metricId,
  QUANTITIES,
  TEST_QUANTITIES,
  type MetricAggregate,
  type PathKind,
  type PerfConfiguration,
  type PerfRatio,
  type PerfSample,
  type PerfTarget,
  type Quantity,
  type TestKind,
} from '../../reports/performance-model.js';

/** Two-sided 95 % Student t quantiles for 1..30 degrees of freedom; 1.96 beyond. */
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export interface Stats {
  n: number;
  median: number;
  min: number;
  max: number;
  mean: number;
  ci95?: [number, number];
}

export function describe(xs: number[]): Stats | undefined {
  if (!xs.length) return undefined;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const s: Stats = { n: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs), mean };
  if (xs.length >= 2) {
    const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
    const half = (T95[xs.length - 2] ?? 1.96) * (sd / Math.sqrt(xs.length));
    s.ci95 = [mean - half, mean + half];
  }
  return s;
}

/** One aggregate per (configuration, test, path, quantity) that has at least one measured value. */
export function aggregate(samples: PerfSample[]): MetricAggregate[] {
  const groups = new Map<string, { config: string; test: TestKind; path: PathKind; quantity: Quantity; values: number[]; failed: number }>();
  const group = (s: PerfSample, q: Quantity) => {
    const key = `${s.config}:${metricId(s.test, s.path, q)}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { config: s.config, test: s.test, path: s.path, quantity: q, values: [], failed: 0 }));
    return g;
  };
  for (const s of samples) {
    if (s.warmup) continue;
    for (const q of TEST_QUANTITIES[s.test]) {
      const g = group(s, q);
      const v = s.values?.[q];
      if (s.error || v === undefined || !Number.isFinite(v)) g.failed++;
      else g.values.push(v);
    }
  }
  const out: MetricAggregate[] = [];
  for (const g of groups.values()) {
    const st = describe(g.values);
    if (!st) continue;
    const info = QUANTITIES[g.quantity];
    out.push({
      config: g.config,
      metric: metricId(g.test, g.path, g.quantity),
      test: g.test,
      path: g.path,
      quantity: g.quantity,
      unit: info.unit,
      direction: info.direction,
      failed: g.failed,
      ...st,
    });
  }
  return out;
}

export function findMetric(metrics: MetricAggregate[], config: string, metric: string): MetricAggregate | undefined {
  return metrics.find((m) => m.config === config && m.metric === metric);
}

/** median(config) / median(versus) for every metric both have; a zero denominator gives no ratio. */
export function ratios(metrics: MetricAggregate[], versus = 'baseline'): PerfRatio[] {
  const out: PerfRatio[] = [];
  for (const m of metrics) {
    if (m.config === versus) continue;
    const b = findMetric(metrics, versus, m.metric);
    if (!b || b.median === 0) continue;
    out.push({ config: m.config, metric: m.metric, versus, ratio: m.median / b.median });
  }
  return out;
}

/** The targets: our datapath against the kernel doing the same job without BPF. Throughput at least
 *  95 % of it, p99 latency at most 110 % of it, for both paths and both stream counts. */
export const TARGET_PAIRS: Array<{ config: string; versus: string }> = [
  { config: 'cnilab-native', versus: 'baseline' },
  { config: 'cnilab-tunnel', versus: 'kernel-vxlan' },
];
export const THROUGHPUT_TARGET = 0.95;
export const P99_TARGET = 1.1;

export function targetDefinitions(): Array<Omit<PerfTarget, 'status' | 'ratio' | 'reason'>> {
  const defs: Array<Omit<PerfTarget, 'status' | 'ratio' | 'reason'>> = [];
  for (const { config, versus } of TARGET_PAIRS) {
    for (const path of ['other', 'same'] as const) {
      const where = path === 'other' ? 'across nodes' : 'same node';
      for (const test of ['tcp-1', 'tcp-4'] as const) {
        defs.push({
          id: `${config}/${test}.${path}.throughput`,
          description: `${config} TCP throughput (${test === 'tcp-1' ? '1 stream' : '4 streams'}, ${where}) ≥ ${THROUGHPUT_TARGET} × ${versus}`,
          config,
          versus,
          metric: metricId(test, path, 'throughput'),
          comparator: '>=',
          threshold: THROUGHPUT_TARGET,
        });
      }
      defs.push({
        id: `${config}/rr.${path}.p99`,
        description: `${config} request/response p99 latency (${where}) ≤ ${P99_TARGET} × ${versus}`,
        config,
        versus,
        metric: metricId('rr', path, 'p99'),
        comparator: '<=',
        threshold: P99_TARGET,
      });
    }
  }
  return defs;
}

export function evaluateTargets(metrics: MetricAggregate[], configurations: Pick<PerfConfiguration, 'name' | 'status' | 'reason'>[]): PerfTarget[] {
  const why = (name: string) => {
    const c = configurations.find((x) => x.name === name);
    if (!c) return `${name} was not part of this run`;
    if (c.status === 'unavailable') return `${name} unavailable: ${c.reason ?? 'unknown reason'}`;
    return `${name} has no measured value`;
  };
  return targetDefinitions().map((d) => {
    const a = findMetric(metrics, d.config, d.metric);
    const b = findMetric(metrics, d.versus, d.metric);
    if (!a || !b || b.median === 0) return { ...d, status: 'unavailable' as const, reason: !a ? why(d.config) : why(d.versus) };
    const ratio = a.median / b.median;
    const met = d.comparator === '>=' ? ratio >= d.threshold : ratio <= d.threshold;
    return { ...d, ratio, status: met ? ('met' as const) : ('missed' as const) };
  });
}
