import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { growthVerdict, parseStormOutput, rateInWindow, startStorm, type StormResult } from './pod-ready-storm.js';
import type { ClusterSpec } from '../harness/cluster/spec.js';

function result(bins: number[], t0 = 1_000_000_000): StormResult {
  return { t0_ns: t0, rate: 100, seconds: bins.length / 10, offered: 0, started: 0, completed: bins.reduce((a, b) => a + b, 0), errors: 0, timeouts: 0, skipped: 0, inflight: 0, syn_retrans: 0, p50_us: 0, p99_us: 0, max_us: 0, bin_ms: 100, bins };
}

describe('pod-ready storm: reading the load generator', () => {
  it('parses its result line and names a missing field', () => {
    const r = result([10, 10]);
    expect(parseStormOutput(`noise\n${JSON.stringify(r)}\n`)).toEqual(r);
    const { p99_us: _drop, ...partial } = r;
    expect(() => parseStormOutput(JSON.stringify(partial))).toThrow(/p99_us/);
    expect(() => parseStormOutput('')).toThrow(/no result line/);
    expect(() => parseStormOutput(JSON.stringify({ ...r, bins: ['x'] }))).toThrow(/bins/);
  });

  it('counts the bins of a window, partial bins in proportion', () => {
    const r = result([100, 200, 300, 400]); // 1000, 2000, 3000, 4000 connections/s
    const t0 = r.t0_ns;
    expect(rateInWindow(r, t0, t0 + 100e6)).toBeCloseTo(1000);
    expect(rateInWindow(r, t0 + 100e6, t0 + 300e6)).toBeCloseTo(2500);
    // Half of bin 0 and half of bin 1: 50 + 100 connections in 100 ms.
    expect(rateInWindow(r, t0 + 50e6, t0 + 150e6)).toBeCloseTo(1500);
    // A window past the storm's end counts nothing there (a storm that stopped is not one that ran).
    expect(rateInWindow(r, t0 + 300e6, t0 + 500e6)).toBeCloseTo(2000);
    expect(rateInWindow(r, t0, t0)).toBeNaN();
  });

  it('reads "does not grow" from the interval, not the point', () => {
    const ci = (lo: number, hi: number) => ({ ratio: (lo + hi) / 2, lo, hi, within: () => false, outside: () => false });
    expect(growthVerdict(ci(0.95, 1.08), 0.1)).toMatch(/^met/);
    expect(growthVerdict(ci(1.15, 1.3), 0.1)).toMatch(/^MISSED/);
    expect(growthVerdict(ci(1.02, 1.2), 0.1)).toMatch(/^undecided/);
    expect(growthVerdict(ci(0.7, 0.9), 0.1)).toMatch(/no growth/);
    expect(growthVerdict(ci(2.3, 2.34), 0.1, 2)).toMatch(/^no verdict/);
  });
});

