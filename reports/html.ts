// The performance report as ONE self-contained HTML file: inline CSS and inline SVG charts, no script,
// no external URL, so it can be attached to a CI run or mailed and still render. All configurations
// appear in every chart; an unavailable one is drawn as "n/a" and its reason is listed.
import {
  PATHS,
  type MetricAggregate,
  type PathKind,
  type PerfResult,
  type Quantity,
  type TestKind,
} from './performance-model.js';
import { formatValue, machineLine, metricLabel, metricRows, parametersLine } from './performance-text.js';
import { escapeXml as esc, renderBarChart, SERIES_COLORS, type BarValue } from './svg-chart.js';

const PATH_LABEL: Record<PathKind, string> = { same: 'same node', other: 'across nodes' };

function value(r: PerfResult, config: string, test: TestKind, path: PathKind, q: Quantity, scale = 1): BarValue | undefined {
  const m: MetricAggregate | undefined = r.metrics.find((x) => x.config === config && x.metric === `${test}.${path}.${q}`);
  return m ? { median: m.median / scale, min: m.min / scale, max: m.max / scale } : undefined;
}

function chart(r: PerfResult, title: string, unit: string, cats: Array<{ label: string; test: TestKind; path: PathKind; q: Quantity }>, scale = 1, digits = 1): string {
  return renderBarChart({
    title,
    unit,
    categories: cats.map((c) => c.label),
    series: r.configurations.map((c, i) => ({
      name: c.name,
      color: SERIES_COLORS[i % SERIES_COLORS.length]!,
      values: cats.map((k) => (c.status === 'ok' ? value(r, c.name, k.test, k.path, k.q, scale) : undefined)),
    })),
    format: (v) => (Math.abs(v) >= 100 ? Math.round(v).toString() : v.toFixed(digits)),
  });
}

/** The charts of the report, each an <svg>; exported so tests can count them. */
export function perfCharts(r: PerfResult): Array<{ id: string; svg: string }> {
  const has = (t: TestKind) => r.parameters.tests.includes(t);
  const out: Array<{ id: string; svg: string }> = [];
  const tcp = (['tcp-1', 'tcp-4'] as const).filter(has).flatMap((test) => PATHS.map((path) => ({ label: `${test === 'tcp-1' ? '1 stream' : '4 streams'}, ${PATH_LABEL[path]}`, test, path, q: 'throughput' as const })));
  if (tcp.length) out.push({ id: 'tcp-throughput', svg: chart(r, 'TCP throughput (receiver)', 'Gbit/s', tcp, 1e9, 2) });
  if (has('udp')) {
    out.push({ id: 'udp-throughput', svg: chart(r, `UDP delivered at ${r.parameters.udpBitrate}bit/s offered`, 'Gbit/s', PATHS.map((path) => ({ label: PATH_LABEL[path], test: 'udp', path, q: 'throughput' })), 1e9, 2) });
    out.push({ id: 'udp-loss', svg: chart(r, 'UDP loss', '%', PATHS.map((path) => ({ label: PATH_LABEL[path], test: 'udp', path, q: 'loss' })), 1, 2) });
  }
  if (has('rr')) {
    for (const path of PATHS) {
      out.push({ id: `latency-${path}`, svg: chart(r, `Request/response latency, ${PATH_LABEL[path]}`, 'µs, one-way', (['p50', 'p90', 'p99'] as const).map((q) => ({ label: q, test: 'rr', path, q })), 1, 1) });
    }
    out.push({ id: 'rr-tps', svg: chart(r, 'Request/response transactions', 'per second', PATHS.map((path) => ({ label: PATH_LABEL[path], test: 'rr', path, q: 'tps' }))) });
  }
  const cpu = (['tcp-1', 'tcp-4', 'udp'] as const).filter(has).flatMap((test) => PATHS.map((path) => ({ label: `${test}, ${path}`, test, path, q: 'cpuPerGB' as const })));
  if (cpu.length) out.push({ id: 'cpu-per-gb', svg: chart(r, 'CPU cost', 'CPU seconds per GB', cpu, 1, 2) });
  if (has('crr')) out.push({ id: 'crr-rate', svg: chart(r, 'Connection rate (TCP_CRR, relative figure)', 'connections/s', PATHS.map((path) => ({ label: PATH_LABEL[path], test: 'crr', path, q: 'rate' }))) });
  if (has('http')) {
    out.push({ id: 'http-rps', svg: chart(r, 'HTTP load through a ClusterIP (wrk)', 'requests/s', PATHS.map((path) => ({ label: PATH_LABEL[path], test: 'http', path, q: 'rps' }))) });
    out.push({ id: 'http-latency', svg: chart(r, 'HTTP latency through a ClusterIP (wrk)', 'µs', PATHS.flatMap((path) => (['p50', 'p90', 'p99'] as const).map((q) => ({ label: `${q}, ${PATH_LABEL[path]}`, test: 'http' as const, path, q }))), 1, 0) });
  }
  return out;
}

