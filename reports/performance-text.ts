// Terminal and Markdown renderings of a performance result: medians with their spread per
// configuration side by side, ratios against the in-run baseline, and the targets — a missed one is
// printed as "TARGET MISSED" so nobody reads past it. Everything is computed from perf.json alone.
import { noiseLines } from './noise.js';
import {
  PATHS,
  QUANTITIES,
  TEST_QUANTITIES,
  metricId,
  type MetricAggregate,
  type PerfResult,
  type Quantity,
  type TestKind,
} from './performance-model.js';

/** A value in the unit a reader expects: throughput in Gbit/s, latency in µs, rates as integers. */
export function formatValue(q: Quantity, v: number): string {
  switch (q) {
    case 'throughput':
      return `${(v / 1e9).toFixed(2)}`;
    case 'p50':
    case 'p90':
    case 'p99':
      return v.toFixed(1);
    case 'loss':
      return v.toFixed(2);
    case 'cpuPerGB':
      return v.toFixed(2);
    default:
      return Math.round(v).toString();
  }
}

export function displayUnit(q: Quantity): string {
  return q === 'throughput' ? 'Gbit/s' : QUANTITIES[q].unit;
}

const TEST_LABEL: Record<TestKind, string> = {
  'tcp-1': 'TCP 1 stream',
  'tcp-4': 'TCP 4 streams',
  udp: 'UDP',
  rr: 'TCP request/response',
  crr: 'TCP connect/request/close',
  http: 'HTTP load through a ClusterIP (wrk)',
};

export function metricLabel(test: TestKind, path: string, q: Quantity): string {
  return `${TEST_LABEL[test]}, ${path === 'same' ? 'same node' : 'across nodes'}: ${QUANTITIES[q].label} (${displayUnit(q)})`;
}

/** The metrics in report order, whether or not every configuration has them. */
export function metricRows(r: PerfResult): Array<{ test: TestKind; path: (typeof PATHS)[number]; quantity: Quantity; id: string }> {
  const rows = [];
  for (const test of r.parameters.tests) for (const path of PATHS) for (const quantity of TEST_QUANTITIES[test]) rows.push({ test, path, quantity, id: metricId(test, path, quantity) });
  return rows;
}

function cell(m: MetricAggregate | undefined, unavailable: boolean): string {
  if (unavailable) return 'unavailable';
  if (!m) return '—';
  const f = (v: number) => formatValue(m.quantity, v);
  return `${f(m.median)} (${f(m.min)}–${f(m.max)})${m.failed ? ` ${m.failed} failed` : ''}`;
}

function ratioText(r: PerfResult, config: string, metric: string): string {
  const x = r.ratios.find((y) => y.config === config && y.metric === metric);
  return x ? `${x.ratio.toFixed(2)}×` : '—';
}

function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(header), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

