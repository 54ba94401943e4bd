// `cnilab report compare BASE HEAD`: the CI gate for performance across two runs. Each metric's
// head/base ratio gets a bootstrap confidence interval over both runs' samples (reports/ab-stats.ts),
// judged with the metric's direction (throughput down is bad, latency up is bad) against a relative
// threshold: regressed only when the whole interval is beyond it, inconclusive when the noise is wider
// than the threshold. Small absolute changes of count-like metrics (0 → 3 retransmits is +∞ %) are
// below a floor and never fail. Missing evidence fails the gate: a metric missing from HEAD, failed
// samples, and runs whose parameters or machines differ (their numbers are not comparable). Two runs
// on a shared machine differ by up to 27 % on their own: `cnilab bench --compare-datapath` measures
// both sides in one run instead, and is the gate to trust.
import { readFileSync } from 'node:fs';
import { InvalidInputError } from '../harness/errors.js';
import { QUANTITIES, perfResultProblem, type Direction, type PerfResult, type Quantity } from './performance-model.js';
import { gateVerdict, ratioInterval, type RatioInterval } from './ab-stats.js';

export interface ThresholdOverride {
  /** `[config:]test.path.quantity`, segments may be `*`; `tcp` matches the family tcp-1, tcp-4. */
  pattern: string;
  /** Fraction, 0.1 for 10 %. */
  threshold: number;
}

export interface CompareOptions {
  threshold: number;
  overrides?: ThresholdOverride[];
}

/** regressed, missing and failed-samples fail the gate; inconclusive is reported, not failed. */
export type CompareVerdict = 'no-change' | 'regressed' | 'improved' | 'inconclusive' | 'missing' | 'new' | 'failed-samples';
export const FAILING_VERDICTS: ReadonlySet<CompareVerdict> = new Set(['regressed', 'missing', 'failed-samples']);

export interface CompareRow {
  config: string;
  metric: string;
  quantity: Quantity;
  direction: Direction;
  base?: number;
  head?: number;
  /** (head − base) / base × 100; undefined when base is 0 or one side is missing. */
  changePct?: number;
  threshold: number;
  /** head/base with its confidence interval, when both sides have ≥ 2 samples. */
  interval?: RatioInterval;
  verdict: CompareVerdict;
  /** Why, when the verdict needs saying (failed samples, too few samples for an interval). */
  note?: string;
}

export interface CompareResult {
  rows: CompareRow[];
  regressions: CompareRow[];
  /** Every row that fails the gate: regressed, missing from HEAD, or with failed samples. */
  failures: CompareRow[];
  /** Parameters or machine facts that differ between the runs: the comparison is void. */
  mismatches: string[];
  threshold: number;
}

/** "5%", "5" (percent) or "0.5%"; returns a fraction. */
export function parsePercent(field: string, s: string): number {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(s.trim());
  if (!m) throw new InvalidInputError(field, `expected a percentage like 5%, got "${s}"`);
  return Number(m[1]) / 100;
}

/** "tcp.other.throughput=10%" → override. */
export function parseOverride(s: string): ThresholdOverride {
  const i = s.lastIndexOf('=');
  if (i <= 0) throw new InvalidInputError('--threshold-metric', `expected METRIC=PERCENT, e.g. tcp-1.other.throughput=10%, got "${s}"`);
  return { pattern: s.slice(0, i), threshold: parsePercent('--threshold-metric', s.slice(i + 1)) };
}

export function matchesMetric(pattern: string, config: string, metric: string): boolean {
  let p = pattern;
  const colon = p.indexOf(':');
  if (colon >= 0) {
    const pc = p.slice(0, colon);
    if (pc !== '*' && pc !== config) return false;
    p = p.slice(colon + 1);
  }
  const ps = p.split('.');
  const ms = metric.split('.');
  if (ps.length !== ms.length) return false;
  return ps.every((seg, i) => seg === '*' || seg === ms[i] || ms[i]!.startsWith(`${seg}-`));
}

function thresholdFor(o: CompareOptions, config: string, metric: string): number {
  let t = o.threshold;
  // The last matching override wins, as later flags refine earlier ones.
  for (const ov of o.overrides ?? []) if (matchesMetric(ov.pattern, config, metric)) t = ov.threshold;
  return t;
}

/** What must be equal for two runs' numbers to be comparable: the measurement parameters and the
 *  machine. Each difference in words. */