/** cnilab-crr's server in a few lines: accept, read one byte, answer it, close. */
function crrServer(): Promise<Server> {
  const s = createServer((c) => {
    c.once('data', (b) => c.end(b.subarray(0, 1)));
    c.on('error', () => undefined);
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

describe('pod-ready storm: the load generator on loopback', () => {
  const target = (port: number) => ({ spec: {} as ClusterSpec, clientNetns: '', host: '127.0.0.1', port });

  it('keeps the offered rate and counts every completed connection in its bins', async () => {
    const srv = await crrServer();
    try {
      const storm = await startStorm(target((srv.address() as { port: number }).port), 200, 30);
      await new Promise((r) => setTimeout(r, 1000));
      const r = await storm.stop();
      expect(r.rate).toBe(200);
      expect(r.offered).toBeGreaterThan(150);
      expect(r.errors + r.timeouts + r.skipped).toBe(0);
      expect(r.completed).toBeGreaterThanOrEqual(r.offered - r.inflight - 1);
      expect(r.bins.reduce((a, b) => a + b, 0)).toBe(r.completed);
      expect(r.seconds).toBeLessThan(5); // it stopped on SIGTERM, not at its 30 s limit
    } finally {
      srv.close();
    }
  }, 20_000);

  it('counts failures against a closed port instead of completions', async () => {
    const srv = await crrServer();
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    const storm = await startStorm(target(port), 100, 30);
    await new Promise((r) => setTimeout(r, 500));
    const r = await storm.stop();
    expect(r.completed).toBe(0);
    expect(r.errors).toBeGreaterThan(20);
  }, 20_000);
});

describe('pod-ready storm: ratios of the cells', () => {
  it('pairs the cells round by round, so a drift between rounds does not widen the interval', async () => {
    const { readyRatios } = await import('./pod-ready-storm.js');
    type Split = import('./pod-ready-storm.js').ReadySplit;
    // Rounds drift from 30 to 120 ms; in every round the on-storm pods take 1.2× the off-storm ones.
    const cell = (factor: number) => Array.from({ length: 12 }, (_, i) => ({ readyMs: [0, 1, 2, 3].map((j) => factor * (30 + 8 * i + j)), eventsPerSec: 0, agentCpuPct: 0 }));
    const s: Split = { offered: 2000, stormAlone: {}, cells: { 'off-quiet': cell(1), 'off-storm': cell(1), 'on-quiet': cell(1), 'on-storm': cell(1.2), 'kernel-quiet': [], 'kernel-storm': [] } };
    const r = readyRatios(s).find((x) => x.name.startsWith('observer on / off, under'))!;
    expect(r.paired.ratio).toBeCloseTo(1.2, 5);
    expect(r.paired.hi - r.paired.lo).toBeLessThan(0.01);
    expect(r.ci.hi - r.ci.lo).toBeGreaterThan(0.3); // unpaired, the drift reads as noise
    expect(readyRatios(s).find((x) => x.name === 'storm / quiet, observer off')!.paired.ratio).toBeCloseTo(1, 5);
  });

  it("reads cnilab's storm growth against the kernel reference's, round by round", async () => {
    const { readyRatios, growthAgainstKernel, describeReadySplit } = await import('./pod-ready-storm.js');
    type Split = import('./pod-ready-storm.js').ReadySplit;
    // The machine drifts between rounds; a storm grows the kernel's pod set-up 1.3×, cnilab's with the
    // observer off 1.3× (the machine's share only) and on 1.3 × 1.2×.
    const cell = (factor: number) => Array.from({ length: 10 }, (_, i) => ({ readyMs: [0, 1, 2].map((j) => factor * (20 + 5 * i + j)), eventsPerSec: NaN, agentCpuPct: NaN, stormRate: 2000, storm: { errors: 0, timeouts: 0, skipped: 0, syn_retrans: 0, p50_us: 100, p99_us: 300, max_us: 900 } }));
    const s: Split = { offered: 2000, stormAlone: {}, cells: { 'off-quiet': cell(1), 'off-storm': cell(1.3), 'on-quiet': cell(1), 'on-storm': cell(1.56), 'kernel-quiet': cell(0.5), 'kernel-storm': cell(0.65) } };
    expect(readyRatios(s).find((x) => x.name.startsWith('storm / quiet, kernel'))!.paired.ratio).toBeCloseTo(1.3, 5);
    expect(growthAgainstKernel(s, 'off')!.ratio).toBeCloseTo(1, 5);
    expect(growthAgainstKernel(s, 'on')!.ratio).toBeCloseTo(1.2, 5);
    const text = describeReadySplit('t', s).join('\n');
    expect(text).toMatch(/storm growth, observer off \/ kernel's\s+paired by round ×1\.000 .*: met/);
    expect(text).toMatch(/storm growth, observer on \/ kernel's\s+paired by round ×1\.200 .*: MISSED/);
    expect(text).toMatch(/kernel-storm .* no agent/);
    // Without a kernel pair: no kernel ratio, no growth against it.
    const four: Split = { ...s, cells: { ...s.cells, 'kernel-quiet': [], 'kernel-storm': [] } };
    expect(growthAgainstKernel(four, 'off')).toBeUndefined();
    expect(readyRatios(four).map((r) => r.name)).not.toContain('storm / quiet, kernel (no cnilab)');
  });

  it("reads the storm's added milliseconds against the kernel's: a faster set-up given the same added time", async () => {
    const { growthAgainstKernel, growthMsAgainstKernel, describeReadySplit } = await import('./pod-ready-storm.js');
    type Split = import('./pod-ready-storm.js').ReadySplit;
    // cnilab's quiet set-up takes 30 ms, the kernel's 50; the storm adds 10 ms to the kernel's in every
    // round, 10 ms to cnilab's with the observer off and 14 ms with it on; the rounds drift.
    const cell = (base: number, added: number) => Array.from({ length: 10 }, (_, i) => ({ readyMs: [0, 1, 2].map((j) => base + 3 * i + added + j), eventsPerSec: NaN, agentCpuPct: NaN, stormRate: 2000, storm: { errors: 0, timeouts: 0, skipped: 0, syn_retrans: 0, p50_us: 100, p99_us: 300, max_us: 900 } }));
    const s: Split = { offered: 2000, stormAlone: {}, cells: { 'off-quiet': cell(30, 0), 'off-storm': cell(30, 10), 'on-quiet': cell(30, 0), 'on-storm': cell(30, 14), 'kernel-quiet': cell(50, 0), 'kernel-storm': cell(50, 10) } };
    expect(growthMsAgainstKernel(s, 'off')!.ratio).toBeCloseTo(0, 5);
    expect(growthMsAgainstKernel(s, 'on')!.ratio).toBeCloseTo(4, 5);
    // As ratios the same added time reads as more growth for the faster set-up.
    expect(growthAgainstKernel(s, 'off')!.ratio).toBeGreaterThan(1.05);
    const text = describeReadySplit('t', s).join('\n');
    // The bound: 10 % of the quiet p50 (31 + 3 × round, median of the rounds 44.5 ms).
    expect(text).toMatch(/storm's added ms, observer off − kernel's\s+paired by round \+0\.0 ms .*: met \(adds at most 0\.0 ms more than the kernel's at 95 %; bound 4\.[45] ms\)/);
    expect(text).toMatch(/storm's added ms, observer on − kernel's\s+paired by round \+4\.0 ms .*: met \(adds at most 4\.0 ms more/);
    expect(describeReadySplit('t', s, 0.05).join('\n')).toMatch(/observer on − kernel's\s+paired by round \+4\.0 ms .*: MISSED \(adds at least 4\.0 ms more than the kernel's at 95 %; bound 2\.2 ms\)/);
    const four: Split = { ...s, cells: { ...s.cells, 'kernel-quiet': [], 'kernel-storm': [] } };
    expect(growthMsAgainstKernel(four, 'on')).toBeUndefined();
  });
});
