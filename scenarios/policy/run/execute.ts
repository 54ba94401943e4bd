// Running one step of a case: do its actions, wait until the datapath enforces them (where the CNI can
// say), ask the oracle what every probe must show given the cluster as it now is, probe, and turn the
// outcomes into a check with its reachability tables. Resetting after a case deletes every policy and
// puts back the labels the case changed.
import type { ScenarioContext, CheckOutcome } from '../../framework/model.js';
import type { Reachability, ReachabilityMismatch, ReachabilityTable } from '../../../reports/model.js';
import { Oracle } from '../oracle/oracle.js';
import type { PeerRef } from '../oracle/model.js';
import type { ProbeOutcome, ProbeRequest, ProbeSource, ProbeTarget } from '../probe/prober.js';
import { caseFeatures, unsupportedParts } from '../cases/features.js';
import { resolvePlaceholders, type PlaceholderLookup } from '../cases/placeholders.js';
import { isMatrix, type CaseAction, type L4, type PolicyCase } from '../cases/types.js';
import { policyWorkload, XYZ_PODS, XYZ_PORTS, XYZ_PROTOCOLS } from '../workload.js';
import { waitPolicyEnforced, type EnforcementWait } from './enforcement.js';
import type { PolicySession } from './session.js';
import { clusterSnapshot } from './snapshot.js';

/** What a case changed that a reset must undo. */
export interface CaseChanges {
  pods: Set<string>;
  namespaces: Set<string>;
}

export function placeholderLookup(ctx: ScenarioContext, session: PolicySession): PlaceholderLookup {
  return {
    podIp: (key) => ctx.pods.get(key)?.ip,
    podCidr: (key) => {
      const pod = ctx.pods.get(key);
      return pod && ctx.spec.nodes.find((n) => n.name === pod.node)?.podCidr;
    },
    node: (i) => ctx.spec.nodes[i]?.name,
    external: (name) => session.externals.find((e) => e.name === name)?.ip,
  };
}

async function act(session: PolicySession, action: CaseAction, changes: CaseChanges): Promise<void> {
  const { provider } = session;
  if ('apply' in action) await provider.apply(action.apply);
  else if ('delete' in action) for (const d of action.delete) await provider.remove(d.kind, d.namespace, d.name);
  else if ('setPodLabels' in action) {
    const [ns, name] = action.setPodLabels.pod.split('/') as [string, string];
    await relabel(session, 'Pod', ns, name, action.setPodLabels.labels);
    changes.pods.add(action.setPodLabels.pod);
  } else {
    const name = action.setNamespaceLabels.namespace;
    await relabel(session, 'Namespace', undefined, name, { ...action.setNamespaceLabels.labels, 'kubernetes.io/metadata.name': name });
    changes.namespaces.add(name);
  }
}

/** Replace an object's labels the way `cnilab label --overwrite` changes them: the given ones set, the
 *  others removed (a merge patch through the provider's API: null removes a key). */
async function relabel(session: PolicySession, kind: 'Pod' | 'Namespace', namespace: string | undefined, name: string, labels: Record<string, string>): Promise<void> {
  const obj = (await session.provider.list(kind, namespace)).items.find((o) => o.metadata.name === name);
  if (!obj) throw new Error(`${kind} ${namespace ? `${namespace}/` : ''}${name} not found`);
  const current = obj.metadata.labels ?? {};
  const patch: Record<string, string | null> = { ...labels };
  for (const k of Object.keys(current)) if (!Object.hasOwn(labels, k)) patch[k] = null;
  await session.provider.mergePatch(kind, namespace, name, { metadata: { labels: patch } });
}

/** Delete every policy, restore changed labels, wait for the datapath to follow. */
export async function resetCluster(session: PolicySession, changes: CaseChanges): Promise<EnforcementWait> {
  const { provider, spec } = session;
  for (const kind of ['NetworkPolicy', 'CiliumNetworkPolicy']) {
    for (const p of (await provider.list(kind)).items) await provider.remove(kind, p.metadata.namespace, p.metadata.name);
  }
  // Labels go back through the same patch (a Pod cannot be replaced by its manifest once running).
  for (const o of policyWorkload(spec)) {
    const key = o.kind === 'Pod' ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
    if ((o.kind === 'Pod' && changes.pods.has(key)) || (o.kind === 'Namespace' && changes.namespaces.has(key))) {
      await relabel(session, o.kind, o.kind === 'Pod' ? o.metadata.namespace : undefined, o.metadata.name, o.metadata.labels ?? {});
    }
  }
  changes.pods.clear();
  changes.namespaces.clear();
  return waitPolicyEnforced(provider, spec);
}

function peerRef(name: string): PeerRef {
  if (name.startsWith('node/')) return { node: name.slice(5) };
  if (name.startsWith('external/')) return { external: name.slice(9) };
  return { pod: name };
}

