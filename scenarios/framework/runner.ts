// Running scenarios: apply the setup, wait for its pods, resolve names to netns and IPs, run the steps
// in their declared order, and record one CheckResult per check. Consecutive probe steps run with
// bounded concurrency (results keep declaration order); a custom check runs alone, so a capture or a
// fault injection never overlaps unrelated traffic.
import type { ClusterSpec } from '../../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../../harness/cluster/client.js';
import { netnsNames } from '../../harness/cluster/names.js';
import { podNetnsName } from '../../harness/cluster/pod-netns.js';
import type { Provider } from '../../harness/providers/common/provider.js';
import { shellQuote } from '../../harness/exec/run.js';
import { probe as realProbe, type ProbeOptions, type ProbeResult } from '../../harness/traffic/probe.js';
import { waitPodsReady } from '../../harness/cli/wait.js';
import type { CheckResult, ConfigurationResult, ScenarioResult, SuiteResult } from '../../reports/model.js';
import { pool } from '../../lib/pool.js';
import { describeExpectation, describeObserved, probeEvidence, probeVerdict } from './expectations.js';
import { FlowChecks } from './flow-checks.js';
import { applyThrough, probeThrough, resolvedPods } from './provider-access.js';
import { notApplicable, type CheckOutcome, type CustomStep, type ProbeStep, type ResolvedNode, type ResolvedPod, type Scenario, type ScenarioContext, type Source, type Step, type Suite, type Target } from './model.js';

export interface RunnerEnv {
  spec: ClusterSpec;
  client: ControlPlaneClient;
  /** Probes at once (default 4: two cores, each probe is a short Node process). */
  concurrency?: number;
  /** Replaceable for unit tests. */
  probe?: (o: ProbeOptions) => Promise<ProbeResult>;
  podsTimeoutMs?: number;
  log?: (msg: string) => void;
  /** Flow requirements of the probes (flow-checks.ts). Default: on wherever the cluster has an observer
   *  (strict, as `cilium connectivity test`); false turns them off. */
  flowChecks?: FlowChecks | false;
  /** When set, setup, pods and probes go through it (provider-access.ts) instead of the embedded
   *  cluster's client and nsenter. */
  provider?: Provider;
}

const DEFAULT_CONCURRENCY = 4;
const DEFAULT_PROBE_TIMEOUT_MS = 1000;

/** Apply objects and wait for the pods among them to be Running. Returns how long that took. */
export async function applySetup(env: RunnerEnv, objects: unknown[]): Promise<number> {
  const t0 = performance.now();
  if (objects.length === 0) return 0;
  if (env.provider) {
    await applyThrough(env.provider, objects, env.podsTimeoutMs ?? 60_000);
    return Math.round(performance.now() - t0);
  }
  const results = await env.client.apply(objects);
  const pods = results.filter((r) => r.kind === 'Pod').map((r) => ({ namespace: r.namespace!, name: r.name }));
  await waitPodsReady(env.client, pods, env.podsTimeoutMs ?? 60_000);
  return Math.round(performance.now() - t0);
}

export async function resolveContext(env: RunnerEnv): Promise<ScenarioContext> {
  const nodes = new Map<string, ResolvedNode>(env.spec.nodes.map((n) => [n.name, { ...n, netns: netnsNames.node(env.spec.name, n.name) }]));
  if (env.provider) return { spec: env.spec, client: env.client, provider: env.provider, pods: await resolvedPods(env.provider, env.spec), nodes, state: {}, log: env.log ?? (() => undefined) };
  const pods = new Map<string, ResolvedPod>();
  for (const p of await env.client.list('Pod')) {
    const status = (p.status ?? {}) as { phase?: string; podIP?: string };
    const nodeName = (p.spec as { nodeName?: string } | undefined)?.nodeName;
    if (status.phase !== 'Running' || !status.podIP || !nodeName) continue;
    const namespace = p.metadata.namespace!;
    const key = `${namespace}/${p.metadata.name}`;
    pods.set(key, { namespace, name: p.metadata.name, key, node: nodeName, ip: status.podIP, netns: podNetnsName(env.spec.name, p) });
  }
  return { spec: env.spec, client: env.client, pods, nodes, state: {}, log: env.log ?? (() => undefined) };
}

