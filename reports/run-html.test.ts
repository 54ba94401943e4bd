import { describe, expect, it } from 'vitest';
import { renderRunHtml } from './run-html.js';
import type { CheckResult, RunResult } from './model.js';
import { summarizeSuites } from './model.js';

const check = (from: string, to: string, protocol: string, passed: boolean): CheckResult => ({
  id: `pod-pod/${protocol}/${from}/${to}`,
  name: `${protocol} ${from} → ${to}`,
  from,
  to,
  protocol,
  expected: 'ok (exit 0)',
  observed: passed ? 'ok (exit 0)' : 'timeout <script>',
  passed,
  verdict: passed ? 'pass' : 'fail',
  durationMs: 5,
  command: "nsenter --net=/run/netns/x -- agnhost connect 198.19.1.2:8080 --protocol=tcp",
  tags: { matrix: 'pod-pod' },
});

function result(checks: CheckResult[]): RunResult {
  const suites = [{ name: 'connectivity', passed: checks.every((c) => c.passed), durationMs: 1, scenarios: [{ name: 'pod-connectivity', suite: 'connectivity', status: checks.every((c) => c.passed) ? 'passed' as const : 'failed' as const, startedAt: '', setupMs: 0, durationMs: 1, checks }] }];
  const summary = summarizeSuites(suites);
  return {
    schemaVersion: 1,
    runId: 'r1',
    startedAt: '2026-11-25T00:00:00Z',
    finishedAt: '2026-11-25T00:01:00Z',
    durationMs: 60_000,
    environment: { kernel: '6.18', cpuModel: 'cpu', cpuCount: 2, memoryBytes: 2 ** 34, nodeVersion: 'v20', cnilabVersion: '0.1.0', hostname: 'h', platform: 'linux' },
    configurations: [{ name: 'cnilab-tunnel', cni: 'cnilab', routing: 'tunnel', nodes: 3, clusterName: 'c', suites, summary }],
    summary: { ...summary, configurations: 1 },
  };
}

describe('run HTML report', () => {
  it('shows a truth table, marks the failing pair and escapes what the datapath printed', () => {
    const html = renderRunHtml(result([check('ns/a', 'ns/b', 'tcp', true), check('ns/b', 'ns/a', 'tcp', false)]));
    expect(html).toContain('FAILED');
    expect(html).toMatch(/<span class="bad"[^>]*>✗ tcp<\/span>/);
    expect(html).toMatch(/<span class="ok"[^>]*>✓<\/span>/);
    expect(html).not.toContain('<script>');
    expect(html).toContain('timeout &lt;script&gt;');
    expect(html).not.toMatch(/https?:\/\//);
  });
  it('says PASSED only when every check passed', () => {
    expect(renderRunHtml(result([check('ns/a', 'ns/b', 'tcp', true)]))).toContain('PASSED: 1/1 checks passed');
  });
});
