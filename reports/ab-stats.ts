// The statistics of the A/B gate, kept pure so every verdict is unit-tested: each metric's head/base
// ratio with a distribution-free confidence interval over the samples, the verdict that interval
// allows against a threshold, and how many samples a given difference needs at the measured noise.
//
// Why not a bootstrap: with the 5 samples a benchmark affords here, a bootstrap of medians has only a
// handful of distinct values and its intervals come out too narrow (an A/A run would "improve"). The
// Hodges-Lehmann interval is exact at any n: on log values (so the shift is a ratio),
//   paired (the A/B run: base and head sampled back to back each round, so a burst of load from the
//     machine's other tenants hits both) — Walsh averages of the per-round log ratios, bounds from the
//     Wilcoxon signed-rank distribution;
//   unpaired (two perf.json files of two runs, or too few pairs) — all pairwise differences of logs,
//     bounds from the Mann-Whitney distribution.
// Both give the confidence actually achieved; with too few samples for the requested one the interval
// is the widest there is and says so (and the gate calls it inconclusive).
import { median, probit, sampleStandardDeviation } from 'simple-statistics';
import type { Direction } from './performance-model.js';

export interface RatioInterval {
  /** head / base: the Hodges-Lehmann estimate of the ratio. */
  ratio: number;
  lo: number;
  hi: number;
  /** The confidence asked for, and the one the sample counts allow (≥ it, or less when too few). */
  confidence: number;
  achieved: number;
  n: number;
  paired: boolean;
  method: 'wilcoxon-signed-rank' | 'mann-whitney';
}

export interface IntervalOptions {
  paired: boolean;
  confidence?: number;
}

/** Null distribution counts of the signed-rank statistic for n pairs: counts[t] = #subsets of 1..n summing to t. */
function signedRankCounts(n: number): number[] {
  const max = (n * (n + 1)) / 2;
  let c = new Array<number>(max + 1).fill(0);
  c[0] = 1;
  for (let k = 1; k <= n; k++) {
    const next = c.slice();
    for (let t = k; t <= max; t++) next[t]! += c[t - k]!;
    c = next;
  }
  return c;
}

/** Null distribution counts of the Mann-Whitney U for sizes n, m: counts[u] = #arrangements with U = u. */
function mannWhitneyCounts(n: number, m: number): number[] {
  // f(i, j, u): ways with i of one sample and j of the other; built up in a table over i and j.
  const max = n * m;
  const table: number[][][] = Array.from({ length: n + 1 }, () => Array.from({ length: m + 1 }, () => new Array<number>(max + 1).fill(0)));
  for (let i = 0; i <= n; i++) for (let j = 0; j <= m; j++) {
    if (i === 0 || j === 0) {
      table[i]![j]![0] = 1;
      continue;
    }
    for (let u = 0; u <= i * j; u++) table[i]![j]![u] = (u >= j ? table[i - 1]![j]![u - j]! : 0) + table[i]![j - 1]![u]!;
  }
  return table[n]![m]!;
}

/** The k-th smallest and k-th largest values bound an interval of confidence 1 − 2·P(stat ≤ k − 1).
 *  The largest k whose tail stays ≤ α/2, and the confidence it gives; k = 1 (the extreme values) when
 *  even that tail is too big — then the confidence achieved is below the one asked for. */
function orderIndex(counts: number[], alpha: number): { k: number; achieved: number } {
  const total = counts.reduce((a, b) => a + b, 0);
  const tail = (k: number) => counts.slice(0, k).reduce((a, b) => a + b, 0) / total;
  let k = 1;
  while (k + 1 <= counts.length && tail(k + 1) <= alpha / 2) k++;
  return { k, achieved: 1 - 2 * tail(k) };
}