export function describeSource(s: Source): string {
  return 'pod' in s ? s.pod : `node/${s.node}`;
}

export function describeTarget(t: Target): string {
  if ('pod' in t) return t.pod;
  if ('node' in t) return `node/${t.node}`;
  return t.label ?? t.ip;
}

function lookupPod(ctx: ScenarioContext, key: string): ResolvedPod {
  const p = ctx.pods.get(key);
  if (!p) throw new Error(`pod ${key} is not Running (or has no IP)`);
  return p;
}

function lookupNode(ctx: ScenarioContext, name: string): ResolvedNode {
  const n = ctx.nodes.get(name);
  if (!n) throw new Error(`node ${name} is not in the cluster`);
  return n;
}

export function sourceNetns(ctx: ScenarioContext, s: Source): string {
  return 'pod' in s ? lookupPod(ctx, s.pod).netns : lookupNode(ctx, s.node).netns;
}

export function targetAddress(ctx: ScenarioContext, t: Target): string {
  if ('pod' in t) return lookupPod(ctx, t.pod).ip;
  if ('node' in t) return lookupNode(ctx, t.node).underlayIp;
  return t.ip;
}

function tail(text: string, lines = 6): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/** One probe step as the runner makes it (exported for scenarios that wrap a probe in a custom check). */
export async function runProbeStep(env: RunnerEnv, ctx: ScenarioContext, step: ProbeStep): Promise<CheckResult> {
  const base = {
    id: step.id,
    name: step.name,
    from: describeSource(step.from),
    to: describeTarget(step.to),
    protocol: step.protocol,
    ...(step.port !== undefined ? { port: step.port } : {}),
    expected: describeExpectation(step.expect),
    ...(step.tags ? { tags: step.tags } : {}),
  };
  let opts: ProbeOptions;
  try {
    opts = {
      netns: sourceNetns(ctx, step.from),
      protocol: step.protocol,
      host: targetAddress(ctx, step.to),
      port: step.port,
      timeoutMs: step.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
      size: step.size,
      dontFragment: step.dontFragment,
      ...(step.expect.responder !== undefined && (step.protocol === 'tcp' || step.protocol === 'udp') ? { identify: true } : {}),
    };
  } catch (e) {
    return { ...base, observed: 'not run', passed: false, verdict: 'fail', durationMs: 0, detail: (e as Error).message };
  }
  const r = env.provider && !env.probe ? await probeThrough(env.provider, 'pod' in step.from ? { pod: lookupPod(ctx, step.from.pod) } : { node: step.from.node }, opts) : await (env.probe ?? realProbe)(opts);
  const v = probeVerdict(step.expect, r);
  // On failure, the probe's own last words (agnhost's TIMEOUT/REFUSED/OTHER line, ping's summary).
  const detail = v.passed ? undefined : [v.why, tail(`${r.stdout}\n${r.stderr}`, 3)].filter(Boolean).join('\n');
  const command = shellQuote(r.command);
  return { ...base, observed: describeObserved(r), passed: v.passed, verdict: v.verdict, durationMs: Math.round(r.durationMs), command, ...(detail ? { detail } : {}), evidence: [probeEvidence(r, command)] };
}

