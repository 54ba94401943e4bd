// The result of `cnilab selftest`: for every mutation of the catalogue, whether the suites (or, for a
// mutation that only costs speed, the A/B gate) noticed, and which checks caught it; the mutation score
// is the share detected. A baseline run of the unmutated build comes first: a check that fails there
// is broken or flaky, and its failures prove nothing about a mutation.
export const SELFTEST_SCHEMA_VERSION = 1 as const;

export interface MutationOutcome {
  name: string;
  what: string;
  /** How it was switched on, in words ("-DCNILAB_MUT_WRONG_VNI", "CNILAB_FAULT_AGENT=stale-ipcache"). */
  enabled: string;
  config: string;
  suites: string[];
  detected: boolean;
  /** Check ids that failed with the mutation and passed in the baseline. */
  caughtBy: string[];
  expectCaughtBy: string[];
  /** Whether one of the expected checks is among caughtBy. */
  caughtAsExpected: boolean;
  /** For speed mutations: the A/B gate's regressed metrics. */
  regressedMetrics?: string[];
  checks: number;
  failed: number;
  durationMs: number;
  /** The run itself broke (build failed, cluster did not come up): not a detection. */
  error?: string;
}

export interface BaselineOutcome {
  config: string;
  passed: boolean;
  checks: number;
  /** Check ids that failed without any mutation. */
  failing: string[];
}

export interface SelftestResult {
  kind: 'selftest';
  schemaVersion: typeof SELFTEST_SCHEMA_VERSION;
  startedAt: string;
  durationMs: number;
  machine: string;
  baseline: BaselineOutcome[];
  mutations: MutationOutcome[];
  score: { detected: number; total: number };
  /** Every mutation detected, none errored, baseline clean. */
  passed: boolean;
}

export function score(mutations: MutationOutcome[]): { detected: number; total: number } {
  return { detected: mutations.filter((m) => m.detected && !m.error).length, total: mutations.length };
}

function rows(r: SelftestResult): string[][] {
  return r.mutations.map((m) => [
    m.name,
    m.config,
    m.error ? `ERROR: ${m.error.split('\n')[0]!.slice(0, 60)}` : m.detected ? 'detected' : 'MISSED',
    m.regressedMetrics?.length ? `A/B gate: ${m.regressedMetrics.slice(0, 3).join(', ')}${m.regressedMetrics.length > 3 ? '…' : ''}` : m.caughtBy.length ? `${m.caughtBy.slice(0, 2).join(', ')}${m.caughtBy.length > 2 ? ` (+${m.caughtBy.length - 2})` : ''}` : '—',
    m.error ? '' : m.caughtAsExpected ? 'yes' : `no (expected ${m.expectCaughtBy.join(' | ')})`,
  ]);
}

const HEADER = ['mutation', 'config', 'result', 'caught by', 'as expected'];

export function renderSelftestTerminal(r: SelftestResult): string {
  const all = [HEADER, ...rows(r)];
  const w = HEADER.map((_, i) => Math.max(...all.map((x) => x[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(w[i]!)).join('  ').trimEnd();
  const base = r.baseline.map((b) => `baseline ${b.config}: ${b.passed ? `clean (${b.checks} checks)` : `${b.failing.length} failing: ${b.failing.slice(0, 5).join(', ')}`}`);
  return [...base, '', line(HEADER), line(w.map((n) => '-'.repeat(n))), ...all.slice(1).map(line), '', `mutation score: ${r.score.detected}/${r.score.total} detected${r.passed ? '' : ' — SELFTEST FAILED'}`, ''].join('\n');
}

export function renderSelftestMarkdown(r: SelftestResult): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    '# cnilab selftest (mutation testing)',
    '',
    `Machine: ${r.machine}. Mutation score **${r.score.detected}/${r.score.total}**.`,
    '',
    ...r.baseline.map((b) => `- baseline ${b.config}: ${b.passed ? `clean (${b.checks} checks)` : `failing: ${b.failing.join(', ')}`}`),
    '',
    `| ${HEADER.join(' | ')} | what |`,
    `|${HEADER.map(() => '---').join('|')}|---|`,
    ...rows(r).map((x, i) => `| ${x.map(esc).join(' | ')} | ${esc(r.mutations[i]!.what)} (${esc(r.mutations[i]!.enabled)}) |`),
    '',
  ].join('\n');
}
