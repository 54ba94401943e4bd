// A ratio of medians with a bootstrap confidence interval: how the service-scale benchmark says whether
// 10k services are "within 3 %" of 10 on a machine whose samples spread by ±30 %. A percentile bootstrap
// (resample each side with replacement, take the ratio of the resampled medians, read the 2.5 % and
// 97.5 % quantiles) assumes nothing about the shape of the noise; simple-statistics gives the quantiles,
// a seeded generator makes a rerun on the same samples print the same interval.
import { median, quantile } from 'simple-statistics';
import { mulberry32 } from '../lib/prng.js';
import type { Interval } from './observer-bench-stats.js';

export interface RatioCi {
  ratio: number;
  lo: number;
  hi: number;
  /** The interval lies inside [1 - bound, 1 + bound]. */
  within: (bound: number) => boolean;
  /** The interval lies wholly outside [1 - bound, 1 + bound]. */
  outside: (bound: number) => boolean;
}

function resample(xs: number[], next: () => number): number[] {
  return xs.map(() => xs[Math.floor(next() * xs.length)]!);
}

/** median(top) / median(base) with a 95 % (or `level`) percentile-bootstrap interval. */
export function ratioOfMediansCi(top: number[], base: number[], opts: { resamples?: number; level?: number; seed?: number } = {}): RatioCi {
  if (top.length < 2 || base.length < 2) throw new Error('ratioOfMediansCi: at least 2 samples a side');
  const next = mulberry32(opts.seed ?? 1);
  const n = opts.resamples ?? 4000;
  const level = opts.level ?? 0.95;
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(median(resample(top, next)) / median(resample(base, next)));
  const lo = quantile(ratios, (1 - level) / 2);
  const hi = quantile(ratios, 1 - (1 - level) / 2);
  return {
    ratio: median(top) / median(base),
    lo,
    hi,
    within: (b) => lo >= 1 - b && hi <= 1 + b,
    outside: (b) => hi < 1 - b || lo > 1 + b,
  };
}

/** "×1.012 (95 % CI 0.981–1.046)" and what it says about a ±bound goal. */
export function describeRatioCi(r: RatioCi, bound: number): string {
  const verdict = r.within(bound)
    ? `within ${bound * 100} %`
    : r.outside(bound)
      ? `NOT within ${bound * 100} %`
      : `undecided: the interval straddles ±${bound * 100} %`;
  return `×${r.ratio.toFixed(3)} (95 % CI ${r.lo.toFixed(3)}–${r.hi.toFixed(3)}; ${verdict})`;
}

/**
 * The count's effect with the clusters' own difference taken out: two clusters measured in pairs (a
 * sample of each, seconds apart), first both with the small count (calibration: what differs between
 * the two clusters whatever the count), then one grown to the large count. The effect is
 * median(top/base after) / median(top/base before); the interval resamples the pairs of each phase
 * independently (percentile bootstrap). With the calibration at ×1.000 this is the paired ratio itself.
 */
export function pairedContrastCi(
  after: { top: number[]; base: number[] },
  before: { top: number[]; base: number[] },
  opts: { resamples?: number; level?: number; seed?: number } = {},
): Interval {
  const ratios = (p: { top: number[]; base: number[] }, phase: string) => {
    if (p.top.length !== p.base.length) throw new Error(`pairedContrastCi: ${phase}: ${p.top.length} and ${p.base.length} samples do not pair`);
    if (p.top.length < 2) throw new Error(`pairedContrastCi: ${phase}: at least 2 pairs`);
    const r = p.top.map((t, i) => t / p.base[i]!);
    if (!r.every((x) => Number.isFinite(x) && x > 0)) throw new Error(`pairedContrastCi: ${phase}: a ratio is not finite and positive (a zero or missing sample)`);
    return r;
  };
  const ra = ratios(after, 'after');
  const rb = ratios(before, 'before');
  const next = mulberry32(opts.seed ?? 1);
  const n = opts.resamples ?? 4000;
  const level = opts.level ?? 0.95;
  const pick = (xs: number[]) => xs.map(() => xs[Math.floor(next() * xs.length)]!);
  const effects: number[] = [];
  for (let i = 0; i < n; i++) effects.push(median(pick(ra)) / median(pick(rb)));
  return { ratio: median(ra) / median(rb), lo: quantile(effects, (1 - level) / 2), hi: quantile(effects, 1 - (1 - level) / 2) };
}

/** What an interval says about a "within ±bound of ×1" goal: met (all of it inside), missed (all of it
 *  outside), or unresolved (it straddles a limit: more samples or a quieter machine would tell). */
export function boundVerdict(ci: Interval, bound: number): 'met' | 'missed' | 'unresolved' {
  if (ci.lo >= 1 - bound && ci.hi <= 1 + bound) return 'met';
  if (ci.hi < 1 - bound || ci.lo > 1 + bound) return 'missed';
  return 'unresolved';
}

/** "×1.004 (95 % CI 0.991–1.018, ±1.4 %): within 3 %: met". */
export function describeBound(ci: Interval, bound: number): string {
  const half = ((ci.hi - ci.lo) / 2) * 100;
  return `×${ci.ratio.toFixed(3)} (95 % CI ${ci.lo.toFixed(3)}–${ci.hi.toFixed(3)}, half-width ${half.toFixed(1)} %): within ${bound * 100} %: ${boundVerdict(ci, bound)}`;
}
