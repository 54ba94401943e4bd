// The policy suite's results as the upstream netpol e2e prints them, in every report format.
import { describe, expect, it } from 'vitest';
import { renderJunit } from './junit.js';
import { renderMarkdown } from './markdown.js';
import { badStep as bad, goodStep as good, policyRun as run } from './policy-fixture.js';
import { renderRunHtml } from './run-html.js';
import { reachabilityText, setTimings, tagPassRates } from './reachability.js';
import { renderTerminal } from './terminal.js';

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
