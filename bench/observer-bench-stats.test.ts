import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../lib/prng.js';
import { atLeastVerdict, pairedDifferenceCi, pairedRatioCi } from './observer-bench-stats.js';

describe('observer bench: paired ratio intervals', () => {
  it('cancels a drift shared by both sides that an unpaired comparison would call noise', () => {
    const next = mulberry32(7);
    // The machine drifts from 3k to 9k connections/s over the rounds; "top" is 10 % slower each round.
    const base = Array.from({ length: 12 }, (_, i) => 3000 + 500 * i + 50 * next());
    const top = base.map((b) => 0.9 * b * (1 + 0.01 * (next() - 0.5)));
    const ci = pairedRatioCi(top, base);
    expect(ci.ratio).toBeCloseTo(0.9, 2);
    expect(ci.lo).toBeGreaterThan(0.88);
    expect(ci.hi).toBeLessThan(0.92);
    expect(atLeastVerdict(ci, 0.95)).toBe('MISSED');
  });

  it('is reproducible with its seed and reads goals from the interval', () => {
    const a = [1, 1.1, 0.9, 1.05, 0.97];
    const b = [1, 1, 1, 1, 1];
    expect(pairedRatioCi(a, b)).toEqual(pairedRatioCi(a, b));
    expect(atLeastVerdict({ ratio: 1, lo: 0.96, hi: 1.04 }, 0.95)).toBe('met');
    expect(atLeastVerdict({ ratio: 0.97, lo: 0.9, hi: 1.04 }, 0.95)).toBe('undecided');
  });

  it('refuses samples that do not pair', () => {
    expect(() => pairedRatioCi([1, 2], [1])).toThrow(/pair/);
    expect(() => pairedRatioCi([1], [1])).toThrow(/2 pairs/);
    expect(() => pairedRatioCi([1, 2], [0, 1])).toThrow(/finite/);
    expect(() => pairedDifferenceCi([1, 2], [1])).toThrow(/pairedDifferenceCi: .*pair/);
    expect(() => pairedDifferenceCi([1, NaN], [1, 1])).toThrow(/finite/);
  });

  it('differences: a drift shared by both sides cancels, the added amount stays', () => {
    const next = mulberry32(3);
    // Rounds drift from 30 to 85 ms; "top" takes 4 ms more each round, give or take 0.5.
    const base = Array.from({ length: 12 }, (_, i) => 30 + 5 * i + next());
    const top = base.map((b) => b + 4 + (next() - 0.5));
    const ci = pairedDifferenceCi(top, base);
    expect(ci.ratio).toBeCloseTo(4, 0);
    expect(ci.lo).toBeGreaterThan(3.4);
    expect(ci.hi).toBeLessThan(4.6);
  });
});

describe('observer bench: too few rounds', () => {
  it('draws no verdict from a handful of pairs, whose bootstrap interval is far too narrow', () => {
    expect(atLeastVerdict({ ratio: 0.5, lo: 0.49, hi: 0.51 }, 0.95, 2)).toMatch(/^no verdict/);
    expect(atLeastVerdict({ ratio: 0.5, lo: 0.49, hi: 0.51 }, 0.95, 8)).toBe('MISSED');
  });
});