function mdTable(header: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${header.map(esc).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

export function machineLine(r: PerfResult): string {
  const e = r.environment;
  return `${e.cpuCount}× ${e.cpuModel}, ${(e.memoryBytes / 2 ** 30).toFixed(0)} GiB, kernel ${e.kernel}, ${e.hostname}, node ${e.nodeVersion}, cnilab ${e.cnilabVersion}${e.gitCommit ? ` (${e.gitCommit.slice(0, 12)})` : ''}`;
}

export function parametersLine(r: PerfResult): string {
  const p = r.parameters;
  return `${p.samples} samples per figure (median, min–max), ${p.durationSec} s per throughput sample, ${p.latencyDurationSec} s per latency/CRR sample, UDP offered ${p.udpBitrate}bit/s, warm-up discarded, configurations interleaved${p.quick ? ', QUICK preset' : ''}`;
}

function targetLines(r: PerfResult): string[] {
  return r.targets.map((t) => {
    const v = t.ratio !== undefined ? `${t.ratio.toFixed(3)}×` : '—';
    const verdict = t.status === 'met' ? 'met' : t.status === 'missed' ? 'TARGET MISSED' : `unavailable (${t.reason})`;
    return `${verdict.padEnd(13)}  ${t.description}: ${v}`;
  });
}

const NOTES = [
  'CRR (connection rate) uses cnilab-crr, a native C client and server (one connection per transaction, one in flight).',
  'Latency is sockperf\'s one-way figure (half the round trip). CPU s/GB counts all CPUs (user+system+softirq) during the sample, whatever ran on them.',
];

function rowsFor(r: PerfResult): { header: string[]; rows: string[][]; ratioHeader: string[]; ratioRows: string[][] } {
  const configs = r.configurations;
  const header = ['metric', ...configs.map((c) => c.name)];
  const rows = metricRows(r).map((row) => [
    metricLabel(row.test, row.path, row.quantity),
    ...configs.map((c) => cell(r.metrics.find((m) => m.config === c.name && m.metric === row.id), c.status === 'unavailable')),
  ]);
  const others = configs.filter((c) => c.name !== 'baseline');
  const ratioHeader = ['metric (ratio to baseline)', ...others.map((c) => c.name)];
  const ratioRows = metricRows(r)
    .filter((row) => ['throughput', 'p50', 'p99', 'tps', 'rate', 'cpuPerGB'].includes(row.quantity))
    .map((row) => [metricLabel(row.test, row.path, row.quantity), ...others.map((c) => (c.status === 'unavailable' ? 'unavailable' : ratioText(r, c.name, row.id)))]);
  return { header, rows, ratioHeader, ratioRows };
}

export function renderPerfTerminal(r: PerfResult): string {
  const { header, rows, ratioHeader, ratioRows } = rowsFor(r);
  const out = [`cnilab performance — ${r.startedAt}${r.interrupted ? '  (INTERRUPTED: partial)' : ''}`, `machine: ${machineLine(r)}`, parametersLine(r), ''];
  for (const c of r.configurations) out.push(`  ${c.name.padEnd(17)} ${c.status === 'ok' ? 'ok         ' : 'UNAVAILABLE'}  ${c.status === 'ok' ? `${c.description}${c.podMtu ? `, pod MTU ${c.podMtu}` : ''}` : c.reason}`);
  out.push('', table(header, rows), '', table(ratioHeader, ratioRows), '', 'targets:', ...targetLines(r).map((l) => `  ${l}`));
  const missed = r.targets.filter((t) => t.status === 'missed').length;
  if (missed) out.push('', `${missed} target(s) missed`);
  out.push('', ...noiseLines(r));
  out.push('', ...NOTES.map((n) => `note: ${n}`), '');
  return out.join('\n');
}

export function renderPerfMarkdown(r: PerfResult): string {
  const { header, rows, ratioHeader, ratioRows } = rowsFor(r);
  const out = [
    `# cnilab performance${r.interrupted ? ' (interrupted: partial)' : ''}`,
    '',
    `Machine: ${machineLine(r)}. Run ${r.startedAt}, ${(r.durationMs / 1000).toFixed(0)} s.`,
    '',
    `${parametersLine(r)}.`,
    '',
    '## Configurations',
    '',
    mdTable(['configuration', 'cni', 'routing', 'pod MTU', 'status', 'what'], r.configurations.map((c) => [c.name, c.cni, c.routing, c.podMtu ? String(c.podMtu) : '—', c.status === 'ok' ? 'ok' : `**unavailable**: ${c.reason}`, c.description])),
    '',
    '## Targets',
    '',
    mdTable(['verdict', 'target', 'ratio'], r.targets.map((t) => [t.status === 'met' ? 'met' : t.status === 'missed' ? '**target missed**' : `unavailable (${t.reason})`, t.description, t.ratio !== undefined ? `${t.ratio.toFixed(3)}×` : '—'])),
    '',
    '## Medians (min–max)',
    '',
    mdTable(header, rows),
    '',
    '## Ratios to baseline (medians)',
    '',
    mdTable(ratioHeader, ratioRows),
    '',
    '## Noise floor',
    '',
    ...noiseLines(r).map((l) => (l.startsWith('  ') ? `- ${l.trim()}` : l)),
    '',
    ...NOTES.map((n) => `- ${n}`),
    '',
  ];
  return out.join('\n');
}