function endpoints(name: string, ctx: ScenarioContext, session: PolicySession): { source?: ProbeSource; target: ProbeTarget } {
  if (name.startsWith('node/')) {
    const node = ctx.nodes.get(name.slice(5));
    if (!node) throw new Error(`no node ${name.slice(5)} in this cluster`);
    return { source: { key: name, ip: node.underlayIp, netns: node.netns }, target: { key: name, ip: node.underlayIp, answer: node.name } };
  }
  if (name.startsWith('external/')) {
    const ext = session.externals.find((e) => e.name === name.slice(9));
    if (!ext) throw new Error(`no external host ${name.slice(9)}`);
    return { source: { key: name, ip: ext.ip, netns: ext.netns }, target: { key: name, ip: ext.ip, answer: ext.name } };
  }
  const pod = ctx.pods.get(name);
  if (!pod) throw new Error(`pod ${name} is not Running`);
  return { source: { key: name, ip: pod.ip, netns: pod.netns }, target: { key: name, ip: pod.ip, answer: pod.name } };
}

interface ProbePlan {
  rows: string[];
  columns: string[];
  combos: Array<{ protocol: L4; port: number }>;
}

function plan(probe: PolicyCase['steps'][number]['probe']): ProbePlan {
  if (isMatrix(probe)) {
    const ports = probe.matrix.ports ?? [...XYZ_PORTS];
    const protocols = probe.matrix.protocols ?? [...XYZ_PROTOCOLS];
    return { rows: XYZ_PODS, columns: XYZ_PODS, combos: protocols.flatMap((protocol) => ports.map((port) => ({ protocol, port }))) };
  }
  const t = probe.targets;
  return { rows: t.from, columns: t.to, combos: t.protocols.flatMap((protocol) => t.ports.map((port) => ({ protocol, port }))) };
}

const isHost = (k: string) => k.startsWith('node/') || k.startsWith('external/');

/** The step's plan, without the node and external peers where the session cannot probe them. */
function probePlan(probe: PolicyCase['steps'][number]['probe'], session: PolicySession): { plan: ProbePlan; hosts: string[] } {
  const p = plan(probe);
  if (!session.hostsUnavailable) return { plan: p, hosts: [] };
  const hosts = [...new Set([...p.rows, ...p.columns].filter(isHost))];
  return { plan: { ...p, rows: p.rows.filter((k) => !isHost(k)), columns: p.columns.filter((k) => !isHost(k)) }, hosts };
}

function describeObservation(o: ProbeOutcome): string {
  const ob = o.observation;
  if (ob.evidence === 'drop-flow') return `dropped ${ob.drop!.dropReason} ${ob.drop!.direction} on ${ob.drop!.node}${ob.drop!.reverse ? ' (the reply)' : ''}`;
  if (ob.evidence === 'answer') return 'connected';
  if (ob.evidence === 'wrong-answer') return `connected, answered "${ob.answer}"`;
  return ob.evidence === 'error' ? `error: ${ob.error}` : ob.evidence;
}

export function buildReachability(p: ProbePlan, outcomes: ProbeOutcome[], stats: { firstTryIncorrect: number; retriedProbes: number; reprobes: number; secondTry: boolean; ms: number }, flows: boolean, unsupported: string[]): Reachability {
  const byKey = new Map(outcomes.map((o) => [`${o.request.from.key}|${o.request.to.key}|${o.request.protocol}|${o.request.port}`, o]));
  const tables: ReachabilityTable[] = p.combos.map(({ protocol, port }) => {
    const cell = (from: string, to: string) => byKey.get(`${from}|${to}|${protocol}|${port}`);
    const grid = (f: (o: ProbeOutcome) => string) => p.rows.map((from) => p.columns.map((to) => { const o = cell(from, to); return o ? f(o) : '-'; }).join(''));
    return {
      protocol,
      port,
      expected: grid((o) => (o.request.expect.allowed ? '.' : 'X')),
      observed: grid((o) => (o.observation.connected === undefined ? '?' : o.observation.connected ? '.' : 'X')),
      comparison: grid((o) => (o.observation.connected === undefined ? '?' : o.correct ? '.' : 'X')),
    };
  });
  const evidence: Record<string, number> = {};
  for (const o of outcomes) evidence[o.observation.evidence] = (evidence[o.observation.evidence] ?? 0) + 1;
  const mismatches: ReachabilityMismatch[] = outcomes
    .filter((o) => !o.correct)
    .map((o) => ({
      from: o.request.from.key,
      to: o.request.to.key,
      protocol: o.request.protocol,
      port: o.request.port,
      expected: o.request.expect.allowed ? 'allowed' : 'blocked',
      observed: describeObservation(o),
      why: o.why ?? '',
      oracle: o.request.expect.reason,
      attempts: o.attempts,
    }));
  const correct = outcomes.filter((o) => o.correct).length;
  return {
    rows: p.rows,
    columns: p.columns,
    tables,
    correct,
    incorrect: outcomes.length - correct,
    ...(unsupported.length ? { unsupported } : {}),
    evidence,
    flows: flows ? 'agents' : 'none',
    retries: { firstTryIncorrect: stats.firstTryIncorrect, retriedProbes: stats.retriedProbes, reprobes: stats.reprobes, secondTry: stats.secondTry },
    probeMs: stats.ms,
    mismatches,
  };
}

