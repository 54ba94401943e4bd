// Intervals for the observer benchmark's ratios. The rate samples of the configurations are taken in
// rounds (one sample of each configuration per round, the order rotating), so sample i of "on" and
// sample i of "off" ran seconds apart: their ratio cancels the machine's slow drift (other jobs coming
// and going), which an unpaired comparison of the two medians counts as noise. The paired interval
// resamples the rounds' ratios (percentile bootstrap of their median); ratioOfMediansCi
// (service-scale-stats.ts) stays the unpaired one. simple-statistics gives median and quantiles, a
// seeded generator makes a rerun over the same samples print the same interval.
import { median, quantile } from 'simple-statistics';
import { mulberry32 } from '../lib/prng.js';

export interface Interval {
  ratio: number;
  lo: number;
  hi: number;
}

type BootstrapOpts = { resamples?: number; level?: number; seed?: number };

/** The median of per-pair values with a 95 % (or `level`) percentile-bootstrap interval over the pairs. */
function pairedBootstrap(name: string, top: number[], base: number[], of: (t: number, b: number) => number, opts: BootstrapOpts): Interval {
  if (top.length !== base.length) throw new Error(`${name}: ${top.length} and ${base.length} samples do not pair`);
  if (top.length < 2) throw new Error(`${name}: at least 2 pairs`);
  const values = top.map((t, i) => of(t, base[i]!));
  if (!values.every(Number.isFinite)) throw new Error(`${name}: a pair's value is not finite (a zero or missing sample)`);
  const next = mulberry32(opts.seed ?? 1);
  const n = opts.resamples ?? 4000;
  const level = opts.level ?? 0.95;
  const medians: number[] = [];
  for (let i = 0; i < n; i++) medians.push(median(values.map(() => values[Math.floor(next() * values.length)]!)));
  return { ratio: median(values), lo: quantile(medians, (1 - level) / 2), hi: quantile(medians, 1 - (1 - level) / 2) };
}

/** Median of top[i] / base[i] with a 95 % (or `level`) percentile-bootstrap interval over the pairs. */
export function pairedRatioCi(top: number[], base: number[], opts: BootstrapOpts = {}): Interval {
  return pairedBootstrap('pairedRatioCi', top, base, (t, b) => t / b, opts);
}

/** Median of top[i] − base[i] with its interval (`ratio` holds the difference): for quantities that
 *  add rather than scale. */
export function pairedDifferenceCi(top: number[], base: number[], opts: BootstrapOpts = {}): Interval {
  return pairedBootstrap('pairedDifferenceCi', top, base, (t, b) => t - b, opts);
}

/** A bootstrap over a handful of pairs gives an interval far too narrow (two pairs have only three
 *  distinct resampled medians): below this many, intervals are printed but no verdict is drawn. */
export const MIN_PAIRS_FOR_VERDICT = 8;

/** A "≥ goal" target read against an interval: met when all of it is at or above the goal, missed when
 *  all of it is below, undecided when it straddles the goal (more samples would tell). */
export function atLeastVerdict(ci: Interval, goal: number, pairs = Infinity): 'met' | 'MISSED' | 'undecided' | 'no verdict (fewer than 8 rounds)' {
  if (pairs < MIN_PAIRS_FOR_VERDICT) return 'no verdict (fewer than 8 rounds)';
  if (ci.lo >= goal) return 'met';
  if (ci.hi < goal) return 'MISSED';
  return 'undecided';
}

export function describeInterval(ci: Interval, digits = 3): string {
  return `×${ci.ratio.toFixed(digits)} (95 % CI ${ci.lo.toFixed(digits)}–${ci.hi.toFixed(digits)})`;
}
