// The policy suite's results as the upstream netpol e2e prints them, in every report format.
import { describe, expect, it } from 'vitest';
import { renderJunit } from './junit.js';
import { renderMarkdown } from './markdown.js';
import { summarizeRun, summarizeSuites, type CheckResult, type ConfigurationResult, type Reachability, type RunResult } from './model.js';
import { renderRunHtml } from './run-html.js';
import { reachabilityText, setTimings, tagPassRates } from './reachability.js';
import { renderTerminal } from './terminal.js';

const PEERS = ['x/a', 'x/b', 'y/a'];

function reach(observedTcp80: string[]): Reachability {
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

const step = (name: string, r: Reachability, features: string, source = 'upstream'): CheckResult => ({
  id: 'step-1', name, expected: '18 probes as the oracle computes them', observed: `reachability: correct:${r.correct}, incorrect:${r.incorrect}`, passed: r.incorrect === 0, verdict: r.incorrect === 0 ? 'pass' : 'fail', durationMs: 130,
  tags: { case: name, source, features }, reachability: r,
});

function run(checks: CheckResult[]): RunResult {
  const scenarios = checks.map((c) => ({ name: c.name, suite: 'policy', status: c.passed ? 'passed' : 'failed', startedAt: '2026-01-01T00:00:00.000Z', setupMs: 1, durationMs: 400, checks: [c] }));
  const suites = [{ name: 'policy', passed: checks.every((c) => c.passed), durationMs: 800, scenarios }] as ConfigurationResult['suites'];
  const cfg: ConfigurationResult = { name: 'cnilab-tunnel', cni: 'cnilab', routing: 'tunnel', nodes: 3, clusterName: 'pol-x', suites, summary: summarizeSuites(suites) };
  return {
    schemaVersion: 1, runId: 'r1', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', durationMs: 1000,
    environment: { kernel: '6.18', cpuModel: 'cpu', cpuCount: 2, memoryBytes: 2 ** 30, nodeVersion: 'v20', cnilabVersion: '0.1.0', hostname: 'h', platform: 'linux-x64' },
    configurations: [cfg], summary: summarizeRun([cfg]),
  };
}

const good = step('default-deny-ingress', reach(['.XX', 'X.X', 'X..']), 'ingress,deny-all,networkpolicy');
const bad = step('allow-from-pod-selector', reach(['.XX', '..X', 'X.?']), 'ingress,peer-pods,networkpolicy');

describe('policy results in the reports', () => {
  it('prints the upstream tables: summary line, then expected / observed / comparison, tab-separated, for the failing port only', () => {
    const text = reachabilityText(bad.reachability!);
    expect(text[0]).toBe('reachability: correct:16, incorrect:2, result=false');
    expect(text.slice(1, 6)).toEqual(['TCP/80 expected:', '-\tx/a\tx/b\ty/a', 'x/a\t.\tX\tX', 'x/b\tX\t.\tX', 'y/a\tX\t.\t.']);
    expect(text).toContain('TCP/80 comparison:');
    expect(text).toContain('x/b\tX\t.\t.');
    expect(text).toContain('y/a\t.\t.\t?');
    expect(text.join('\n')).not.toContain('UDP/81');
    expect(reachabilityText(bad.reachability!, { all: true }).join('\n')).toContain('UDP/81 observed:');
  });

  it('computes the pass rate per tag over cases, and the time per case set', () => {
    const rates = tagPassRates([good, bad]);
    expect(rates.find((r) => r.tag === 'ingress')).toEqual({ tag: 'ingress', cases: 2, passed: 1, failed: 1, unsupported: 0 });
    expect(rates.find((r) => r.tag === 'peer-pods')).toMatchObject({ cases: 1, passed: 0 });
    expect(rates[0]!.tag).toBe('source:upstream');
    const r = run([good, bad]);
    expect(setTimings(r.configurations[0]!.suites[0]!.scenarios)).toEqual([{ source: 'upstream', cases: 2, steps: 2, probes: 36, ms: 800 }]);
  });

  it('terminal: per-tag rates, the failed step with its tables and its explained mismatch; a passing step prints no table', () => {
    const t = renderTerminal(run([good, bad]));
    expect(t).toContain('policy set upstream: 2 cases, 2 steps, 36 probes in 0.8 s');
    expect(t).toMatch(/ingress\s+2\s+1\s+1\s+50%/);
    expect(t).toContain('✗ allow-from-pod-selector');
    expect(t).toContain('    reachability: correct:16, incorrect:2, result=false');
    expect(t).toContain('x/b -> x/a TCP/80: expected blocked, but it connected and "a" answered; oracle: ingress of x/a isolated');
    expect(t).toContain('(4 attempts)');
    expect(t).toMatch(/first try 2 incorrect, 2 re-probed, second try of all/);
    expect(t).not.toContain('✗ default-deny-ingress');
  });

  it('Markdown, HTML and JUnit carry the tables of the failed step', () => {
    const r = run([good, bad]);
    const md = renderMarkdown(r);
    expect(md).toContain('### Policy conformance');
    expect(md).toContain('| ingress | 2 | 1 | 1 | 50% |');
    expect(md).toContain('#### ❌ allow-from-pod-selector');
    expect(md).toContain('```\nreachability: correct:16, incorrect:2, result=false\nTCP/80 expected:');
    const html = renderRunHtml(r);
    expect(html).toContain('<h3>Policy conformance</h3>');
    expect(html).toContain('<h5>TCP/80 comparison</h5>');
    expect((html.match(/class="mm"/g) ?? []).length).toBe(1);
    expect((html.match(/class="uk"/g) ?? []).length).toBe(2);
    const xml = renderJunit(r);
    expect(xml).toContain('TCP/80 comparison:');
    expect(xml).toContain('x/b -&gt; x/a TCP/80: expected blocked, but it connected');
    expect((xml.match(/<failure /g) ?? []).length).toBe(1);
  });
});