/** Run step `i` of a case (placeholders already resolved) and make its check. */
export async function runCaseStep(session: PolicySession, ctx: ScenarioContext, c: PolicyCase, i: number, changes: CaseChanges): Promise<CheckOutcome | CheckOutcome[]> {
  const step = c.steps[i]!;
  const t0 = performance.now();
  for (const a of step.actions) await act(session, a, changes);
  const wait = await waitPolicyEnforced(session.provider, session.spec);
  const name = `${c.name}${c.steps.length > 1 ? ` step ${i + 1}` : ''}${step.description ? `: ${step.description}` : ''}`;
  const tags = { case: c.name, source: c.source, features: caseFeatures(c).join(',') };
  const { plan: p, hosts } = probePlan(step.probe, session);
  // Node and external peers this provider cannot probe: said in a check of their own, never passed.
  const hostsCheck: CheckOutcome[] = hosts.length
    ? [{ id: 'hosts', name: `${name} (nodes and hosts outside the cluster)`, passed: false, verdict: 'unavailable', expected: `probes to and from ${hosts.join(', ')}`, observed: `unavailable: ${session.hostsUnavailable}`, tags: { ...tags, kind: 'hosts' } }]
    : [];
  if (!p.rows.length || !p.columns.length) return hostsCheck;
  const oracle = new Oracle(await clusterSnapshot(session.spec, session.provider, session.externals));
  const reqs: ProbeRequest[] = [];
  for (const { protocol, port } of p.combos) {
    for (const from of p.rows) {
      const src = endpoints(from, ctx, session).source!;
      for (const to of p.columns) {
        const v = oracle.verdict({ from: peerRef(from), to: peerRef(to), port, protocol });
        reqs.push({ from: src, to: endpoints(to, ctx, session).target, protocol, port, expect: { allowed: v.allowed, reason: v.reason, ...(v.drop ? { drop: v.drop } : {}) } });
      }
    }
  }
  const missedBefore = session.flows?.stats.missed ?? 0;
  const { outcomes, stats } = await session.prober.run(reqs);
  const reachability = buildReachability(p, outcomes, stats, session.prober.flowsAvailable, unsupportedParts(c));
  const missed = (session.flows?.stats.missed ?? 0) - missedBefore;
  if (missed > 0) reachability.flowsMissed = missed;
  const n = outcomes.length;
  const retried = stats.retriedProbes || stats.secondTry ? `; retries: ${stats.retriedProbes} probe(s) re-probed${stats.secondTry ? ', second try of all' : ''}` : '';
  const waited = wait.state === 'enforced' ? `enforced after ${wait.ms} ms` : `enforcement ${wait.state}${wait.detail ? ` (${wait.detail})` : ''}`;
  const check: CheckOutcome = {
    name,
    passed: reachability.incorrect === 0,
    expected: `${n} probes as the oracle computes them`,
    observed: `reachability: correct:${reachability.correct}, incorrect:${reachability.incorrect}, result=${reachability.incorrect === 0}${retried}`,
    detail: `${waited}; probed in ${stats.ms} ms (${Math.round(performance.now() - t0)} ms for the step)${session.flowsUnavailable ? '; blocks seen as timeouts or refusals, not confirmed by drop flows (see the drop-flows check)' : ''}`,
    tags,
    reachability,
  };
  const blocks = outcomes.filter((o) => o.observation.connected === false).length;
  if (!session.flowsUnavailable || blocks === 0) return [check, ...hostsCheck];
  // The CNI reports drop flows, but not to this provider: the probe verdicts stand on their own
  // evidence; the confirmation the netns provider adds is said to be missing, never assumed.
  const flows: CheckOutcome = {
    id: 'drop-flows',
    name: `${name} (drop-flow confirmation)`,
    passed: false,
    verdict: 'unavailable',
    expected: `the drop flow (reason, direction, node) of each of the ${blocks} blocked probe(s)`,
    observed: `unavailable: ${session.flowsUnavailable}`,
    tags: { ...tags, kind: 'flows' },
  };
  return [check, flows, ...hostsCheck];
}

/** A case with its placeholders resolved against this cluster. */
export function resolvedCase(c: PolicyCase, ctx: ScenarioContext, session: PolicySession): PolicyCase {
  return resolvePlaceholders(c, placeholderLookup(ctx, session), `case ${c.name}`);
}
