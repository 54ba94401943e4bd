// `cnilab report compare BASE HEAD`: the CI gate for performance. Medians of the same metric and
// configuration are compared with the metric's direction (throughput down is bad, latency up is bad)
// and a relative threshold; a change beyond it in the bad direction is a regression. Small absolute
// changes of count-like metrics (0 → 3 retransmits is +∞ %) are below a noise floor and never fail.
import { readFileSync } from 'node:fs';
import { InvalidInputError } from '../harness/errors.js';
import { QUANTITIES, perfResultProblem, type Direction, type PerfResult, type Quantity } from './performance-model.js';

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

export type CompareVerdict = 'ok' | 'regressed' | 'improved' | 'missing' | 'new';

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
  verdict: CompareVerdict;
}

export interface CompareResult {
  rows: CompareRow[];
  regressions: CompareRow[];
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
    const row: CompareRow = { config: any.config, metric: any.metric, quantity: any.quantity, direction: info.direction, threshold, verdict: 'ok' };
    if (bm) row.base = bm.median;
    if (hm) row.head = hm.median;
    if (!bm) return { ...row, verdict: 'new' };
    if (!hm) return { ...row, verdict: 'missing' };
    const diff = hm.median - bm.median;
    if (bm.median !== 0) row.changePct = (diff / Math.abs(bm.median)) * 100;
    if (info.absFloor !== undefined && Math.abs(diff) < info.absFloor) return row;
    const rel = bm.median !== 0 ? diff / Math.abs(bm.median) : diff === 0 ? 0 : Math.sign(diff) * Infinity;
    const worse = info.direction === 'higher-is-better' ? -rel : rel;
    if (worse > threshold) row.verdict = 'regressed';
    else if (worse < -threshold) row.verdict = 'improved';
    return row;
  });
  return { rows, regressions: rows.filter((r) => r.verdict === 'regressed'), threshold: o.threshold };
}

function fmt(q: Quantity, v: number | undefined): string {
  if (v === undefined) return '—';
  if (q === 'throughput') return `${(v / 1e9).toFixed(3)} Gbit/s`;
  if (Math.abs(v) >= 1000) return `${Math.round(v)} ${QUANTITIES[q].unit}`;
  return `${Number(v.toPrecision(4))} ${QUANTITIES[q].unit}`;
}

export function renderCompareTable(c: CompareResult): string {
  const header = ['metric', 'base', 'head', 'change', 'verdict'];
  const rows = c.rows.map((r) => [
    `${r.config}:${r.metric}`,
    fmt(r.quantity, r.base),
    fmt(r.quantity, r.head),
    r.changePct === undefined ? '—' : `${r.changePct >= 0 ? '+' : ''}${r.changePct.toFixed(1)}%`,
    r.verdict === 'regressed' ? `REGRESSED (> ${(r.threshold * 100).toFixed(1)}%, ${r.direction})` : r.verdict,
  ]);
  const w = header.map((hh, i) => Math.max(hh.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((x, i) => x.padEnd(w[i]!)).join('  ').trimEnd();
  const out = [line(header), line(w.map((n) => '-'.repeat(n))), ...rows.map(line), ''];
  if (c.regressions.length) out.push(`${c.regressions.length} metric(s) regressed beyond the threshold: ${c.regressions.map((r) => `${r.config}:${r.metric}`).join(', ')}`);
  else out.push(`no regression beyond ${(c.threshold * 100).toFixed(1)}% (per-metric overrides applied)`);
  return `${out.join('\n')}\n`;
}

export function renderCompareJunit(c: CompareResult): string {
  const x = (s: string) => s.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch]!);
  const cases = c.rows.map((r) => {
    const name = x(`${r.config}:${r.metric}`);
    const msg = `base ${fmt(r.quantity, r.base)}, head ${fmt(r.quantity, r.head)}, change ${r.changePct?.toFixed(1) ?? '—'}%, threshold ${(r.threshold * 100).toFixed(1)}% (${r.direction})`;
    const body = r.verdict === 'regressed' ? `<failure message="${x(msg)}"/>` : r.verdict === 'missing' || r.verdict === 'new' ? `<skipped message="${x(`${r.verdict}: ${msg}`)}"/>` : '';
    return `    <testcase classname="performance.${x(r.config)}" name="${name}">${body}</testcase>`;
  });
  const skipped = c.rows.filter((r) => r.verdict === 'missing' || r.verdict === 'new').length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  <testsuite name="cnilab performance compare" tests="${c.rows.length}" failures="${c.regressions.length}" skipped="${skipped}">\n${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
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
