// A synthetic performance result for unit tests and renderer previews: deterministic samples for
// every configuration, test and path, with a knob to slow one metric down. Not measured data.
import { aggregate, evaluateTargets, ratios } from './aggregate.js';
import { PATHS, PERF_CONFIG_NAMES, TESTS, type PerfConfiguration, type PerfResult, type PerfSample, type Quantity, type TestKind } from '../../reports/performance-model.js';

const BASE: Record<TestKind, Partial<Record<Quantity, number>>> = {
  'tcp-1': { throughput: 10e9, retransmits: 10, cpuPerGB: 1.5 },
  'tcp-4': { throughput: 12e9, retransmits: 20, cpuPerGB: 1.4 },
  udp: { throughput: 0.9e9, loss: 1, cpuPerGB: 8 },
  rr: { p50: 12, p90: 15, p99: 40, tps: 40000 },
  crr: { rate: 5000 },
  http: { rps: 8000, p50: 450, p90: 700, p99: 1500 },
};

export interface FixtureOptions {
  samples?: number;
  /** Multiply one configuration's metric by a factor, e.g. { 'baseline:tcp-1.other.throughput': 0.5 }. */
  scale?: Record<string, number>;
  unavailable?: Record<string, string>;
  /** Per-configuration factor on every value (a datapath that is uniformly slower). */
  configFactor?: Record<string, number>;
}

export function fixtureResult(o: FixtureOptions = {}): PerfResult {
  const n = o.samples ?? 5;
  const configurations: PerfConfiguration[] = PERF_CONFIG_NAMES.map((name) => ({
    name,
    cni: name.startsWith('cnilab') ? 'cnilab' : name === 'reference-bridge' ? 'reference-bridge' : 'kernel',
    routing: name.endsWith('native') || name === 'baseline' || name === 'reference-bridge' ? 'native' : 'tunnel',
    description: `fixture ${name}`,
    clusterName: `pf-${name}`,
    ...(o.unavailable?.[name] ? { status: 'unavailable' as const, reason: o.unavailable[name] } : { status: 'ok' as const }),
  }));
  const samples: PerfSample[] = [];
  let t = Date.parse('2026-01-01T00:00:00Z');
  for (let round = 0; round < n; round++) {
    for (const test of TESTS) {
      for (const path of PATHS) {
        for (const c of configurations) {
          if (c.status !== 'ok') continue;
          const values: Partial<Record<Quantity, number>> = {};
          for (const [q, v] of Object.entries(BASE[test]) as Array<[Quantity, number]>) {
            const k = `${c.name}:${test}.${path}.${q}`;
            // ±2 % deterministic jitter around the value, so spreads are not zero.
            values[q] = v * (o.configFactor?.[c.name] ?? 1) * (o.scale?.[k] ?? 1) * (1 + 0.02 * Math.sin(round * 7 + q.length));
          }
          samples.push({ config: c.name, round, warmup: false, test, path, startedAt: new Date(t).toISOString(), startMs: t, durationMs: 1000, values });
          t += 1000;
        }
      }
    }
  }
  const metrics = aggregate(samples);
  return {
    schemaVersion: 1,
    kind: 'performance',
    runId: 'fixture',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:10:00.000Z',
    durationMs: 600_000,
    environment: { kernel: '6.18.0', cpuModel: 'Fixture CPU', cpuCount: 2, memoryBytes: 24 * 2 ** 30, nodeVersion: 'v20', cnilabVersion: '0.1.0', hostname: 'fixture', platform: 'linux/x64', tools: { iperf3: 'iperf 3.12' }, date: '2026-01-01T00:00:00.000Z' },
    parameters: { samples: n, durationSec: 2, latencyDurationSec: 1, udpBitrate: '1G', warmup: { rounds: 1, tests: [...TESTS], durationSec: 1 }, quick: false, configs: [...PERF_CONFIG_NAMES], tests: [...TESTS], order: 'interleaved-rotating' },
    configurations,
    samples,
    metrics,
    ratios: ratios(metrics),
    targets: evaluateTargets(metrics, configurations),
  };
}
