import { describe, expect, it } from 'vitest';
import { boundVerdict, describeBound, describeRatioCi, pairedContrastCi, ratioOfMediansCi } from './service-scale-stats.js';

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

describe('pairedContrastCi and boundVerdict', () => {
  // Pairs whose two sides drift together by ±40 % over the run: unpaired this is hopeless, paired it is tight.
  const drift = [1, 0.6, 1.4, 0.8, 1.2, 0.7, 1.3, 0.9, 1.1, 1, 0.65, 1.35];
  const wobble = [1.004, 0.996, 1.002, 0.998, 1.001, 0.999, 1.003, 0.997, 1, 1.002, 0.998, 1];
  it('takes the clusters’ own difference out and resolves a 1 % effect under ±40 % drift', () => {
    const before = { base: drift.map((d) => 1000 * d), top: drift.map((d, i) => 1000 * d * 1.05 * wobble[i]!) };
    const after = { base: drift.map((d) => 900 * d), top: drift.map((d, i) => 900 * d * 1.05 * 0.99 * wobble[(i + 3) % 12]!) };
    const ci = pairedContrastCi(after, before);
    expect(ci.ratio).toBeCloseTo(0.99, 2);
    expect(ci.lo).toBeLessThanOrEqual(0.99);
    expect(ci.hi).toBeGreaterThanOrEqual(0.985);
    expect(boundVerdict(ci, 0.03)).toBe('met');
    expect(describeBound(ci, 0.03)).toMatch(/within 3 %: met/);
    // The same data without the calibration would read the clusters' 5 % difference as the count's.
    expect(boundVerdict(pairedContrastCi(after, { base: [1, 1], top: [1, 1] }), 0.03)).toBe('missed');
  });
  it('a 10 % loss is missed; noise as wide as the bound is unresolved', () => {
    const before = { base: drift, top: drift };
    expect(boundVerdict(pairedContrastCi({ base: drift, top: drift.map((d) => d * 0.9) }, before), 0.03)).toBe('missed');
    const noisy = [1.1, 0.9, 1.08, 0.93, 1.05, 0.95, 1.1, 0.9];
    expect(boundVerdict(pairedContrastCi({ base: noisy.map(() => 1), top: noisy }, { base: [1, 1, 1], top: [1, 1, 1] }), 0.03)).toBe('unresolved');
  });
  it('refuses unpaired or zero samples, naming the phase', () => {
    expect(() => pairedContrastCi({ top: [1, 2], base: [1] }, { top: [1, 1], base: [1, 1] })).toThrow(/after: 2 and 1/);
    expect(() => pairedContrastCi({ top: [1, 1], base: [1, 1] }, { top: [1, 0], base: [1, 1] })).toThrow(/before: a ratio/);
  });
});
