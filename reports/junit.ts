// JUnit XML, as CI systems read it: one <testsuite> per scenario (per configuration), one <testcase>
// per check. A failed check is a <failure>, an unavailable one an <error> (the evidence could not be
// had: not a pass), a scenario that could not run or made no check gets a synthetic testcase so it
// can never look green.
import type { CheckResult, RunResult, ScenarioResult } from './model.js';
import { evidenceLine, mismatchLines, reachabilityText } from './reachability.js';

/** Escape for XML text and attribute values, dropping characters XML 1.0 cannot carry at all. */
export function xmlEscape(s: string): string {
  return s
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const secs = (ms: number) => (ms / 1000).toFixed(3);

function attrs(a: Record<string, string | number>): string {
  return Object.entries(a).map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`).join('');
}

function checkBody(c: CheckResult): string {
  const tables = c.reachability ? [evidenceLine(c.reachability), ...reachabilityText(c.reachability), ...mismatchLines(c.reachability, 50)].join('\n') : '';
  return [`expected: ${c.expected}`, `observed: ${c.observed}`, c.command ? `command: ${c.command}` : '', c.detail ?? '', tables].filter(Boolean).join('\n');
}

function testcase(classname: string, c: CheckResult): string {
  const head = `    <testcase${attrs({ classname, name: c.name, time: secs(c.durationMs) })}`;
  if (c.verdict === 'pass') return `${head}/>`;
  const tag = c.verdict === 'unavailable' ? 'error' : 'failure';
  const message = `expected ${c.expected}, observed ${c.observed}`;
  return `${head}>\n      <${tag}${attrs({ message, type: c.verdict })}>${xmlEscape(checkBody(c))}</${tag}>\n    </testcase>`;
}

function scenarioSuite(config: string, sc: ScenarioResult): { xml: string; tests: number; failures: number; errors: number; skipped: number } {
  const classname = `cnilab.${config}.${sc.suite}.${sc.name}`;
  const cases = sc.checks.map((c) => testcase(classname, c));
  let failures = sc.checks.filter((c) => c.verdict === 'fail').length;
  let errors = sc.checks.filter((c) => c.verdict === 'unavailable').length;
  let skipped = 0;
  if (sc.status === 'skipped') {
    cases.push(`    <testcase${attrs({ classname, name: sc.name, time: '0' })}>\n      <skipped${attrs({ message: sc.reason ?? 'not applicable' })}/>\n    </testcase>`);
    skipped = 1;
  } else if (sc.status === 'error' || (sc.status === 'failed' && sc.reason)) {
    // The scenario as a whole failed (setup error, no check, duplicate ids): make that visible as its own case.
    const tag = sc.status === 'error' ? 'error' : 'failure';
    cases.push(`    <testcase${attrs({ classname, name: `${sc.name} (scenario)`, time: secs(sc.setupMs) })}>\n      <${tag}${attrs({ message: sc.reason!.split('\n')[0]!, type: sc.status })}>${xmlEscape(sc.reason!)}</${tag}>\n    </testcase>`);
    if (tag === 'error') errors++;
    else failures++;
  }
  const tests = cases.length;
  const head = `  <testsuite${attrs({ name: `${config}/${sc.suite}/${sc.name}`, tests, failures, errors, skipped, time: secs(sc.durationMs), timestamp: sc.startedAt.replace(/Z$/, '') })}>`;
  return { xml: [head, ...cases, '  </testsuite>'].join('\n'), tests, failures, errors, skipped };
}

export function renderJunit(r: RunResult): string {
  const suites: string[] = [];
  let tests = 0, failures = 0, errors = 0, skipped = 0;
  for (const cfg of r.configurations) {
    const scenarios = cfg.suites.flatMap((s) => s.scenarios);
    for (const sc of scenarios) {
      const s = scenarioSuite(cfg.name, sc);
      suites.push(s.xml);
      tests += s.tests;
      failures += s.failures;
      errors += s.errors;
      skipped += s.skipped;
    }
    // Problems outside any scenario (cluster would not come up, empty suite) must fail the report too.
    const problems = [...(cfg.error ? [cfg.error] : []), ...cfg.suites.filter((s) => s.error).map((s) => `suite ${s.name}: ${s.error}`)];
    if (cfg.suites.length === 0 && !cfg.error) problems.push('no suite ran');
    if (problems.length) {
      const cases = problems.map((p) => `    <testcase${attrs({ classname: `cnilab.${cfg.name}`, name: p.split('\n')[0]!, time: '0' })}>\n      <error${attrs({ message: p.split('\n')[0]!, type: 'error' })}>${xmlEscape(p)}</error>\n    </testcase>`);
      suites.push([`  <testsuite${attrs({ name: `${cfg.name}/configuration`, tests: cases.length, failures: 0, errors: cases.length, skipped: 0, time: '0' })}>`, ...cases, '  </testsuite>'].join('\n'));
      tests += cases.length;
      errors += cases.length;
    }
  }
  const head = `<testsuites${attrs({ name: `cnilab run ${r.runId}`, tests, failures, errors, skipped, time: secs(r.durationMs) })}>`;
  return ['<?xml version="1.0" encoding="UTF-8"?>', head, ...suites, '</testsuites>', ''].join('\n');
}
