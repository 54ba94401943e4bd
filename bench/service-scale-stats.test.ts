import { describe, expect, it } from 'vitest';
import { describeRatioCi, ratioOfMediansCi } from './service-scale-stats.js';

describe('ratioOfMediansCi', () => {
  it('a tight ratio inside the bound is "within"; the same ratio from noisy samples is undecided', () => {
    const base = [100, 101, 99, 100, 100.5, 99.5, 100, 100.2];
    const tight = ratioOfMediansCi(base.map((x) => x * 1.01), base);
    expect(tight.ratio).toBeCloseTo(1.01, 5);
    expect(tight.lo).toBeLessThanOrEqual(1.01);
    expect(tight.hi).toBeGreaterThanOrEqual(1.01);
    expect(tight.within(0.03)).toBe(true);
    const noisy = [60, 140, 80, 120, 100, 70, 130, 101];
    const wide = ratioOfMediansCi(noisy.map((x) => x * 1.01), noisy);
    expect(wide.within(0.03)).toBe(false);
    expect(wide.outside(0.03)).toBe(false);
    expect(describeRatioCi(wide, 0.03)).toMatch(/undecided/);
  });
  it('a clear 30 % loss is "NOT within", and the same seed gives the same interval', () => {
    const base = [100, 102, 98, 101, 99, 100];
    const a = ratioOfMediansCi(base.map((x) => x * 0.7), base, { seed: 7 });
    expect(a.outside(0.03)).toBe(true);
    expect(describeRatioCi(a, 0.03)).toMatch(/NOT within/);
    const b = ratioOfMediansCi(base.map((x) => x * 0.7), base, { seed: 7 });
    expect([b.lo, b.hi]).toEqual([a.lo, a.hi]);
  });
  it('refuses fewer than 2 samples a side', () => {
    expect(() => ratioOfMediansCi([1], [1, 2])).toThrow(/2 samples/);
  });
});
