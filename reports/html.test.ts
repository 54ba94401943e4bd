import { describe, expect, it } from 'vitest';
import { perfCharts, renderPerformanceHtml } from './html.js';
import { renderPerfMarkdown, renderPerfTerminal } from './performance-text.js';
import { fixtureResult } from '../scenarios/performance/fixture.js';
import { PERF_CONFIG_NAMES } from './performance-model.js';

describe('performance HTML report', () => {
  const r = fixtureResult({ unavailable: { 'cnilab-native': 'BGP agent not built yet' }, scale: { 'cnilab-tunnel:tcp-1.other.throughput': 0.8 } });
  const html = renderPerformanceHtml(r);

  it('is self-contained: no URL, no script, no external stylesheet', () => {
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script|<link /i);
    expect(html.startsWith('<!doctype html>')).toBe(true);
  });

  it('has one <svg> per chart, and the charts the report promises', () => {
    const charts = perfCharts(r);
    expect(charts.map((c) => c.id)).toEqual(['tcp-throughput', 'udp-throughput', 'udp-loss', 'latency-same', 'latency-other', 'rr-tps', 'cpu-per-gb', 'crr-rate', 'http-rps', 'http-latency']);
    expect(html.match(/<svg /g)).toHaveLength(charts.length);
    for (const c of charts) expect(html).toContain(`id="${c.id}"`);
  });

  it('names all five configurations, shows the unavailable one with its reason and a missed target', () => {
    for (const name of PERF_CONFIG_NAMES) expect(html).toContain(name);
    expect(html).toContain('unavailable: BGP agent not built yet');
    expect(html).toContain('TARGET MISSED');
    expect(html).toContain('Fixture CPU');
  });

  it('terminal and Markdown say "target missed" and show the machine', () => {
    const t = renderPerfTerminal(r);
    expect(t).toMatch(/TARGET MISSED\s+cnilab-tunnel TCP throughput \(1 stream, across nodes\)/);
    expect(t).toContain('2× Fixture CPU');
    expect(t).toContain('UNAVAILABLE  BGP agent not built yet');
    const md = renderPerfMarkdown(r);
    expect(md).toContain('**target missed**');
    expect(md).toMatch(/\| cnilab-native \| cnilab \| native \| — \| \*\*unavailable\*\*/);
  });
});
