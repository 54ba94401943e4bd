// The policy suite in the HTML report: case sets with their run time, the pass rate per tag, every
// step in a table, and for each failed step the expected / observed / comparison truth tables side by
// side (green '.', grey 'X', red for a mismatch, amber '?'), with every mismatch explained below them.
import { escapeXml as esc } from './svg-chart.js';
import { htmlTable } from './html.js';
import type { ConfigurationResult, Reachability, ReachabilityTable } from './model.js';
import { evidenceLine, percent, policyChecks, setTimings, summaryLine, tagPassRates } from './reachability.js';

export const POLICY_CSS = `table.truth td{text-align:center;min-width:22px;padding:1px 4px;font-family:monospace}
table.truth td.al{color:#047857}table.truth td.bl{color:#6b7280}table.truth td.mm{background:#fee2e2;color:#b91c1c;font-weight:700}
table.truth td.uk{background:#fef3c7;color:#92400e}.truths{display:flex;gap:18px;flex-wrap:wrap}.truths h5{margin:4px 0}`;

function cellClass(ch: string, comparison: boolean): string {
  if (ch === '?') return 'uk';
  if (comparison) return ch === 'X' ? 'mm' : 'al';
  return ch === '.' ? 'al' : ch === 'X' ? 'bl' : '';
}

function grid(r: Reachability, rows: string[], title: string, comparison = false): string {
  const body = r.rows.map((from, i) => `<tr><th>${esc(from)}</th>${rows[i]!.split('').map((ch) => `<td class="${cellClass(ch, comparison)}">${esc(ch)}</td>`).join('')}</tr>`).join('');
  return `<div><h5>${esc(title)}</h5><table class="truth"><thead><tr><th>-</th>${r.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${body}</tbody></table></div>`;
}

export function truthTablesHtml(r: Reachability, t: ReachabilityTable): string {
  const name = `${t.protocol}/${t.port}`;
  return `<div class="truths">${grid(r, t.expected, `${name} expected`)}${grid(r, t.observed, `${name} observed`)}${grid(r, t.comparison, `${name} comparison`, true)}</div>`;
}

export function policyHtml(cfg: ConfigurationResult): string {
  const scenarios = cfg.suites.filter((s) => s.name === 'policy').flatMap((s) => s.scenarios);
  const checks = policyChecks(scenarios);
  if (!checks.length) return '';
  const sets = htmlTable(['case set', 'cases', 'steps', 'probes', 'time'], setTimings(scenarios).map((t) => [esc(t.source), String(t.cases), String(t.steps), String(t.probes), `${(t.ms / 1000).toFixed(1)} s`]));
  const tags = htmlTable(['tag', 'cases', 'passed', 'failed', 'pass rate'], tagPassRates(checks).map((r) => [esc(r.tag), String(r.cases), String(r.passed), r.failed ? `<span class="bad">${r.failed}</span>` : '0', percent(r)]));
  const steps = htmlTable(
    ['step', 'set', 'correct', 'evidence'],
    checks.map((c) => [`${c.passed ? '<span class="ok">✓</span>' : '<span class="bad">✗</span>'} ${esc(c.name)}`, esc(c.tags?.source ?? ''), `${c.reachability!.correct}/${c.reachability!.correct + c.reachability!.incorrect}`, esc(evidenceLine(c.reachability!))]),
  );
  const failures = checks
    .filter((c) => !c.passed)
    .map((c) => {
      const r = c.reachability!;
      const tables = r.tables.filter((t) => t.comparison.some((row) => /[X?]/.test(row))).map((t) => truthTablesHtml(r, t)).join('');
      const list = r.mismatches.map((m) => `<li><code>${esc(`${m.from} → ${m.to} ${m.protocol}/${m.port}`)}</code>: expected ${esc(m.expected)}, observed ${esc(m.observed)} — ${esc(m.why)}<br><small>oracle: ${esc(m.oracle)}${m.attempts > 1 ? `; ${m.attempts} attempts` : ''}</small></li>`).join('');
      return `<h4 class="bad">✗ ${esc(c.name)}</h4><p>${esc(summaryLine(r))}; ${esc(evidenceLine(r))}</p>${tables}<ul>${list}</ul>`;
    })
    .join('\n');
  return `<h3>Policy conformance</h3>${sets}<h4>Pass rate per tag</h4>${tags}<details><summary>all ${checks.length} steps</summary>${steps}</details>${failures}`;
}