async function runCustomStep(ctx: ScenarioContext, step: CustomStep): Promise<CheckResult[]> {
  const t0 = performance.now();
  let outcomes: CheckOutcome[];
  try {
    const out = await step.run(ctx);
    outcomes = Array.isArray(out) ? out : [out];
  } catch (e) {
    const err = e as Error & { detail?: string };
    outcomes = [{ passed: false, expected: 'the check to run', observed: `error: ${err.message}`, detail: err.detail }];
  }
  const ms = Math.round(performance.now() - t0);
  if (outcomes.length === 0) {
    // A check that produced no verdict did not check anything.
    outcomes = [{ passed: false, expected: 'at least one verdict', observed: 'the check returned none' }];
  }
  return outcomes.map((o) => {
    let verdict = o.verdict ?? (o.passed ? 'pass' : 'fail');
    // A pass that cannot say what it saw is not earned.
    if (verdict === 'pass' && !o.observed?.trim()) {
      verdict = 'fail';
      o = { ...o, observed: '(nothing recorded)', detail: [o.detail, 'the check passed without recording what it observed'].filter(Boolean).join('\n') };
    }
    const r: CheckResult = {
      id: o.id ? `${step.id}/${o.id}` : step.id,
      name: o.name ?? step.name,
      expected: o.expected,
      observed: o.observed,
      passed: verdict === 'pass',
      verdict,
      durationMs: ms,
    };
    for (const k of ['from', 'to', 'protocol', 'port', 'command', 'detail', 'reachability', 'evidence'] as const) if (o[k] !== undefined) (r as any)[k] = o[k];
    const tags = { ...step.tags, ...o.tags };
    if (Object.keys(tags).length) r.tags = tags;
    return r;
  });
}

export async function runSteps(env: RunnerEnv, ctx: ScenarioContext, steps: Step[]): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (let i = 0; i < steps.length; ) {
    const step = steps[i]!;
    if (step.kind === 'check') {
      results.push(...(await runCustomStep(ctx, step)));
      i++;
      continue;
    }
    let j = i;
    while (j < steps.length && steps[j]!.kind === 'probe') j++;
    const batch = steps.slice(i, j) as ProbeStep[];
    const flows = env.flowChecks === undefined ? FlowChecks.forCluster(env.spec) : env.flowChecks || undefined;
    const before = await flows?.counters();
    const done = await pool(batch, env.concurrency ?? DEFAULT_CONCURRENCY, async (s) => {
      const startedAt = Date.now();
      const r = await runProbeStep(env, ctx, s);
      const f = await flows?.checkProbe(ctx, s, startedAt, r);
      return f ? [r, f] : [r];
    });
    results.push(...done.flat());
    const m = await flows?.checkBatch(ctx, batch, before, done.map((x) => x[0]!));
    if (m) results.push(m);
    i = j;
  }
  return results;
}

function duplicateIds(checks: CheckResult[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const c of checks) (seen.has(c.id) ? dup : seen).add(c.id);
  return [...dup];
}

export async function runScenario(env: RunnerEnv, scenario: Scenario, suiteState?: Record<string, unknown>): Promise<ScenarioResult> {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const result: ScenarioResult = { name: scenario.name, suite: scenario.suite, ...(scenario.description ? { description: scenario.description } : {}), status: 'passed', startedAt, setupMs: 0, durationMs: 0, checks: [] };
  const finish = (r: ScenarioResult = result): ScenarioResult => ((r.durationMs = Math.round(performance.now() - t0)), r);
  const why = notApplicable(scenario.topology, env.spec, env.provider?.kind);
  if (why) return finish(Object.assign(result, { status: 'skipped', reason: why }));
  let cleanup: (() => Promise<void>) | undefined;
  try {
    result.setupMs = await applySetup(env, scenario.setup(env.spec));
    const ctx = await resolveContext(env);
    if (suiteState) ctx.state = suiteState;
    if (scenario.prepare) cleanup = await scenario.prepare(ctx);
    result.checks = await runSteps(env, ctx, scenario.steps(ctx));
  } catch (e) {
    const err = e as Error & { detail?: string };
    return finish(Object.assign(result, { status: 'error', reason: `${err.message}${err.detail ? `\n${err.detail}` : ''}` }));
  } finally {
    if (cleanup) await cleanup().catch((e: Error) => env.log?.(`${scenario.name}: cleanup failed: ${e.message}`));
  }
  const dups = duplicateIds(result.checks);
  if (result.checks.length === 0) Object.assign(result, { status: 'failed', reason: 'the scenario made no check: a scenario with nothing verified is not a pass' });
  else if (dups.length) Object.assign(result, { status: 'failed', reason: `duplicate check ids: ${dups.join(', ')}` });
  else if (result.checks.some((c) => !c.passed)) result.status = 'failed';
  return finish(result);
}