/** A table of already-escaped cells (header cells are escaped here). */
export function htmlTable(header: string[], rows: string[][], cls = ''): string {
  return `<table class="${cls}"><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

export function renderPerformanceHtml(r: PerfResult): string {
  const configs = r.configurations;
  const others = configs.filter((c) => c.name !== 'baseline');
  const missed = r.targets.filter((t) => t.status === 'missed');
  const targetRows = r.targets.map((t) => [
    t.status === 'met' ? '<span class="ok">met</span>' : t.status === 'missed' ? '<span class="bad">TARGET MISSED</span>' : `<span class="na">unavailable</span> ${esc(t.reason ?? '')}`,
    esc(t.description),
    t.ratio !== undefined ? `${t.ratio.toFixed(3)}×` : '—',
  ]);
  const ratioRows = metricRows(r)
    .filter((m) => ['throughput', 'p50', 'p99', 'tps', 'rate', 'cpuPerGB'].includes(m.quantity))
    .map((m) => [
      esc(metricLabel(m.test, m.path, m.quantity)),
      ...others.map((c) => {
        if (c.status === 'unavailable') return '<span class="na">unavailable</span>';
        const x = r.ratios.find((y) => y.config === c.name && y.metric === m.id);
        return x ? `${x.ratio.toFixed(2)}×` : '—';
      }),
    ]);
  const valueRows = metricRows(r).map((m) => [
    esc(metricLabel(m.test, m.path, m.quantity)),
    ...configs.map((c) => {
      if (c.status === 'unavailable') return '<span class="na">unavailable</span>';
      const a = r.metrics.find((x) => x.config === c.name && x.metric === m.id);
      if (!a) return '—';
      const f = (v: number) => formatValue(a.quantity, v);
      return `<b>${f(a.median)}</b> <small>${f(a.min)}–${f(a.max)}${a.ci95 ? `, CI ${f(a.ci95[0])}–${f(a.ci95[1])}` : ''}${a.failed ? `, ${a.failed} failed` : ''}</small>`;
    }),
  ]);
  const e = r.environment;
  const envRows = [
    ['kernel', e.kernel],
    ['CPU', `${e.cpuCount}× ${e.cpuModel}`],
    ['memory', `${(e.memoryBytes / 2 ** 30).toFixed(1)} GiB`],
    ['host', e.hostname],
    ['node', e.nodeVersion],
    ['cnilab', `${e.cnilabVersion}${e.gitCommit ? ` @ ${e.gitCommit}` : ''}`],
    ...Object.entries(e.tools).map(([k, v]) => [k, v]),
    ['date', e.date],
    ['run', `${r.runId}, ${(r.durationMs / 1000).toFixed(0)} s${r.interrupted ? ' (INTERRUPTED: partial)' : ''}`],
  ].map(([k, v]) => [esc(k!), esc(v!)]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cnilab performance ${esc(r.startedAt)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#111;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6}.ok{color:#047857;font-weight:600}.bad{color:#b91c1c;font-weight:700}.na{color:#6b7280;font-style:italic}
.charts{display:flex;flex-wrap:wrap;gap:18px}.chart{border:1px solid #eee;padding:6px}small{color:#555}
.banner{padding:8px 12px;border-radius:4px;margin:10px 0}.banner.bad{background:#fee2e2}.banner.ok{background:#d1fae5}
</style></head><body>
<h1>cnilab performance: VXLAN overlay vs native routing</h1>
<p>Machine: ${esc(machineLine(r))}</p>
<p>${esc(parametersLine(r))}.</p>
${missed.length ? `<div class="banner bad">${missed.length} target(s) missed: ${missed.map((t) => esc(t.id)).join(', ')}</div>` : r.targets.some((t) => t.status === 'met') ? '<div class="banner ok">every measurable target met</div>' : ''}
<h2>Configurations</h2>
${htmlTable(['configuration', 'cni', 'routing', 'status', 'what'], configs.map((c) => [esc(c.name), esc(c.cni), esc(c.routing), c.status === 'ok' ? '<span class="ok">ok</span>' : `<span class="na">unavailable: ${esc(c.reason ?? '')}</span>`, esc(c.description)]))}
<h2>Charts</h2>
<p><small>Bars are medians; whiskers span min–max over the samples.</small></p>
<div class="charts">${perfCharts(r).map((c) => `<div class="chart" id="${c.id}">${c.svg}</div>`).join('\n')}</div>
<h2>Targets</h2>
${htmlTable(['verdict', 'target', 'ratio'], targetRows)}
<h2>Ratios to baseline (medians)</h2>
${htmlTable(['metric', ...others.map((c) => c.name)], ratioRows)}
<h2>All figures: median, min–max, 95 % CI of the mean</h2>
${htmlTable(['metric', ...configs.map((c) => c.name)], valueRows)}
<p><small>CRR uses a small Node.js client and server: Node's per-connection cost dominates, so the connection rate is a relative figure between configurations of this run. Latency is sockperf's one-way figure (half the round trip). CPU seconds per GB count all CPUs (user+system+softirq) during the sample.</small></p>
<h2>Environment</h2>
${htmlTable(['', ''], envRows)}
</body></html>
`;
}