/** Exact Hodges-Lehmann interval of head/base. Throws on fewer than 2 usable values per side. */
export function ratioInterval(base: number[], head: number[], o: IntervalOptions): RatioInterval {
  const confidence = o.confidence ?? 0.95;
  const alpha = 1 - confidence;
  const logs = (x: number[]) => x.filter((v) => Number.isFinite(v) && v > 0).map(Math.log);
  if (o.paired) {
    if (base.length !== head.length) throw new Error(`paired samples need equal counts (base ${base.length}, head ${head.length})`);
    const d = base.map((b, i) => Math.log(head[i]! / b)).filter(Number.isFinite);
    if (d.length < 2) throw new Error(`${d.length} usable pair(s): an interval needs 2`);
    const walsh: number[] = [];
    for (let i = 0; i < d.length; i++) for (let j = i; j < d.length; j++) walsh.push((d[i]! + d[j]!) / 2);
    walsh.sort((a, b) => a - b);
    const { k, achieved } = orderIndex(signedRankCounts(d.length), alpha);
    // Too few pairs for the confidence asked: the unpaired interval may reach it (5 + 5 samples do).
    if (achieved < confidence) {
      const un = ratioInterval(base, head, { paired: false, confidence });
      if (un.achieved >= confidence) return un;
    }
    return { ratio: Math.exp(median(walsh)), lo: Math.exp(walsh[k - 1]!), hi: Math.exp(walsh[walsh.length - k]!), confidence, achieved, n: d.length, paired: true, method: 'wilcoxon-signed-rank' };
  }
  const b = logs(base);
  const h = logs(head);
  if (b.length < 2 || h.length < 2) throw new Error(`${Math.min(b.length, h.length)} usable sample(s) on one side: an interval needs 2`);
  const diffs: number[] = [];
  for (const x of h) for (const y of b) diffs.push(x - y);
  diffs.sort((a, c) => a - c);
  const { k, achieved } = orderIndex(mannWhitneyCounts(h.length, b.length), alpha);
  return { ratio: Math.exp(median(diffs)), lo: Math.exp(diffs[k - 1]!), hi: Math.exp(diffs[diffs.length - k]!), confidence, achieved, n: Math.min(b.length, h.length), paired: false, method: 'mann-whitney' };
}

/**
 * regressed: the whole interval is worse than the threshold (the only verdict that fails the gate).
 * improved: the whole interval is better than the threshold.
 * no-change: the whole interval lies within ±threshold.
 * inconclusive: the interval reaches across a threshold: the noise is larger than the difference the
 * gate is asked to see, and more samples (see samplesNeeded) are the answer, not a guess.
 */
export type GateVerdict = 'regressed' | 'improved' | 'no-change' | 'inconclusive';

/** The change in the bad direction, as a fraction: +0.1 = 10 % worse. */
export function worseBy(ratio: number, direction: Direction): number {
  return direction === 'higher-is-better' ? 1 - ratio : ratio - 1;
}

export function gateVerdict(ci: Pick<RatioInterval, 'lo' | 'hi'> & Partial<Pick<RatioInterval, 'achieved' | 'confidence'>>, threshold: number, direction: Direction): GateVerdict {
  // An interval of less confidence than asked for (too few samples) supports no verdict.
  if (ci.achieved !== undefined && ci.confidence !== undefined && ci.achieved < ci.confidence) return 'inconclusive';
  const a = worseBy(ci.lo, direction);
  const b = worseBy(ci.hi, direction);
  const [least, most] = a < b ? [a, b] : [b, a];
  if (least > threshold) return 'regressed';
  if (most < -threshold) return 'improved';
  if (least >= -threshold && most <= threshold) return 'no-change';
  return 'inconclusive';
}

/** Half the interval's width as a fraction of the ratio: the smallest change this run could resolve. */
export function halfWidth(ci: Pick<RatioInterval, 'lo' | 'hi' | 'ratio'>): number {
  return (ci.hi - ci.lo) / 2 / ci.ratio;
}

/** The spread of log ratios (paired) or of each side's logs (unpaired, pooled): the relative noise of
 *  one sample. */
export function relativeNoise(base: number[], head: number[], paired: boolean): number {
  if (paired) {
    const lr = base.map((b, i) => Math.log(head[i]! / b)).filter(Number.isFinite);
    return lr.length >= 2 ? sampleStandardDeviation(lr) : NaN;
  }
  const sd = (x: number[]) => {
    const l = x.filter((v) => v > 0).map(Math.log);
    return l.length >= 2 ? sampleStandardDeviation(l) : NaN;
  };
  return Math.sqrt((sd(base) ** 2 + sd(head) ** 2) / 2);
}

/**
 * Samples (rounds) needed to tell a relative difference `delta` from no change with a two-sided test at
 * `alpha` and the given power, at the measured relative noise (normal approximation on log values:
 * n = ((z₁₋α/₂ + z_power) · σ / δ)², twice that per side when unpaired).
 */
export function samplesNeeded(noise: number, delta: number, o: { paired: boolean; alpha?: number; power?: number } = { paired: true }): number {
  if (!Number.isFinite(noise) || noise <= 0) return 2;
  const z = probit(1 - (o.alpha ?? 0.05) / 2) + probit(o.power ?? 0.8);
  const n = ((z * noise) / Math.log(1 + delta)) ** 2 * (o.paired ? 1 : 2);
  return Math.max(2, Math.ceil(n));
}