/** Every applicable scenario's setup objects, once each (scenarios may share a workload). */
export function suiteSetup(suite: Suite, spec: ClusterSpec, provider?: Provider['kind']): unknown[] {
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const sc of suite.scenarios) {
    if (notApplicable(sc.topology, spec, provider)) continue;
    for (const o of sc.setup(spec) as Array<{ kind?: string; metadata?: { namespace?: string; name?: string } }>) {
      const key = `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
      if (!seen.has(key)) out.push(o);
      seen.add(key);
    }
  }
  return out;
}

/** The suite's own preparation (shared state for its scenarios), once their pods are up. */
async function prepareSuite(env: RunnerEnv, suite: Suite): Promise<{ state?: Record<string, unknown>; cleanup?: () => Promise<void> }> {
  if (!suite.prepare || suite.scenarios.every((sc) => notApplicable(sc.topology, env.spec, env.provider?.kind))) return {};
  await applySetup(env, suiteSetup(suite, env.spec, env.provider?.kind));
  const ctx = await resolveContext(env);
  const cleanup = await suite.prepare(ctx);
  return { state: ctx.state, cleanup };
}

/**
 * The part of a configuration's run every way of reaching the cluster shares: start the scenario pods,
 * run the suites, and record bring-up and suite times in `result` (clusterUpMs already set). A failure
 * becomes result.error (with its detail), so the report still names what ran.
 */
export async function setUpAndRunSuites(env: RunnerEnv, objects: unknown[], suites: Suite[], result: ConfigurationResult): Promise<void> {
  try {
    result.podsReadyMs = await applySetup(env, objects);
    result.bringUpMs = (result.clusterUpMs ?? 0) + result.podsReadyMs;
    const t1 = performance.now();
    for (const suite of suites) result.suites.push(await runSuite(env, suite));
    result.suiteMs = Math.round(performance.now() - t1);
  } catch (e) {
    result.error = errorText(e);
  }
}

/** An error as a result's `error`: its message and, when it carries one, its detail. */
export function errorText(e: unknown): string {
  const err = e as Error & { detail?: string };
  return `${err.message}${err.detail ? `\n${err.detail}` : ''}`;
}

export async function runSuite(env: RunnerEnv, suite: Suite): Promise<SuiteResult> {
  const t0 = performance.now();
  if (suite.exactCounters === false && env.flowChecks === undefined) env = { ...env, flowChecks: FlowChecks.forCluster(env.spec, { counters: false }) ?? false };
  const scenarios: ScenarioResult[] = [];
  let prepared: { state?: Record<string, unknown>; cleanup?: () => Promise<void> } = {};
  let prepareError: string | undefined;
  try {
    prepared = await prepareSuite(env, suite);
  } catch (e) {
    const err = e as Error & { detail?: string };
    prepareError = `preparing the suite failed: ${err.message}${err.detail ? `\n${err.detail}` : ''}`;
  }
  try {
    for (const sc of prepareError ? [] : suite.scenarios) {
      env.log?.(`${suite.name}/${sc.name}: running`);
      const r = await runScenario(env, sc, prepared.state);
      env.log?.(`${suite.name}/${sc.name}: ${r.status} (${r.checks.filter((c) => c.passed).length}/${r.checks.length} checks passed, ${r.durationMs} ms)`);
      scenarios.push(r);
    }
  } finally {
    if (prepared.cleanup) await prepared.cleanup().catch((e: Error) => env.log?.(`${suite.name}: cleanup failed: ${e.message}`));
  }
  const ran = scenarios.filter((s) => s.status !== 'skipped');
  const error = prepareError ?? (suite.scenarios.length === 0 ? 'the suite has no scenario' : ran.length === 0 ? 'no scenario of the suite applies to this configuration' : undefined);
  return {
    name: suite.name,
    passed: !error && ran.every((s) => s.status === 'passed'),
    ...(error ? { error } : {}),
    durationMs: Math.round(performance.now() - t0),
    scenarios,
  };
}
