// Renderers: JUnit is well-formed and escaped, Markdown shows the pair matrix, terminal lists failures.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderJunit, xmlEscape } from './junit.js';
import { renderMarkdown, renderMatrix } from './markdown.js';
import { renderTerminal } from './terminal.js';
import { writeReports } from './write.js';
import { runPassed, summarizeRun, summarizeSuites, type CheckResult, type ConfigurationResult, type RunResult } from './model.js';
import { testTempDir } from '../lib/testing/temp-dir.js';

const check = (id: string, passed: boolean, extra: Partial<CheckResult> = {}): CheckResult => ({
  id, name: id, expected: 'ok (exit 0)', observed: passed ? 'ok (exit 0)' : 'timeout (exit 1)', passed, verdict: passed ? 'pass' : 'fail', durationMs: 12, ...extra,
});
const pair = (from: string, to: string, protocol: string, passed: boolean) =>
  check(`pod-pod/${protocol}/${from}/${to}`, passed, { from: `ns/${from}`, to: `ns/${to}`, protocol, tags: { matrix: 'pod-pod' }, command: `nsenter --net=/run/netns/x -- ping ${to}` });

function result(checks: CheckResult[]): RunResult {
  const suites = [{ name: 'connectivity', passed: checks.every((c) => c.passed), durationMs: 5, scenarios: [{ name: 'pod-connectivity', suite: 'connectivity', status: checks.every((c) => c.passed) ? 'passed' : 'failed', startedAt: '2026-01-01T00:00:00.000Z', setupMs: 1, durationMs: 5, checks }] }] as ConfigurationResult['suites'];
  const cfg: ConfigurationResult = { name: 'reference-bridge', cni: 'reference-bridge', routing: 'native', nodes: 3, clusterName: 'sc-x', bringUpMs: 900, suiteMs: 5, suites, summary: summarizeSuites(suites) };
  return {
    schemaVersion: 1, runId: 'r1', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', durationMs: 1000,
    environment: { kernel: '6.18', cpuModel: 'cpu', cpuCount: 2, memoryBytes: 2 ** 30, nodeVersion: 'v20', cnilabVersion: '0.1.0', hostname: 'h', platform: 'linux-x64' },
    configurations: [cfg], summary: summarizeRun([cfg]),
  };
}

/** A strict-enough XML well-formedness check: balanced tags, quoted attributes, only known entities, no raw '<' or '&'. */
function assertWellFormed(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  let m: RegExpExecArray | null;
  let roots = 0;
  while ((m = re.exec(body))) {
    if (m[6]) throw new Error(`stray '<' at ${m.index}: ${body.slice(m.index, m.index + 40)}`);
    const text = m[5] ?? m[3] ?? '';
    for (const amp of text.matchAll(/&([^;\s]*);?/g)) if (!/^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);$/i.test(amp[0])) throw new Error(`bad entity ${amp[0]}`);
    if (m[5] !== undefined) {
      if (!stack.length && m[5].trim()) throw new Error('text outside the root element');
      continue;
    }
    if (m[1]) {
      if (stack.pop() !== m[2]) throw new Error(`mismatched </${m[2]}>`);
    } else if (!m[4]) {
      if (!stack.length) roots++;
      stack.push(m[2]!);
    } else if (!stack.length) roots++;
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('> <')}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
}

describe('JUnit', () => {
  it('escapes markup and drops characters XML cannot hold', () => {
    expect(xmlEscape(`a<b>&"c'\u0001`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;\uFFFD');
  });

  it('is well-formed with hostile text, one testsuite per scenario, failures with messages', () => {
    const nasty = check('x', false, { name: 'tcp a → b <script>&"quoted"', observed: 'other (exit 1)', detail: "OTHER: ]]> \u0007 'x' & <y>", command: "echo 'a&b' > /dev/null" });
    const xml = renderJunit(result([check('ok', true), nasty]));
    assertWellFormed(xml);
    expect(xml.match(/<testsuite /g)).toHaveLength(1);
    expect(xml).toMatch(/<testsuites [^>]*tests="2" failures="1" errors="0"/);
    expect(xml).toContain('<failure message="expected ok (exit 0), observed other (exit 1)" type="fail">');
    expect(xml).toContain('name="tcp a → b &lt;script&gt;&amp;&quot;quoted&quot;"');
    expect(xml).toContain('command: echo &apos;a&amp;b&apos; &gt; /dev/null');
  });

  it('makes an unavailable check an error and a check-less scenario a failure', () => {
    const r = result([check('u', false, { verdict: 'unavailable', observed: 'identity unavailable' })]);
    expect(renderJunit(r)).toMatch(/<error message="expected ok \(exit 0\), observed identity unavailable" type="unavailable">/);
    const empty = result([]);
    const sc = empty.configurations[0]!.suites[0]!.scenarios[0]!;
    Object.assign(sc, { status: 'failed', reason: 'the scenario made no check' });
    const xml = renderJunit(empty);
    assertWellFormed(xml);
    expect(xml).toMatch(/<testsuites [^>]*tests="1" failures="1"/);
  });
});

describe('Markdown', () => {
  it('renders a from×to matrix with ✓, ✗ and the failing protocols, · on the diagonal', () => {
    const checks = [pair('a', 'b', 'tcp', true), pair('a', 'b', 'udp', true), pair('b', 'a', 'tcp', true), pair('b', 'a', 'udp', false), pair('a', 'c', 'icmp', true)];
    const lines = renderMatrix(checks, 'pod-pod');
    expect(lines).toContain('| from ↓ to → | a | b | c |');
    expect(lines).toContain('| a | · | ✓ | ✓ |');
    expect(lines).toContain('| b | ✗ udp | · |  |');
    const md = renderMarkdown(result(checks));
    expect(md).toMatch(/^# cnilab run r1: ❌ failed/);
    expect(md).toContain('### Failures (1)');
    expect(md).toContain('nsenter --net=/run/netns/x -- ping a');
  });

  it('escapes pipes in table cells', () => {
    const md = renderMarkdown(result([check('p', false, { name: 'a | b' })]));
    expect(md).toContain('a \\| b');
  });
});

describe('terminal and files', () => {
  it('summarizes and lists each failed check with its command', () => {
    const r = result([check('ok', true), check('bad', false, { command: 'ping 1.2.3.4' })]);
    const text = renderTerminal(r);
    expect(text).toMatch(/connectivity\/pod-connectivity\s+failed\s+1\s+1\s+0/);
    expect(text).toContain('$ ping 1.2.3.4');
    expect(text).toMatch(/FAILED: 1\/2 checks passed/);
    expect(runPassed(r)).toBe(false);
    expect(runPassed(result([check('ok', true)]))).toBe(true);
  });

  it('writeReports writes result.json, report.md and junit.xml', () => {
    const dir = testTempDir('cnilab-reports-');
    const files = writeReports(result([check('ok', true)]), dir);
    expect(JSON.parse(readFileSync(files.json, 'utf8')).schemaVersion).toBe(1);
    expect(readFileSync(files.markdown, 'utf8')).toMatch(/✅ passed/);
    assertWellFormed(readFileSync(files.junit, 'utf8'));
  });
});
