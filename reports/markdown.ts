// The Markdown report, for a pull request: verdict and environment, a scenario table per
// configuration, from×to matrices for checks tagged with `matrix`, then the failures in full.
import { failedChecks, runPassed, type CheckResult, type ConfigurationResult, type RunResult } from './model.js';
import { policyMarkdownLines } from './policy-text.js';

/** Table cells must not break the row: escape pipes, fold newlines. */
export function mdCell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '–' : `${(ms / 1000).toFixed(1)} s`;
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.map(mdCell).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`)];
}

/**
 * A from×to matrix of the checks tagged `matrix: name`. A cell is ✓ when every check of that pair
 * passed, ✗ plus the failing protocols otherwise, · on the diagonal, blank when nothing was checked.
 */
export function renderMatrix(checks: CheckResult[], name: string): string[] {
  const cells = checks.filter((c) => c.tags?.matrix === name && c.from && c.to);
  if (!cells.length) return [];
  const order: string[] = [];
  for (const c of cells) for (const e of [c.from!, c.to!]) if (!order.includes(e)) order.push(e);
  const byPair = new Map<string, CheckResult[]>();
  for (const c of cells) {
    const k = `${c.from}\u0000${c.to}`;
    byPair.set(k, [...(byPair.get(k) ?? []), c]);
  }
  const short = (e: string) => e.split('/').pop()!;
  const rows = order.map((from) => [
    short(from),
    ...order.map((to) => {
      if (from === to) return '·';
      const pair = byPair.get(`${from}\u0000${to}`);
      if (!pair) return '';
      const bad = pair.filter((c) => !c.passed);
      return bad.length === 0 ? '✓' : `✗ ${[...new Set(bad.map((c) => c.protocol ?? '?'))].join(',')}`;
    }),
  ]);
  return [`**${name}** (rows: from, columns: to)`, '', ...table(['from ↓ to →', ...order.map(short)], rows), ''];
}

function configurationSection(cfg: ConfigurationResult): string[] {
  const out = [`## ${cfg.name}`, '', `${cfg.provider ? `provider \`${cfg.provider}\`, ` : ''}cni \`${cfg.cni}\`, routing \`${cfg.routing}\`, ${cfg.nodes} nodes${cfg.podMtu ? `, pod MTU ${cfg.podMtu}` : ''}; bring-up ${seconds(cfg.bringUpMs)} (cluster ${seconds(cfg.clusterUpMs)}, pods ${seconds(cfg.podsReadyMs)}), suites ${seconds(cfg.suiteMs)}`, ''];
  if (cfg.error) out.push(`**Error:** ${cfg.error}`, '');
  const rows: string[][] = [];
  for (const suite of cfg.suites) {
    if (suite.error) out.push(`**Suite ${suite.name}:** ${suite.error}`, '');
    for (const sc of suite.scenarios) {
      const count = (v: string) => String(sc.checks.filter((c) => c.verdict === v).length);
      const status = sc.status === 'passed' ? '✅ passed' : sc.status === 'skipped' ? `⏭ skipped: ${sc.reason ?? ''}` : `❌ ${sc.status}${sc.reason ? `: ${sc.reason.split('\n')[0]}` : ''}`;
      rows.push([`${suite.name}/${sc.name}`, status, count('pass'), count('fail'), count('unavailable'), seconds(sc.durationMs)]);
    }
  }
  out.push(...table(['scenario', 'status', 'passed', 'failed', 'unavailable', 'time'], rows), '');
  const all = cfg.suites.flatMap((s) => s.scenarios.flatMap((sc) => sc.checks));
  const matrices = [...new Set(all.map((c) => c.tags?.matrix).filter((m): m is string => !!m))];
  for (const m of matrices) out.push(...renderMatrix(all, m));
  out.push(...policyMarkdownLines(cfg));
  // Policy steps are shown as truth tables above.
  const failures = cfg.suites.flatMap((s) => s.scenarios.flatMap((sc) => failedChecks(sc).filter((c) => !c.reachability).map((c) => ({ sc: `${s.name}/${sc.name}`, c }))));
  if (failures.length) {
    out.push(`### Failures (${failures.length})`, '');
    out.push(...table(['scenario', 'check', 'expected', 'observed'], failures.map(({ sc, c }) => [sc, c.name, c.expected, `${c.verdict === 'unavailable' ? 'unavailable: ' : ''}${c.observed}`])), '');
    out.push('<details><summary>Commands to reproduce</summary>', '', '```sh');
    for (const { c } of failures) if (c.command) out.push(`# ${c.id}`, c.command);
    out.push('```', '', '</details>', '');
  }
  return out;
}

export function renderMarkdown(r: RunResult): string {
  const s = r.summary;
  const e = r.environment;
  const verdict = runPassed(r) ? '✅ passed' : r.interrupted ? '⚠️ interrupted' : '❌ failed';
  const out = [
    `# cnilab run ${r.runId}: ${verdict}`,
    '',
    `${s.passed} of ${s.checks} checks passed, ${s.failed} failed, ${s.unavailable} unavailable; ${s.configurations} configuration(s), ${s.scenarios} scenario(s) (${s.scenariosFailed} failed, ${s.scenariosSkipped} skipped). Started ${r.startedAt}, took ${seconds(r.durationMs)}.`,
    '',
    ...table(
      ['configuration', 'passed', 'failed', 'unavailable', 'bring-up', 'suites'],
      r.configurations.map((c) => [c.name, String(c.summary.passed), String(c.summary.failed), String(c.summary.unavailable), seconds(c.bringUpMs), seconds(c.suiteMs)]),
    ),
    '',
    `Machine: ${e.hostname}, kernel ${e.kernel}, ${e.cpuCount} × ${e.cpuModel}, ${(e.memoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${e.nodeVersion}, cnilab ${e.cnilabVersion}${e.gitCommit ? ` @ ${e.gitCommit.slice(0, 12)}${e.gitDirty ? ' (dirty)' : ''}` : ''}.`,
    '',
  ];
  for (const cfg of r.configurations) out.push(...configurationSection(cfg));
  return out.join('\n');
}
