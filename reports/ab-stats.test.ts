import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../lib/prng.js';
import { gateVerdict, halfWidth, ratioInterval, relativeNoise, samplesNeeded } from './ab-stats.js';

/** n samples around `center` with relative noise `sd` (seeded, reproducible). */
function noisy(center: number, sd: number, n: number, seed: number): number[] {
  const r = mulberry32(seed); // seeded, so the synthetic samples are the same every run
  return Array.from({ length: n }, () => {
    // Box-Muller
    const z = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    return center * Math.exp(sd * z);
  });
}

describe('ratio intervals and the gate verdict', () => {
  it('A/A: the same distribution twice comes out "no change" at a threshold above the noise', () => {
    const base = noisy(10e9, 0.02, 10, 1);
    const head = noisy(10e9, 0.02, 10, 2);
    const ci = ratioInterval(base, head, { paired: true });
    expect(ci.lo).toBeLessThan(1);
    expect(ci.hi).toBeGreaterThan(1);
    expect(gateVerdict(ci, 0.05, 'higher-is-better')).toBe('no-change');
  });
  it('A/B: a 15 % slower head with 2 % noise is a regression, with the ratio inside the interval', () => {
    const base = noisy(10e9, 0.02, 8, 3);
    const head = noisy(8.5e9, 0.02, 8, 4);
    for (const paired of [true, false]) {
      const ci = ratioInterval(base, head, { paired });
      expect(ci.lo).toBeLessThanOrEqual(ci.ratio);
      expect(ci.hi).toBeGreaterThanOrEqual(ci.ratio);
      expect(ci.hi).toBeLessThan(0.95);
      expect(gateVerdict(ci, 0.05, 'higher-is-better')).toBe('regressed');
    }
  });
  it('uses the direction: latency up is worse, throughput up is better', () => {
    expect(gateVerdict({ lo: 1.2, hi: 1.3 }, 0.05, 'lower-is-better')).toBe('regressed');
    expect(gateVerdict({ lo: 1.2, hi: 1.3 }, 0.05, 'higher-is-better')).toBe('improved');
    expect(gateVerdict({ lo: 0.7, hi: 0.8 }, 0.05, 'lower-is-better')).toBe('improved');
  });
  it('noise wider than the threshold is inconclusive, even when the point estimate looks bad', () => {
    expect(gateVerdict({ lo: 0.8, hi: 1.05 }, 0.05, 'higher-is-better')).toBe('inconclusive');
    const base = noisy(10e9, 0.2, 4, 5);
    const head = noisy(9e9, 0.2, 4, 6);
    const ci = ratioInterval(base, head, { paired: true });
    expect(halfWidth(ci)).toBeGreaterThan(0.05);
    expect(gateVerdict(ci, 0.05, 'higher-is-better')).toBe('inconclusive');
  });
  it('refuses too few samples and mismatched pairs', () => {
    expect(() => ratioInterval([1], [1], { paired: true })).toThrow(/2/);
    expect(() => ratioInterval([1, 2], [1], { paired: true })).toThrow(/equal counts/);
    expect(() => ratioInterval([1, 0], [1, 2], { paired: false })).toThrow(/usable/);
  });
  it('A/A over many seeds: the 95 % interval holds 1 about 95 % of the time (exact coverage)', () => {
    let covered = 0;
    for (let s = 0; s < 400; s++) {
      const ci = ratioInterval(noisy(1, 0.05, 5, 1000 + 2 * s), noisy(1, 0.05, 5, 1001 + 2 * s), { paired: true });
      if (ci.lo <= 1 && ci.hi >= 1) covered++;
    }
    expect(covered / 400).toBeGreaterThan(0.9);
  });
  it('too few samples for the confidence asked: the widest interval, marked, and inconclusive', () => {
    const ci = ratioInterval([1, 1.1], [2, 2.1], { paired: false });
    expect(ci.achieved).toBeLessThan(0.95);
    expect(gateVerdict(ci, 0.05, 'higher-is-better')).toBe('inconclusive');
    // 5 + 5 samples reach 95 % with Mann-Whitney; 5 pairs alone would not with the signed-rank test.
    const five = ratioInterval([1, 1.01, 0.99, 1.02, 0.98], [0.8, 0.81, 0.79, 0.82, 0.78], { paired: true });
    expect(five.achieved).toBeGreaterThanOrEqual(0.95);
    expect(five.method).toBe('mann-whitney');
    expect(gateVerdict(five, 0.05, 'higher-is-better')).toBe('regressed');
  });
});

describe('samples needed', () => {
  it('grows with the noise and shrinks with the difference', () => {
    expect(samplesNeeded(0.02, 0.05)).toBeLessThan(samplesNeeded(0.02, 0.02));
    expect(samplesNeeded(0.05, 0.05)).toBeGreaterThan(samplesNeeded(0.02, 0.05));
    // σ = δ: (1.96 + 0.84)² ≈ 7.85 → 8 pairs; unpaired needs twice as many per side.
    expect(samplesNeeded(Math.log(1.05), 0.05)).toBe(8);
    expect(samplesNeeded(Math.log(1.05), 0.05, { paired: false })).toBe(16);
  });
  it('measures relative noise on log ratios', () => {
    expect(relativeNoise([1, 1, 1], [1, 1, 1], true)).toBe(0);
    expect(relativeNoise(noisy(1, 0.03, 200, 9), noisy(1, 0.03, 200, 10), false)).toBeCloseTo(0.03, 2);
  });
});
