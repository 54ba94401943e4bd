// Rendering the policy suite's results (render only: everything comes from the result model). The
// truth tables print the way the upstream netpol e2e prints them — "reachability: correct:R,
// incorrect:W, result=false", then expected / observed / comparison tables, tab-separated, a header
// "-\tx/a\tx/b…" and one row per source with '.', 'X' and '?' — plus what upstream cannot say: how each
// mismatch was observed (the drop flow, a timeout), the oracle's reason, and whether retries happened.
import type { CheckResult, Reachability, ReachabilityTable, RunResult, ScenarioResult } from './model.js';

/** Checks of the policy suite (they carry reachability tables). */
export function policyChecks(scenarios: ScenarioResult[]): CheckResult[] {
  return scenarios.flatMap((s) => s.checks.filter((c) => c.reachability));
}

export function tableLines(r: Reachability, rows: string[]): string[] {
  return [['-', ...r.columns].join('\t'), ...r.rows.map((from, i) => [from, ...rows[i]!.split('')].join('\t'))];
}

function combo(t: ReachabilityTable): string {
  return `${t.protocol}/${t.port}`;
}

/** The upstream summary line. */
export function summaryLine(r: Reachability): string {
  return `reachability: correct:${r.correct}, incorrect:${r.incorrect}, result=${r.incorrect === 0}`;
}

/** Summary, then for every port/protocol with a mismatch (or every one, with all: true) the three tables. */
export function reachabilityText(r: Reachability, opts: { all?: boolean } = {}): string[] {
  const out = [summaryLine(r)];
  for (const t of r.tables) {
    if (!opts.all && t.comparison.every((row) => !/[X?]/.test(row))) continue;
    out.push(`${combo(t)} expected:`, ...tableLines(r, t.expected), `${combo(t)} observed:`, ...tableLines(r, t.observed), `${combo(t)} comparison:`, ...tableLines(r, t.comparison));
  }
  return out;
}

export function mismatchLines(r: Reachability, max = 20): string[] {
  const lines = r.mismatches.slice(0, max).map(
    (m) => `${m.from} -> ${m.to} ${m.protocol}/${m.port}: ${m.why}; oracle: ${m.oracle}${m.attempts > 1 ? ` (${m.attempts} attempts)` : ''}`,
  );
  if (r.mismatches.length > max) lines.push(`… and ${r.mismatches.length - max} more`);
  return lines;
}

/** How the probes were settled and whether anything had to be retried, in one line. */
export function evidenceLine(r: Reachability): string {
  const ev = Object.entries(r.evidence).map(([k, v]) => `${k} ${v}`).join(', ');
  const retries = r.retries.retriedProbes || r.retries.secondTry ? `; first try ${r.retries.firstTryIncorrect} incorrect, ${r.retries.retriedProbes} re-probed${r.retries.secondTry ? ', second try of all' : ''}` : '; no retry';
  const flows = r.flows === 'agents' ? `blocks confirmed by drop flows${r.flowsMissed ? `; ${r.flowsMissed} flows overwritten before they were read` : ''}` : 'no flows from this CNI: a timeout is the evidence of a block';
  return `${ev} (${flows})${retries}${r.unsupported?.length ? `; unsupported: ${r.unsupported.join('; ')}` : ''}`;
}

export interface TagRate {
  tag: string;
  cases: number;
  passed: number;
  failed: number;
  unsupported: number;
}

/** Pass rate per tag, per case (a case passes when every step passed), as Cyclonus prints it. */
export function tagPassRates(checks: CheckResult[]): TagRate[] {
  const cases = new Map<string, { tags: Set<string>; passed: boolean; unsupported: boolean }>();
  for (const c of checks) {
    const name = c.tags?.case;
    if (!name) continue;
    const e = cases.get(name) ?? { tags: new Set<string>(), passed: true, unsupported: false };
    for (const t of (c.tags?.features ?? '').split(',').filter(Boolean)) e.tags.add(t);
    if (c.tags?.source) e.tags.add(`source:${c.tags.source}`);
    e.passed &&= c.passed;
    e.unsupported ||= !!c.reachability?.unsupported?.length;
    cases.set(name, e);
  }
  const rates = new Map<string, TagRate>();
  for (const e of cases.values()) {
    for (const tag of e.tags) {
      const r = rates.get(tag) ?? { tag, cases: 0, passed: 0, failed: 0, unsupported: 0 };
      r.cases++;
      if (e.passed) r.passed++;
      else r.failed++;
      if (e.unsupported) r.unsupported++;
      rates.set(tag, r);
    }
  }
  return [...rates.values()].sort((a, b) => (a.tag.startsWith('source:') === b.tag.startsWith('source:') ? a.tag.localeCompare(b.tag) : a.tag.startsWith('source:') ? -1 : 1));
}

export const percent = (r: TagRate) => `${((100 * r.passed) / Math.max(1, r.cases)).toFixed(0)}%`;

export interface SetTiming {
  source: string;
  cases: number;
  steps: number;
  probes: number;
  ms: number;
}

/** Run time per case set (the benchmark figure: the upstream-like set, full matrix). */
export function setTimings(scenarios: ScenarioResult[]): SetTiming[] {
  const out = new Map<string, SetTiming>();
  for (const s of scenarios) {
    const checks = s.checks.filter((c) => c.reachability);
    const source = checks[0]?.tags?.source;
    if (!source) continue;
    const t = out.get(source) ?? { source, cases: 0, steps: 0, probes: 0, ms: 0 };
    t.cases++;
    t.steps += checks.length;
    t.probes += checks.reduce((n, c) => n + c.reachability!.correct + c.reachability!.incorrect, 0);
    t.ms += s.durationMs;
    out.set(source, t);
  }
  return [...out.values()];
}

/** Does the run contain policy results at all? */
export function hasPolicyResults(r: RunResult): boolean {
  return r.configurations.some((c) => c.suites.some((s) => policyChecks(s.scenarios).length > 0));
}
