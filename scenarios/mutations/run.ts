// Running the mutation catalogue: a baseline of the unmutated build per configuration, then every
// mutation on a fresh cluster of its own (a mutant datapath object, an agent fault in the agents'
// environment, or a harness fault in this process for the length of its run), the suites it names,
// and what failed. A speed-only mutation runs the A/B gate against the working tree's datapath
// instead. Clusters are named st-*, always torn down.
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { run } from '../../harness/exec/run.js';
import { BPF_BUILD_DIR, REPO_ROOT } from '../../harness/paths.js';
import type { ConfigurationResult } from '../../reports/model.js';
import { abPassed, evaluateAb } from '../../reports/ab-gate.js';
import { SELFTEST_SCHEMA_VERSION, score, type BaselineOutcome, type MutationOutcome, type SelftestResult } from '../../reports/selftest-model.js';
import { CONFIGURATIONS, runConfiguration } from '../framework/configuration.js';
import type { Suite } from '../framework/model.js';
import { runPerformance } from '../performance/run.js';
import { CATALOGUE, mutantVariant, type Mutation, type MutationConfig } from './catalogue.js';

export interface SelftestOptions {
  mutations: Mutation[];
  /** The suites by name (the CLI's registry: scenarios do not import the CLI). */
  loadSuite: (name: string) => Promise<Suite>;
  /** Skip the baseline runs (the CI root test: the suites' own root tests cover the healthy build). */
  skipBaseline?: boolean;
  log?: (m: string) => void;
  signal?: AbortSignal;
  /** A/B rounds for speed mutations. */
  abSamples?: number;
}

/** "scenario/check-id" of every check that did not pass, plus scenario and configuration errors. */
export function failedCheckIds(c: ConfigurationResult): string[] {
  const out: string[] = [];
  if (c.error) out.push(`(configuration error: ${c.error.split('\n')[0]})`);
  for (const s of c.suites) {
    if (s.error) out.push(`${s.name}/(suite error)`);
    for (const sc of s.scenarios) {
      if (sc.status === 'error') out.push(`${sc.name}/(error)`);
      for (const ch of sc.checks) if (!ch.passed) out.push(`${sc.name}/${ch.id}`);
    }
  }
  return out;
}

export function checkCount(c: ConfigurationResult): number {
  return c.suites.reduce((a, s) => a + s.scenarios.reduce((b, sc) => b + sc.checks.length, 0), 0);
}

/** Judge one mutation's run against the baseline's failures. Pure. */
export function judgeMutation(m: Mutation, failed: string[], baselineFailing: string[]): Pick<MutationOutcome, 'detected' | 'caughtBy' | 'caughtAsExpected'> {
  const known = new Set(baselineFailing);
  const caughtBy = failed.filter((id) => !known.has(id));
  return { detected: caughtBy.length > 0, caughtBy, caughtAsExpected: caughtBy.some((id) => m.expectCaughtBy.some((p) => id.startsWith(p))) };
}

export function describeEnable(m: Mutation): string {
  if ('datapath' in m.enable) return `-D${m.enable.datapath} (bpf/build/${mutantVariant(m)}.o)`;
  if ('agent' in m.enable) return `CNILAB_FAULT_AGENT=${m.enable.agent}`;
  return `CNILAB_FAULT_HARNESS=${m.enable.harness}`;
}

async function buildMutant(m: Mutation): Promise<string> {
  const variant = mutantVariant(m)!;
  await run(['make', '-s', '-C', join(REPO_ROOT, 'bpf'), `build/${variant}.o`], { timeoutMs: 300_000 });
  return join(BPF_BUILD_DIR, `${variant}.o`);
}


let serial = 0;
const clusterName = (tag: string) => `st-${process.pid % 1000}-${serial++}-${tag}`;

