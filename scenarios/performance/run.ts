// The performance run: every configuration's cluster up at once (they live in separate namespaces, so
// overlapping addresses are fine), then rounds of samples in which, for each test and path, every
// configuration is sampled back to back. Interleaving makes them share the machine's noise, so the
// ratios mean something on a noisy 2-core host; the order rotates each round so nobody always goes
// first. A configuration that cannot come up is recorded as unavailable with its reason.
import { randomUUID } from 'node:crypto';
import {
  PATHS,
  PERF_KIND,
  PERF_SCHEMA_VERSION,
  TESTS,
  type PerfConfigName,
  type PerfConfiguration,
  type PerfParameters,
  type PerfResult,
  type PerfSample,
  type TestKind,
} from '../../reports/performance-model.js';
import { aggregate, evaluateTargets, ratios } from './aggregate.js';
import { PERF_CONFIGS, type PerfConfigDef } from './configs.js';
import { benchCpus } from '../../harness/traffic/cpu-pin.js';
import { captureEnvironment } from './environment.js';
import { measure, type MeasureParams } from './measure.js';
import { bringUp, tearDown, type ConfigHandle } from './workload.js';

export interface PerfRunOptions {
  configs: PerfConfigName[];
  /** Configurations to run instead of PERF_CONFIGS[configs] (the A/B run's base and head). */
  defs?: PerfConfigDef[];
  samples: number;
  durationSec: number;
  latencyDurationSec: number;
  udpBitrate: string;
  quick: boolean;
  tests: TestKind[];
  /** Cluster names are `<prefix><short name>`, e.g. pf-base. */
  clusterPrefix: string;
  onProgress?: (msg: string) => void;
  /** Called once every cluster is up, before the warm-up (tests use it to slow a datapath down). */
  afterSetup?: (handles: ReadonlyMap<string, ConfigHandle>) => Promise<void>;
  /** Aborting stops at the next sample; clusters are still torn down and a partial result returned. */
  signal?: AbortSignal;
}

/**
 * Defaults. The full run is 5 configurations × 2 paths × 5 tests × 5 samples = 250 samples, so to fit
 * ~10 minutes on this machine a throughput sample lasts 2 s and a latency/CRR one 1 s (sockperf's
 * 1 s still yields ~20k round trips). --quick: 2 samples of 1 s and a tcp-1-only warm-up (~1 min for 2
 * configurations): enough to see a 20 % change, not a 2 % one.
 */
export function defaultRunOptions(quick = false): Omit<PerfRunOptions, 'configs'> {
  return {
    samples: quick ? 2 : 5,
    durationSec: quick ? 1 : 2,
    latencyDurationSec: 1,
    udpBitrate: '1G',
    quick,
    tests: [...TESTS],
    clusterPrefix: 'pf-',
  };
}

function warmupPlan(o: PerfRunOptions): PerfParameters['warmup'] {
  // Warm-up takes first-run costs (neighbour resolution, binaries into page cache, TCP metrics) out
  // of the first measured sample. One round; quick runs warm up with tcp-1 only.
  return { rounds: 1, tests: o.quick ? o.tests.filter((t) => t === 'tcp-1').slice(0, 1) : [...o.tests], durationSec: 1 };
}

function firstLine(e: unknown): string {
  return ((e as Error)?.message ?? String(e)).split('\n')[0]!;
}

