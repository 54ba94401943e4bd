// The policy suite in the terminal and in Markdown: the pass rate per tag, the time per case set, and
// for every failed step the upstream-style expected / observed / comparison tables with the mismatches
// explained. Used by terminal.ts and markdown.ts for configurations that ran the policy suite.
import type { CheckResult, ConfigurationResult } from './model.js';
import { evidenceLine, mismatchLines, percent, policyChecks, reachabilityText, setTimings, summaryLine, tagPassRates } from './reachability.js';

const MAX_FULL_TABLES = 5;

function pad(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function scenariosOf(cfg: ConfigurationResult) {
  return cfg.suites.filter((s) => s.name === 'policy').flatMap((s) => s.scenarios);
}

export function policyTerminalLines(cfg: ConfigurationResult): string[] {
  const scenarios = scenariosOf(cfg);
  const checks = policyChecks(scenarios);
  if (!checks.length) return [];
  const out: string[] = [];
  for (const t of setTimings(scenarios)) out.push(`  policy set ${t.source}: ${t.cases} cases, ${t.steps} steps, ${t.probes} probes in ${seconds(t.ms)}`);
  const rates = tagPassRates(checks);
  out.push('  pass rate per tag:', ...pad([['TAG', 'CASES', 'PASSED', 'FAILED', 'RATE'], ...rates.map((r) => [r.tag, String(r.cases), String(r.passed), String(r.failed), percent(r)])]).map((l) => `    ${l}`));
  const unsupported = checks.filter((c) => c.reachability!.unsupported?.length);
  if (unsupported.length) out.push(`  unsupported, not probed and never counted: SCTP in ${unsupported.length} step(s) (${unsupported.map((c) => c.name).join(', ')}): the workload cannot serve SCTP (Node.js has no SCTP sockets)`);
  const failed = checks.filter((c) => !c.passed);
  failed.forEach((c, i) => {
    const r = c.reachability!;
    out.push(`  ✗ ${c.name}`, `    ${evidenceLine(r)}`);
    const text = i < MAX_FULL_TABLES ? reachabilityText(r) : [summaryLine(r)];
    out.push(...text.map((l) => `    ${l}`), ...mismatchLines(r, i < MAX_FULL_TABLES ? 12 : 3).map((l) => `    ${l}`));
  });
  if (failed.length > MAX_FULL_TABLES) out.push(`  (tables of the first ${MAX_FULL_TABLES} failed steps shown; all of them are in report.md and report.html)`);
  return out;
}

function mdTable(header: string[], rows: string[][]): string[] {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

function caseRows(checks: CheckResult[]): string[][] {
  return checks.map((c) => {
    const r = c.reachability!;
    const retries = r.retries.retriedProbes || r.retries.secondTry ? `${r.retries.retriedProbes}${r.retries.secondTry ? ' + 2nd try' : ''}` : '–';
    return [c.passed ? '✅' : '❌', c.name, c.tags?.source ?? '', `${r.correct}/${r.correct + r.incorrect}`, retries, r.unsupported?.length ? 'SCTP' : '', `${r.probeMs} ms`];
  });
}

export function policyMarkdownLines(cfg: ConfigurationResult): string[] {
  const scenarios = scenariosOf(cfg);
  const checks = policyChecks(scenarios);
  if (!checks.length) return [];
  const out = ['### Policy conformance', ''];
  out.push(...mdTable(['case set', 'cases', 'steps', 'probes', 'time'], setTimings(scenarios).map((t) => [t.source, String(t.cases), String(t.steps), String(t.probes), seconds(t.ms)])), '');
  out.push('**Pass rate per tag** (per case: a case passes when all its steps do)', '');
  out.push(...mdTable(['tag', 'cases', 'passed', 'failed', 'pass rate'], tagPassRates(checks).map((r) => [r.tag, String(r.cases), String(r.passed), String(r.failed), percent(r)])), '');
  out.push('<details><summary>Every step</summary>', '', ...mdTable(['', 'step', 'set', 'correct', 're-probed', 'unsupported', 'probe time'], caseRows(checks)), '', '</details>', '');
  for (const c of checks.filter((x) => !x.passed)) {
    const r = c.reachability!;
    out.push(`#### ❌ ${c.name}`, '', evidenceLine(r), '', '```', ...reachabilityText(r), '```', '', ...mismatchLines(r, 30).map((l) => `- ${l}`), '');
  }
  return out;
}
