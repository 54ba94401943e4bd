// The terminal summary printed at the end of `cnilab run`: one line per scenario, then every check
// that did not pass with its pasteable command, so a failure can be reproduced by copy and paste.
import { failedChecks, runPassed, type CheckResult, type RunResult } from './model.js';
import { policyTerminalLines } from './policy-text.js';

const MAX_FAILURES_SHOWN = 40;

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}s`;
}

function failureLines(c: CheckResult): string[] {
  const mark = c.verdict === 'unavailable' ? '?' : '✗';
  const lines = [`  ${mark} ${c.name}`, `      expected ${c.expected}, observed ${c.observed}`];
  if (c.command) lines.push(`      $ ${c.command}`);
  if (c.detail) lines.push(...c.detail.split('\n').slice(0, 4).map((l) => `      ${l}`));
  return lines;
}

export function renderTerminal(r: RunResult): string {
  const out: string[] = [];
  for (const cfg of r.configurations) {
    out.push(`configuration ${cfg.name} (${cfg.provider ? `provider ${cfg.provider}, ` : ''}cni ${cfg.cni}, routing ${cfg.routing}, ${cfg.nodes} nodes, cluster ${cfg.clusterName}): bring-up ${seconds(cfg.bringUpMs)}, suites ${seconds(cfg.suiteMs)}`);
    if (cfg.error) out.push(`  error: ${cfg.error}`);
    const rows: string[][] = [['SCENARIO', 'STATUS', 'PASSED', 'FAILED', 'UNAVAIL', 'TIME']];
    for (const suite of cfg.suites) {
      if (suite.error) out.push(`  suite ${suite.name}: ${suite.error}`);
      for (const sc of suite.scenarios) {
        const n = (v: string) => String(sc.checks.filter((c) => c.verdict === v).length);
        rows.push([`${suite.name}/${sc.name}`, sc.status, n('pass'), n('fail'), n('unavailable'), seconds(sc.durationMs)]);
      }
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
    for (const row of rows) out.push(`  ${row.map((cell, i) => pad(cell, widths[i]!)).join('  ')}`.trimEnd());
    for (const suite of cfg.suites) {
      for (const sc of suite.scenarios) {
        if (sc.reason && sc.status !== 'passed') out.push(`  ${suite.name}/${sc.name} ${sc.status}: ${sc.reason.split('\n')[0]}`);
        // Policy steps print as truth tables below, not check by check.
        const bad = failedChecks(sc).filter((c) => !c.reachability);
        if (!bad.length) continue;
        out.push(`  ${suite.name}/${sc.name}: ${bad.length} check(s) did not pass`);
        for (const c of bad.slice(0, MAX_FAILURES_SHOWN)) out.push(...failureLines(c));
        if (bad.length > MAX_FAILURES_SHOWN) out.push(`  … and ${bad.length - MAX_FAILURES_SHOWN} more (see report.md / result.json)`);
      }
    }
    out.push(...policyTerminalLines(cfg));
    out.push('');
  }
  const s = r.summary;
  const verdict = runPassed(r) ? 'PASSED' : r.interrupted ? 'INTERRUPTED' : 'FAILED';
  out.push(`${verdict}: ${s.passed}/${s.checks} checks passed, ${s.failed} failed, ${s.unavailable} unavailable; ${s.scenarios - s.scenariosSkipped} scenarios ran (${s.scenariosFailed} failed, ${s.scenariosSkipped} skipped) in ${seconds(r.durationMs)}`);
  return `${out.join('\n')}\n`;
}