export function parameterMismatches(base: PerfResult, head: PerfResult): string[] {
  const out: string[] = [];
  const same = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${what}: base ${JSON.stringify(a)}, head ${JSON.stringify(b)}`);
  };
  const bp = base.parameters;
  const hp = head.parameters;
  same('samples', bp?.samples, hp?.samples);
  same('duration (s)', bp?.durationSec, hp?.durationSec);
  same('latency duration (s)', bp?.latencyDurationSec, hp?.latencyDurationSec);
  same('UDP bitrate', bp?.udpBitrate, hp?.udpBitrate);
  same('quick', bp?.quick, hp?.quick);
  same('configurations', bp?.configs, hp?.configs);
  same('tests', bp?.tests, hp?.tests);
  same('warm-up', bp?.warmup, hp?.warmup);
  same('CPU model', base.environment?.cpuModel, head.environment?.cpuModel);
  same('CPU count', base.environment?.cpuCount, head.environment?.cpuCount);
  same('memory', base.environment?.memoryBytes, head.environment?.memoryBytes);
  same('kernel', base.environment?.kernel, head.environment?.kernel);
  return out;
}

/** Values of one metric, measured samples only (warm-up excluded). */
function sampleValues(r: PerfResult, config: string, metric: string): { values: number[]; failed: number } {
  const [test, path, quantity] = metric.split('.');
  const values: number[] = [];
  let failed = 0;
  for (const s of r.samples ?? []) {
    if (s.warmup || s.config !== config || s.test !== test || s.path !== path) continue;
    if (s.error) failed++;
    else {
      const v = s.values?.[quantity as Quantity];
      if (typeof v === 'number') values.push(v);
    }
  }
  return { values, failed };
}

export function comparePerf(base: PerfResult, head: PerfResult, o: CompareOptions): CompareResult {
  const key = (c: string, m: string) => `${c}:${m}`;
  const b = new Map(base.metrics.map((m) => [key(m.config, m.metric), m]));
  const h = new Map(head.metrics.map((m) => [key(m.config, m.metric), m]));
  const keys = [...new Set([...b.keys(), ...h.keys()])];
  const rows: CompareRow[] = keys.map((k) => {
    const bm = b.get(k);
    const hm = h.get(k);
    const any = (bm ?? hm)!;
    const info = QUANTITIES[any.quantity];
    const threshold = thresholdFor(o, any.config, any.metric);
    const row: CompareRow = { config: any.config, metric: any.metric, quantity: any.quantity, direction: info.direction, threshold, verdict: 'no-change' };
    if (bm) row.base = bm.median;
    if (hm) row.head = hm.median;
    if (!bm) return { ...row, verdict: 'new' };
    if (!hm) return { ...row, verdict: 'missing', note: 'the metric is in BASE and not in HEAD: no evidence it still performs' };
    const bs = sampleValues(base, any.config, any.metric);
    const hs = sampleValues(head, any.config, any.metric);
    const failed = Math.max(bm.failed ?? 0, bs.failed) + Math.max(hm.failed ?? 0, hs.failed);
    const diff = hm.median - bm.median;
    if (bm.median !== 0) row.changePct = (diff / Math.abs(bm.median)) * 100;
    if (failed > 0) return { ...row, verdict: 'failed-samples', note: `failed samples: base ${Math.max(bm.failed ?? 0, bs.failed)}, head ${Math.max(hm.failed ?? 0, hs.failed)}` };
    if (info.absFloor !== undefined && Math.abs(diff) < info.absFloor) return row;
    if (bs.values.length >= 2 && hs.values.length >= 2 && bm.median > 0 && hm.median > 0) {
      row.interval = ratioInterval(bs.values, hs.values, { paired: false });
      row.verdict = gateVerdict(row.interval, threshold, info.direction);
      return row;
    }
    // One sample a side: no interval. Judged on the medians, and said so.
    row.note = 'fewer than 2 samples a side: no confidence interval, medians compared';
    const rel = bm.median !== 0 ? diff / Math.abs(bm.median) : diff === 0 ? 0 : Math.sign(diff) * Infinity;
    const worse = info.direction === 'higher-is-better' ? -rel : rel;
    if (worse > threshold) row.verdict = 'regressed';
    else if (worse < -threshold) row.verdict = 'improved';
    return row;
  });
  return {
    rows,
    regressions: rows.filter((r) => r.verdict === 'regressed'),
    failures: rows.filter((r) => FAILING_VERDICTS.has(r.verdict)),
    mismatches: parameterMismatches(base, head),
    threshold: o.threshold,
  };
}

/** The gate: nothing failing and the runs comparable. */
export function comparePassed(c: CompareResult): boolean {
  return c.failures.length === 0 && c.mismatches.length === 0;
}

function fmt(q: Quantity, v: number | undefined): string {
  if (v === undefined) return '—';
  if (q === 'throughput') return `${(v / 1e9).toFixed(3)} Gbit/s`;
  if (Math.abs(v) >= 1000) return `${Math.round(v)} ${QUANTITIES[q].unit}`;
  return `${Number(v.toPrecision(4))} ${QUANTITIES[q].unit}`;
}

const pct = (x: number) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)}%`;

export function renderCompareTable(c: CompareResult): string {
  const header = ['metric', 'base', 'head', 'change', '95% interval', 'verdict'];
  const rows = c.rows.map((r) => [
    `${r.config}:${r.metric}`,
    fmt(r.quantity, r.base),
    fmt(r.quantity, r.head),
    r.changePct === undefined ? '—' : `${r.changePct >= 0 ? '+' : ''}${r.changePct.toFixed(1)}%`,
    r.interval ? `[${pct(r.interval.lo)}, ${pct(r.interval.hi)}]` : '—',
    r.verdict === 'regressed'
      ? `REGRESSED (> ${(r.threshold * 100).toFixed(1)}%, ${r.direction})`
      : r.verdict === 'missing' || r.verdict === 'failed-samples'
        ? `${r.verdict.toUpperCase()}${r.note ? ` (${r.note})` : ''}`
        : r.verdict,
  ]);
  const w = header.map((hh, i) => Math.max(hh.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((x, i) => x.padEnd(w[i]!)).join('  ').trimEnd();
  const out = [line(header), line(w.map((n) => '-'.repeat(n))), ...rows.map(line), ''];
  if (c.mismatches.length) out.push(`NOT COMPARABLE: the runs differ in ${c.mismatches.join('; ')}`);
  if (c.regressions.length) out.push(`${c.regressions.length} metric(s) regressed beyond the threshold: ${c.regressions.map((r) => `${r.config}:${r.metric}`).join(', ')}`);
  const other = c.failures.filter((r) => r.verdict !== 'regressed');
  if (other.length) out.push(`${other.length} metric(s) without evidence (missing from HEAD or with failed samples): ${other.map((r) => `${r.config}:${r.metric}`).join(', ')}`);
  const inconclusive = c.rows.filter((r) => r.verdict === 'inconclusive');
  if (inconclusive.length) out.push(`${inconclusive.length} metric(s) inconclusive: the noise is wider than the threshold (more samples, or \`cnilab bench --compare-datapath\`)`);
  if (comparePassed(c)) out.push(`no regression beyond ${(c.threshold * 100).toFixed(1)}% (per-metric overrides applied)`);
  return `${out.join('\n')}\n`;
}

export function renderCompareJunit(c: CompareResult): string {
  const x = (s: string) => s.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch]!);
  const cases = c.rows.map((r) => {
    const name = x(`${r.config}:${r.metric}`);
    const msg = `base ${fmt(r.quantity, r.base)}, head ${fmt(r.quantity, r.head)}, change ${r.changePct?.toFixed(1) ?? '—'}%, threshold ${(r.threshold * 100).toFixed(1)}% (${r.direction})`;
    const body = FAILING_VERDICTS.has(r.verdict) ? `<failure message="${x(`${r.verdict}: ${msg}${r.note ? `; ${r.note}` : ''}`)}"/>` : r.verdict === 'new' ? `<skipped message="${x(`${r.verdict}: ${msg}`)}"/>` : '';
    return `    <testcase classname="performance.${x(r.config)}" name="${name}">${body}</testcase>`;
  });
  if (c.mismatches.length) cases.push(`    <testcase classname="performance" name="comparable runs"><failure message="${x(c.mismatches.join('; '))}"/></testcase>`);
  const skipped = c.rows.filter((r) => r.verdict === 'new').length;
  const failures = c.failures.length + (c.mismatches.length ? 1 : 0);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  <testsuite name="cnilab performance compare" tests="${cases.length}" failures="${failures}" skipped="${skipped}">\n${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
}

/** Read and check a perf.json; every problem is bad input (exit 2) naming the file. */
export function loadPerfResult(path: string): PerfResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InvalidInputError(path, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InvalidInputError(path, `not JSON: ${(e as Error).message}`);
  }
  const problem = perfResultProblem(v);
  if (problem) throw new InvalidInputError(path, problem);
  return v as PerfResult;
}
