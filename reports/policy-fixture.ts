// A policy-suite run result for the report tests (text renderers and Chromium): three pods, one
// passing step and one failing step with a mismatch, an unknown cell and retries.
import { summarizeRun, summarizeSuites, type CheckResult, type ConfigurationResult, type Reachability, type RunResult } from './model.js';

export const PEERS = ['x/a', 'x/b', 'y/a'];

export function reach(observedTcp80: string[]): Reachability {
  const expected = ['.XX', 'X.X', 'XX.'].map((r, i) => (i === 2 ? 'X..' : r));
  const comparison = observedTcp80.map((row, i) => row.split('').map((ch, j) => (ch === '?' ? '?' : ch === expected[i]![j] ? '.' : 'X')).join(''));
  const incorrect = comparison.join('').replace(/[^X?]/g, '').length;
  return {
    rows: PEERS,
    columns: PEERS,
    tables: [
      { protocol: 'TCP', port: 80, expected, observed: observedTcp80, comparison },
      { protocol: 'UDP', port: 81, expected, observed: expected, comparison: ['...', '...', '...'] },
    ],
    correct: 18 - incorrect,
    incorrect,
    evidence: { answer: 10, 'drop-flow': 8 - incorrect, timeout: incorrect },
    flows: 'agents',
    retries: { firstTryIncorrect: incorrect, retriedProbes: incorrect, reprobes: incorrect * 3, secondTry: incorrect > 0 },
    probeMs: 120,
    mismatches: incorrect
      ? [{ from: 'x/b', to: 'x/a', protocol: 'TCP', port: 80, expected: 'blocked', observed: 'connected', why: 'expected blocked, but it connected and "a" answered', oracle: 'ingress of x/a isolated', attempts: 4 }]
      : [],
  };
}

export const step = (name: string, r: Reachability, features: string, source = 'upstream'): CheckResult => ({
  id: 'step-1', name, expected: '18 probes as the oracle computes them', observed: `reachability: correct:${r.correct}, incorrect:${r.incorrect}`, passed: r.incorrect === 0, verdict: r.incorrect === 0 ? 'pass' : 'fail', durationMs: 130,
  tags: { case: name, source, features }, reachability: r,
});

export function policyRun(checks: CheckResult[]): RunResult {
  const scenarios = checks.map((c) => ({ name: c.name, suite: 'policy', status: c.passed ? 'passed' : 'failed', startedAt: '2026-01-01T00:00:00.000Z', setupMs: 1, durationMs: 400, checks: [c] }));
  const suites = [{ name: 'policy', passed: checks.every((c) => c.passed), durationMs: 800, scenarios }] as ConfigurationResult['suites'];
  const cfg: ConfigurationResult = { name: 'cnilab-tunnel', cni: 'cnilab', routing: 'tunnel', nodes: 3, clusterName: 'pol-x', suites, summary: summarizeSuites(suites) };
  return {
    schemaVersion: 1, runId: 'r1', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', durationMs: 1000,
    environment: { kernel: '6.18', cpuModel: 'cpu', cpuCount: 2, memoryBytes: 2 ** 30, nodeVersion: 'v20', cnilabVersion: '0.1.0', hostname: 'h', platform: 'linux-x64' },
    configurations: [cfg], summary: summarizeRun([cfg]),
  };
}

export const goodStep = step('default-deny-ingress', reach(['.XX', 'X.X', 'X..']), 'ingress,deny-all,networkpolicy');
export const badStep = step('allow-from-pod-selector', reach(['.XX', '..X', 'X.?']), 'ingress,peer-pods,networkpolicy');

