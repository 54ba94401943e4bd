// The A/B gate's result: base and head datapaths measured side by side in one run (two clusters,
// samples interleaved round by round), each metric's head/base ratio with its confidence interval and
// verdict, the noise floor (the interval's half-width: the smallest change this run could resolve) and
// how many samples a given difference needs at the noise measured. Rendered for the terminal and as
// Markdown; ab.json holds the whole of it, the raw samples included.
import { QUANTITIES, TEST_QUANTITIES, type Direction, type PerfResult, type Quantity } from './performance-model.js';
import { gateVerdict, halfWidth, ratioInterval, relativeNoise, samplesNeeded, type GateVerdict, type RatioInterval } from './ab-stats.js';

export const AB_SCHEMA_VERSION = 1 as const;
export const AB_SIDES = { base: 'base', head: 'head' } as const;
/** Differences the report says the sample count for. */
export const DIFFERENCES = [0.01, 0.02, 0.05, 0.1] as const;

export type AbVerdict = GateVerdict | 'failed-samples' | 'missing';

export interface AbMetric {
  metric: string;
  quantity: Quantity;
  direction: Direction;
  unit: string;
  /** Rounds with a value on both sides. */
  pairs: number;
  baseMedian?: number;
  headMedian?: number;
  interval?: RatioInterval;
  /** Half the interval's width relative to the ratio. */
  halfWidth?: number;
  /** Relative noise of one paired sample (sd of the log ratios). */
  noise?: number;
  /** Rounds needed to resolve each of DIFFERENCES at that noise (95 %, power 0.8). */
  samplesNeeded?: Record<string, number>;
  threshold: number;
  verdict: AbVerdict;
  note?: string;
}

export interface AbSide {
  label: string;
  commit?: string;
  objectPath: string;
}

export interface AbReport {
  kind: 'ab-gate';
  schemaVersion: typeof AB_SCHEMA_VERSION;
  base: AbSide;
  head: AbSide;
  routing: string;
  threshold: number;
  /** Same object on both sides: the gate's own test, whose widths are the noise floor. */
  aa: boolean;
  metrics: AbMetric[];
  /** Median half-width over the metrics, relative. */
  noiseFloor?: number;
  passed: boolean;
  perf: PerfResult;
}

const FAILING: ReadonlySet<AbVerdict> = new Set(['regressed', 'failed-samples', 'missing']);

/** Per-metric evaluation of a two-configuration run whose configurations are named base and head. */
export function evaluateAb(perf: PerfResult, o: { threshold: number; thresholdFor?: (metric: string) => number }): AbMetric[] {
  const out: AbMetric[] = [];
  const measured = perf.samples.filter((s) => !s.warmup);
  for (const test of perf.parameters.tests) {
    for (const path of ['same', 'other'] as const) {
      for (const quantity of TEST_QUANTITIES[test]) {
        const metric = `${test}.${path}.${quantity}`;
        const info = QUANTITIES[quantity];
        const threshold = o.thresholdFor?.(metric) ?? o.threshold;
        const row: AbMetric = { metric, quantity, direction: info.direction, unit: info.unit, pairs: 0, threshold, verdict: 'missing' };
        const of = (side: string) => measured.filter((s) => s.config === side && s.test === test && s.path === path);
        const b = of(AB_SIDES.base);
        const h = of(AB_SIDES.head);
        const failed = b.filter((s) => s.error).length + h.filter((s) => s.error).length;
        const pairs: Array<[number, number]> = [];
        for (const bs of b) {
          const hs = h.find((x) => x.round === bs.round);
          const bv = bs.values?.[quantity];
          const hv = hs?.values?.[quantity];
          if (typeof bv === 'number' && typeof hv === 'number') pairs.push([bv, hv]);
        }
        row.pairs = pairs.length;
        if (pairs.length) {
          const sorted = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)];
          row.baseMedian = sorted(pairs.map((p) => p[0]));
          row.headMedian = sorted(pairs.map((p) => p[1]));
        }
        if (failed) {
          out.push({ ...row, verdict: 'failed-samples', note: `${failed} failed sample(s): no verdict on partial evidence` });
          continue;
        }
        // Count-like metrics that are all zero (no retransmits, no loss) have no ratio; under the
        // quantity's absolute floor a difference is noise, not a change.
        const bv = pairs.map((p) => p[0]);
        const hv = pairs.map((p) => p[1]);
        if (info.absFloor !== undefined && row.baseMedian !== undefined && row.headMedian !== undefined && Math.abs(row.headMedian - row.baseMedian) < info.absFloor) {
          out.push({ ...row, verdict: 'no-change', note: `difference under the ${info.absFloor} ${info.unit} floor` });
          continue;
        }
        try {
          const interval = ratioInterval(bv, hv, { paired: true });
          const noise = relativeNoise(bv, hv, true);
          out.push({
            ...row,
            interval,
            halfWidth: halfWidth(interval),
            noise,
            samplesNeeded: Object.fromEntries(DIFFERENCES.map((d) => [`${d * 100}%`, samplesNeeded(noise, d, { paired: true })])),
            verdict: gateVerdict(interval, threshold, info.direction),
          });
        } catch (e) {
          out.push({ ...row, verdict: pairs.length ? 'inconclusive' : 'missing', note: (e as Error).message });
        }
      }
    }
  }
  return out;
}

