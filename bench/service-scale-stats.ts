// A ratio of medians with a bootstrap confidence interval: how the service-scale benchmark says whether
// 10k services are "within 3 %" of 10 on a machine whose samples spread by ±30 %. A percentile bootstrap
// (resample each side with replacement, take the ratio of the resampled medians, read the 2.5 % and
// 97.5 % quantiles) assumes nothing about the shape of the noise; simple-statistics gives the quantiles,
// a seeded generator makes a rerun on the same samples print the same interval.
import { median, quantile } from 'simple-statistics';
import { mulberry32 } from '../lib/prng.js';

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