export async function runPerformance(o: PerfRunOptions): Promise<PerfResult> {
  const progress = o.onProgress ?? (() => undefined);
  const t0 = Date.now();
  const startedAt = new Date(t0).toISOString();
  const environment = await captureEnvironment();
  const warmup = warmupPlan(o);
  const defs = o.defs ?? o.configs.map((name) => PERF_CONFIGS[name]);
  const parameters: PerfParameters = {
    samples: o.samples,
    durationSec: o.durationSec,
    latencyDurationSec: o.latencyDurationSec,
    udpBitrate: o.udpBitrate,
    warmup,
    quick: o.quick,
    configs: defs.map((d) => d.name),
    tests: [...o.tests],
    order: 'interleaved-rotating',
    ...(benchCpus() ? { cpuPinning: benchCpus()! } : {}),
  };
  const defOf = new Map(defs.map((d) => [d.name, d]));
  const configurations: PerfConfiguration[] = defs.map((d) => {
    return { name: d.name, cni: d.cni, routing: d.routing, description: d.description, clusterName: `${o.clusterPrefix}${d.short}`, status: 'ok' };
  });
  const conf = (name: string) => configurations.find((c) => c.name === name)!;
  const handles = new Map<string, ConfigHandle>();
  const samples: PerfSample[] = [];
  const aborted = () => o.signal?.aborted === true;
  const mp: MeasureParams = { durationSec: o.durationSec, latencyDurationSec: o.latencyDurationSec, udpBitrate: o.udpBitrate };

  const sample = async (h: ConfigHandle, test: TestKind, path: (typeof PATHS)[number], round: number, params: MeasureParams) => {
    const startMs = Date.now();
    const s: PerfSample = { config: h.def.name, round, warmup: round < 0, test, path, startedAt: new Date(startMs).toISOString(), startMs, durationMs: 0 };
    try {
      s.values = await measure(h, test, path, params);
    } catch (e) {
      s.error = firstLine(e);
    }
    s.durationMs = Date.now() - startMs;
    samples.push(s);
    return s;
  };

  try {
    progress(`bringing up ${configurations.length} clusters: ${configurations.map((c) => c.clusterName).join(', ')}`);
    // One after another: createCluster's preflight probe names its scratch netns after the process
    // id, so two creations in one process at once collide (and the 2 cores gain nothing from it).
    for (const c of configurations) {
      if (aborted()) break;
      try {
        const h = await bringUp(defOf.get(c.name)!, c.clusterName, { timeoutMs: 90_000 });
        handles.set(c.name, h);
        c.setupMs = h.setupMs;
        c.podMtu = h.spec.podMtu;
        c.pods = Object.fromEntries(Object.entries(h.pods).map(([role, p]) => [role, { ip: p.ip, node: p.node }]));
      } catch (e) {
        c.status = 'unavailable';
        c.reason = `cluster did not come up: ${firstLine(e)}`;
        progress(`${c.name}: unavailable (${c.reason})`);
      }
    }
    if (o.afterSetup && !aborted()) await o.afterSetup(handles);

    // Warm-up (discarded). A configuration whose every warm-up sample failed moves no traffic at all:
    // it is unavailable, and measuring it further would only fill the report with errors.
    const warm = new Map<string, PerfSample[]>();
    for (const test of warmup.tests) {
      for (const path of PATHS) {
        for (const h of handles.values()) {
          if (aborted()) break;
          const s = await sample(h, test, path, -1, { ...mp, durationSec: warmup.durationSec, latencyDurationSec: 1 });
          warm.set(h.def.name, [...(warm.get(h.def.name) ?? []), s]);
        }
      }
    }
    for (const [name, ws] of warm) {
      if (ws.length && ws.every((s) => s.error)) {
        const c = conf(name);
        c.status = 'unavailable';
        c.reason = `no traffic passed during warm-up: ${ws[0]!.error}`;
        progress(`${name}: unavailable (${c.reason})`);
        const h = handles.get(name)!;
        handles.delete(name);
        await tearDown(c.clusterName, h);
      }
    }

    const active = [...handles.values()];
    for (let round = 0; round < o.samples && !aborted(); round++) {
      const order = active.map((_, i) => active[(i + round) % active.length]!);
      progress(`round ${round + 1}/${o.samples}: ${order.map((h) => h.def.name).join(' → ')}`);
      for (const test of o.tests) {
        for (const path of PATHS) {
          for (const h of order) {
            if (aborted()) break;
            const s = await sample(h, test, path, round, mp);
            if (s.error) progress(`  ${h.def.name} ${test} ${path}: failed: ${s.error}`);
          }
        }
      }
    }
  } finally {
    progress('tearing down');
    const left = await Promise.all([...handles.entries()].map(async ([name, h]) => ({ name, left: await tearDown(conf(name).clusterName, h) })));
    handles.clear();
    // Clusters that never came up were removed by bringUp; make sure of it all the same.
    for (const c of configurations) if (c.status === 'unavailable') await tearDown(c.clusterName);
    for (const l of left) if (l.left.length) progress(`${l.name}: teardown left ${l.left.join('; ')}`);
  }

  const metrics = aggregate(samples);
  const finishedMs = Date.now();
  return {
    schemaVersion: PERF_SCHEMA_VERSION,
    kind: PERF_KIND,
    runId: randomUUID(),
    startedAt,
    finishedAt: new Date(finishedMs).toISOString(),
    durationMs: finishedMs - t0,
    ...(aborted() ? { interrupted: true } : {}),
    environment,
    parameters,
    configurations,
    samples,
    metrics,
    ratios: ratios(metrics, 'baseline'),
    targets: evaluateTargets(metrics, configurations),
  };
}