export function abPassed(metrics: AbMetric[]): boolean {
  return metrics.length > 0 && !metrics.some((m) => FAILING.has(m.verdict));
}

export function noiseFloor(metrics: AbMetric[]): number | undefined {
  const w = metrics.map((m) => m.halfWidth).filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  return w.length ? w[Math.floor(w.length / 2)] : undefined;
}

function fmt(q: Quantity, v: number | undefined): string {
  if (v === undefined) return '—';
  if (q === 'throughput') return `${(v / 1e9).toFixed(2)} Gbit/s`;
  if (Math.abs(v) >= 1000) return `${Math.round(v)}`;
  return `${Number(v.toPrecision(3))}`;
}
const pct = (r: number) => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)}%`;

function rows(r: AbReport): string[][] {
  return r.metrics.map((m) => [
    m.metric,
    fmt(m.quantity, m.baseMedian),
    fmt(m.quantity, m.headMedian),
    m.interval ? pct(m.interval.ratio) : '—',
    m.interval ? `[${pct(m.interval.lo)}, ${pct(m.interval.hi)}]${m.interval.achieved < m.interval.confidence ? ` (${Math.round(m.interval.achieved * 100)}%)` : ''}` : '—',
    m.halfWidth !== undefined ? `±${(m.halfWidth * 100).toFixed(1)}%` : '—',
    m.samplesNeeded ? `${m.samplesNeeded['5%']}` : '—',
    m.verdict === 'regressed' ? `REGRESSED (> ${(m.threshold * 100).toFixed(0)}%)` : m.verdict === 'failed-samples' || m.verdict === 'missing' ? m.verdict.toUpperCase() : m.verdict,
  ]);
}

const HEADER = ['metric', 'base', 'head', 'change', '95% interval', 'noise', 'n for 5%', 'verdict'];

function summary(r: AbReport): string[] {
  const out: string[] = [];
  const by = (v: AbVerdict) => r.metrics.filter((m) => m.verdict === v).map((m) => m.metric);
  if (by('regressed').length) out.push(`REGRESSED beyond ${(r.threshold * 100).toFixed(0)}% with 95% confidence: ${by('regressed').join(', ')}`);
  if (by('failed-samples').length || by('missing').length) out.push(`no evidence (failed or missing samples): ${[...by('failed-samples'), ...by('missing')].join(', ')}`);
  if (by('inconclusive').length) out.push(`inconclusive (noise wider than the threshold; see "n for 5%"): ${by('inconclusive').join(', ')}`);
  if (by('improved').length) out.push(`improved: ${by('improved').join(', ')}`);
  if (r.noiseFloor !== undefined) out.push(`noise floor (median half-width of the intervals${r.aa ? ', A/A run' : ''}): ±${(r.noiseFloor * 100).toFixed(1)}%`);
  out.push(r.passed ? `gate passed: no metric regressed beyond ${(r.threshold * 100).toFixed(0)}%${r.aa ? ' (A/A: the same datapath on both sides)' : ''}` : 'gate FAILED');
  return out;
}

export function renderAbTerminal(r: AbReport): string {
  const all = [HEADER, ...rows(r)];
  const w = HEADER.map((_, i) => Math.max(...all.map((x) => x[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(w[i]!)).join('  ').trimEnd();
  const env = r.perf.environment;
  return [
    `A/B datapath gate (${r.routing}): base ${r.base.label}${r.base.commit ? ` (${r.base.commit.slice(0, 12)})` : ''} vs head ${r.head.label}${r.head.commit ? ` (${r.head.commit.slice(0, 12)})` : ''}`,
    `${r.perf.parameters.samples} interleaved rounds of ${r.perf.parameters.durationSec} s (latency ${r.perf.parameters.latencyDurationSec} s) on ${env.cpuModel} × ${env.cpuCount}, kernel ${env.kernel}`,
    '',
    line(HEADER),
    line(w.map((n) => '-'.repeat(n))),
    ...all.slice(1).map(line),
    '',
    ...summary(r),
    '',
  ].join('\n');
}

export function renderAbMarkdown(r: AbReport): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `# A/B datapath gate (${r.routing})`,
    '',
    `Base \`${r.base.label}\`${r.base.commit ? ` (${r.base.commit.slice(0, 12)})` : ''}, head \`${r.head.label}\`${r.head.commit ? ` (${r.head.commit.slice(0, 12)})` : ''}; ${r.perf.parameters.samples} interleaved rounds; threshold ${(r.threshold * 100).toFixed(0)}%; machine ${r.perf.environment.cpuModel} × ${r.perf.environment.cpuCount}, kernel ${r.perf.environment.kernel}.`,
    '',
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map(() => '---').join('|')}|`,
    ...rows(r).map((x) => `| ${x.map(esc).join(' | ')} |`),
    '',
    ...summary(r).map((s) => `- ${s}`),
    '',
  ].join('\n');
}
