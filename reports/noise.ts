// The noise floor of a performance run, printed with its numbers: per configuration, the typical
// relative spread of one sample (sd of the log values, median over the throughput, latency and rate
// metrics), and how many samples a side two configurations of such a run need for a 5 % difference to
// show (Mann-Whitney-like, 95 %, power 0.8). A difference smaller than the floor is not a finding.
import { median } from 'simple-statistics';
import { relativeNoise, samplesNeeded } from './ab-stats.js';
import type { PerfResult, Quantity } from './performance-model.js';

/** Quantities whose spread is meaningful as a ratio (counts like retransmits and loss are not). */
const RATIO_QUANTITIES: Quantity[] = ['throughput', 'p50', 'p90', 'p99', 'tps', 'rate'];

export interface ConfigNoise {
  config: string;
  /** Median relative sd of one sample. */
  noise: number;
  /** Samples per side for a 5 % difference between two configurations. */
  samplesFor5pct: number;
  metrics: number;
}

export function noiseByConfig(r: PerfResult): ConfigNoise[] {
  const out: ConfigNoise[] = [];
  for (const c of r.configurations) {
    const per = new Map<string, number[]>();
    for (const s of r.samples) {
      if (s.warmup || s.error || s.config !== c.name) continue;
      for (const q of RATIO_QUANTITIES) {
        const v = s.values?.[q];
        if (typeof v === 'number' && v > 0) per.set(`${s.test}.${s.path}.${q}`, [...(per.get(`${s.test}.${s.path}.${q}`) ?? []), v]);
      }
    }
    const sds = [...per.values()].filter((v) => v.length >= 2).map((v) => relativeNoise(v, v, false)).filter(Number.isFinite);
    if (!sds.length) continue;
    const noise = median(sds);
    out.push({ config: c.name, noise, samplesFor5pct: samplesNeeded(noise, 0.05, { paired: false }), metrics: sds.length });
  }
  return out;
}

export function noiseLines(r: PerfResult): string[] {
  const n = noiseByConfig(r);
  if (!n.length) return ['noise floor: not measurable (fewer than 2 samples per metric)'];
  return [
    `noise floor (median relative sd of one sample over ${n[0]!.metrics} metrics; samples a side for a 5 % difference to show):`,
    ...n.map((x) => `  ${x.config.padEnd(17)} ±${(x.noise * 100).toFixed(1)}%   n ≥ ${x.samplesFor5pct}`),
    `pinning: ${r.parameters.cpuPinning ? `load generators on CPU ${r.parameters.cpuPinning.client}, servers on CPU ${r.parameters.cpuPinning.server} (taskset)` : 'none'}`,
  ];
}
