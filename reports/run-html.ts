// One self-contained HTML page for a `cnilab run` result: per configuration the scenarios, the
// pod-to-pod truth tables (rows from, columns to; a cell turns red with the failing protocols), every
// failed check with its pasteable command, the measured timings of the faults, and the environment.
import { escapeXml as esc } from './svg-chart.js';
import { htmlTable } from './html.js';
import { runPassed, type CheckResult, type ConfigurationResult, type RunResult } from './model.js';
import { POLICY_CSS, policyHtml } from './policy-html.js';

const seconds = (ms?: number) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

export function matrixHtml(checks: CheckResult[], name: string): string {
  const cells = checks.filter((c) => c.tags?.matrix === name && c.from && c.to);
  if (!cells.length) return '';
  const order: string[] = [];
  for (const c of cells) for (const e of [c.from!, c.to!]) if (!order.includes(e)) order.push(e);
  const short = (e: string) => e.split('/').pop()!;
  const rows = order.map((from) => [
    `<b>${esc(short(from))}</b>`,
    ...order.map((to) => {
      if (from === to) return '<span class="na">·</span>';
      const pair = cells.filter((c) => c.from === from && c.to === to);
      if (!pair.length) return '';
      const bad = pair.filter((c) => !c.passed);
      const title = esc(pair.map((c) => `${c.protocol}: ${c.observed}`).join('\n'));
      return bad.length === 0 ? `<span class="ok" title="${title}">✓</span>` : `<span class="bad" title="${title}">✗ ${esc([...new Set(bad.map((c) => c.protocol ?? '?'))].join(','))}</span>`;
    }),
  ]);
  return `<h3>${esc(name)} <small>(rows: from, columns: to; ✓ every protocol as expected)</small></h3>${htmlTable(['from ↓ to →', ...order.map(short)], rows, 'matrix')}`;
}

function configurationHtml(cfg: ConfigurationResult): string {
  const all = cfg.suites.flatMap((s) => s.scenarios.flatMap((sc) => sc.checks));
  const scenarioRows = cfg.suites.flatMap((suite) =>
    suite.scenarios.map((sc) => {
      const n = (v: string) => String(sc.checks.filter((c) => c.verdict === v).length);
      const status = sc.status === 'passed' ? '<span class="ok">passed</span>' : sc.status === 'skipped' ? `<span class="na">skipped: ${esc(sc.reason ?? '')}</span>` : `<span class="bad">${esc(sc.status)}</span> ${esc((sc.reason ?? '').split('\n')[0]!)}`;
      return [esc(`${suite.name}/${sc.name}`), status, n('pass'), n('fail'), n('unavailable'), seconds(sc.durationMs)];
    }),
  );
  // Policy steps are shown as truth tables in their own section.
  const failed = all.filter((c) => !c.passed && !c.reachability);
  const timed = all.filter((c) => c.tags?.ms !== undefined);
  const matrices = [...new Set(all.map((c) => c.tags?.matrix).filter((m): m is string => !!m))];
  return `<h2>${esc(cfg.name)} ${cfg.summary.failed === 0 && cfg.summary.unavailable === 0 && !cfg.error ? '<span class="ok">passed</span>' : '<span class="bad">failed</span>'}</h2>
<p>${cfg.provider ? `provider <code>${esc(cfg.provider)}</code>, ` : ''}cni <code>${esc(cfg.cni)}</code>, routing <code>${esc(cfg.routing)}</code>, ${cfg.nodes} nodes${cfg.podMtu ? `, pod MTU ${cfg.podMtu}` : ''}; bring-up ${seconds(cfg.bringUpMs)} (cluster ${seconds(cfg.clusterUpMs)}, pods ${seconds(cfg.podsReadyMs)}), suites ${seconds(cfg.suiteMs)}</p>
${cfg.error ? `<div class="banner bad">${esc(cfg.error)}</div>` : ''}
${htmlTable(['scenario', 'status', 'passed', 'failed', 'unavailable', 'time'], scenarioRows)}
${matrices.map((m) => matrixHtml(all, m)).join('\n')}
${timed.length ? `<h3>Measured</h3>${htmlTable(['check', 'observed', 'verdict'], timed.map((c) => [esc(c.name), esc(c.observed), c.passed ? '<span class="ok">pass</span>' : '<span class="bad">fail</span>']))}` : ''}
${policyHtml(cfg)}
${failed.length ? `<h3>Failed checks</h3>${htmlTable(['check', 'expected', 'observed', 'command'], failed.map((c) => [esc(c.name), esc(c.expected), esc(c.observed), c.command ? `<code>${esc(c.command)}</code>` : '']))}` : ''}
<details><summary>all ${all.length} checks</summary>${htmlTable(['id', 'expected', 'observed', 'verdict', 'time'], all.map((c) => [esc(c.id), esc(c.expected), esc(c.observed), c.passed ? '<span class="ok">pass</span>' : `<span class="bad">${esc(c.verdict)}</span>`, `${c.durationMs} ms`]))}</details>`;
}

export function renderRunHtml(r: RunResult): string {
  const s = r.summary;
  const env = r.environment;
  const ok = runPassed(r);
  return `<!doctype html><html><head><meta charset="utf-8"><title>cnilab run ${esc(r.runId)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#111;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}h3{font-size:14px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6}.ok{color:#047857;font-weight:600}.bad{color:#b91c1c;font-weight:700}.na{color:#6b7280;font-style:italic}
table.matrix td{text-align:center;min-width:38px}.banner{padding:8px 12px;border-radius:4px;margin:10px 0}.banner.bad{background:#fee2e2}.banner.ok{background:#d1fae5}
code{font-size:12px}small{color:#555}
${POLICY_CSS}
</style></head><body>
<h1>cnilab run</h1>
<p>Machine: ${esc(`${env.cpuCount}× ${env.cpuModel}, ${(env.memoryBytes / 2 ** 30).toFixed(0)} GiB, kernel ${env.kernel}, node ${env.nodeVersion}, cnilab ${env.cnilabVersion}${env.gitCommit ? ` (${env.gitCommit.slice(0, 12)}${env.gitDirty ? '+dirty' : ''})` : ''}`)}. Started ${esc(r.startedAt)}.</p>
<div class="banner ${ok ? 'ok' : 'bad'}">${ok ? 'PASSED' : 'FAILED'}: ${s.passed}/${s.checks} checks passed, ${s.failed} failed, ${s.unavailable} unavailable; ${s.scenarios} scenarios in ${s.configurations} configuration(s)</div>
${r.configurations.map(configurationHtml).join('\n')}
</body></html>
`;
}