async function runMutation(m: Mutation, config: MutationConfig, baseline: Map<string, string[]>, o: SelftestOptions): Promise<MutationOutcome> {
  const def = CONFIGURATIONS[config]!;
  const t0 = Date.now();
  const base: MutationOutcome = { name: m.name, what: m.what, enabled: describeEnable(m), config, suites: m.suites, detected: false, caughtBy: [], expectCaughtBy: m.expectCaughtBy, caughtAsExpected: false, checks: 0, failed: 0, durationMs: 0 };
  const log = (s: string) => o.log?.(`${m.name} (${config}): ${s}`);
  try {
    const env: Record<string, string> = {};
    if ('datapath' in m.enable) env.CNILAB_BPF_OBJECT = await buildMutant(m);
    if ('agent' in m.enable) env.CNILAB_FAULT_AGENT = m.enable.agent;
    if (m.speed) {
      log('A/B gate against the working tree');
      const perf = await runPerformance({
        configs: [],
        defs: [
          { name: 'base', cni: 'cnilab', routing: def.routing, short: `${serial++}b`, description: 'working tree' },
          { name: 'head', cni: 'cnilab', routing: def.routing, short: `${serial++}h`, description: m.name, objectPath: env.CNILAB_BPF_OBJECT },
        ],
        samples: o.abSamples ?? 6,
        durationSec: 1,
        latencyDurationSec: 1,
        udpBitrate: '1G',
        quick: false,
        tests: ['tcp-1', 'rr', 'crr'],
        clusterPrefix: `st-${process.pid % 1000}-`,
        signal: o.signal,
        onProgress: log,
      });
      const metrics = evaluateAb(perf, { threshold: 0.05 });
      const regressed = metrics.filter((x) => x.verdict === 'regressed').map((x) => x.metric);
      const noEvidence = metrics.filter((x) => x.verdict === 'failed-samples' || x.verdict === 'missing').map((x) => x.metric);
      return { ...base, detected: !abPassed(metrics) && regressed.length > 0, caughtBy: regressed.map((x) => `ab-gate/${x}`), caughtAsExpected: regressed.length > 0, regressedMetrics: regressed, checks: metrics.length, failed: regressed.length + noEvidence.length, durationMs: Date.now() - t0 };
    }
    if ('harness' in m.enable) process.env.CNILAB_FAULT_HARNESS = m.enable.harness;
    let r: ConfigurationResult;
    try {
      r = await runConfiguration(def, await Promise.all(m.suites.map(o.loadSuite)), { clusterName: clusterName(def.tag), env, log });
    } finally {
      delete process.env.CNILAB_FAULT_HARNESS;
    }
    const failed = failedCheckIds(r);
    const j = judgeMutation(m, failed, baseline.get(config) ?? []);
    log(j.detected ? `detected by ${j.caughtBy.slice(0, 3).join(', ')}` : 'NOT DETECTED');
    return { ...base, ...j, checks: checkCount(r), failed: failed.length, durationMs: Date.now() - t0 };
  } catch (e) {
    return { ...base, error: (e as Error).message, durationMs: Date.now() - t0 };
  }
}

export async function runSelftest(o: SelftestOptions): Promise<SelftestResult> {
  const t0 = Date.now();
  const startedAt = new Date(t0).toISOString();
  const baselineOut: BaselineOutcome[] = [];
  const baseline = new Map<string, string[]>();
  const configs = [...new Set(o.mutations.filter((m) => !m.speed).flatMap((m) => m.configs))];
  if (!o.skipBaseline) {
    for (const config of configs) {
      if (o.signal?.aborted) break;
      const suites = [...new Set(o.mutations.filter((m) => !m.speed && m.configs.includes(config)).flatMap((m) => m.suites))];
      o.log?.(`baseline ${config}: ${suites.join(', ')}`);
      const def = CONFIGURATIONS[config]!;
      const r = await runConfiguration(def, await Promise.all(suites.map(o.loadSuite)), { clusterName: clusterName(def.tag), log: (s) => o.log?.(`baseline: ${s}`) });
      const failing = failedCheckIds(r);
      baseline.set(config, failing);
      baselineOut.push({ config, passed: failing.length === 0, checks: checkCount(r), failing });
    }
  }
  const mutations: MutationOutcome[] = [];
  for (const m of o.mutations) {
    for (const config of m.configs) {
      if (o.signal?.aborted) break;
      mutations.push(await runMutation(m, config, baseline, o));
    }
  }
  const sc = score(mutations);
  const c = cpus()[0];
  return {
    kind: 'selftest',
    schemaVersion: SELFTEST_SCHEMA_VERSION,
    startedAt,
    durationMs: Date.now() - t0,
    machine: `${c?.model ?? 'unknown CPU'} × ${availableParallelism()}`,
    baseline: baselineOut,
    mutations,
    score: sc,
    passed: sc.detected === sc.total && sc.total > 0 && baselineOut.every((b) => b.passed) && !o.signal?.aborted,
  };
}

export function selectMutations(names: string[] | undefined): Mutation[] {
  if (!names?.length) return CATALOGUE;
  return names.map((n) => {
    const m = CATALOGUE.find((x) => x.name === n);
    if (!m) throw new Error(`unknown mutation "${n}"`);
    return m;
  });
}
