// bgp-peer-loss: a node's bird stops, and the rest of the cluster must notice and stop routing to it.
// Three ways a bird stops, each its own fault with its own recovery, because they exercise different
// detection paths:
//   sigkill — the process dies; the kernel closes its TCP session, so the reflector drops the peer at
//             once (no timer involved). Recovery: the node's agent is killed, the supervisor restarts
//             it, and BgpSpeaker.start() finds the pidfile's bird dead and launches a fresh one.
//   down    — `birdc down`: a graceful shutdown with a Cease notification. Recovery: bird started again
//             with the agent's own conf/ctl/pid files (what the next agent would adopt).
//   freeze  — SIGSTOP: the process hangs with its session open, so only the hold timer can notice. This
//             is the case the hold-time budget is really about. Recovery: SIGCONT.
// After each fault: the victim's pod CIDR is gone from every other node's kernel table within the hold
// time + margin, traffic to the victim's pods fails fast (ICMP net-unreachable, ENETUNREACH) with the
// drop counted as FIB_LOOKUP_FAILED, traffic to the peer is untouched; after recovery the routes are
// back everywhere and the victim's pods answer again. Every duration is recorded (observed + tags.ms).
import { readFileSync } from 'node:fs';
import { paths } from '../../harness/cluster/names.js';
import type { ClusterSpec } from '../../harness/cluster/spec.js';
import { shellQuote } from '../../harness/exec/run.js';
import { UnsupportedError, WaitTimeoutError } from '../../harness/errors.js';
import type { NodeFaults } from '../../harness/providers/common/faults.js';
import { WithdrawalUnknownError, convergenceGaps, measureConvergence, waitWithdrawn, type ConvergenceOptions, type ConvergenceResult } from '../../harness/providers/netns/bgp-convergence.js';
import type { CheckOutcome, ProbeStep, Scenario, ScenarioContext, Step } from '../framework/model.js';
import { faultsOf, probeFrom, unsupportedOutcome, waitAgentsHealthy, waitProbeOk } from './live.js';
import { DROP_FIB_LOOKUP_FAILED, UNREACHABLE_MODES, WITHDRAWAL_MARGIN_MS, failFastVerdict, holdTimeMs, msTags, probeOutcome, probeTail, timedOutcome } from './measure.js';
import { FAULT_TCP_PORT, faultPods, faultsObjects, type FaultPods } from './workload.js';
import { AGENTS_HEALTHY_BUDGET_MS } from './agent-restart.js';

/** The probes' own deadline while the victim is cut off; a hang would take this long. */
export const FAIL_FAST_TIMEOUT_MS = 3000;
/** "Fast": an ICMP error or ENETUNREACH arrives in milliseconds; the rest is process start-up. */
export const FAIL_FAST_MS = 1000;
/** Routes back everywhere after the bird is back: connect delay (1 s) + session + propagation. */
export const RECOVERY_BUDGET_MS = 10_000;

/** A bird fault, done through the provider's node faults (harness/providers/<provider>/faults.ts). */
export interface BirdFault {
  mode: string;
  description: string;
  inject(faults: NodeFaults, node: string): Promise<void>;
  recover(faults: NodeFaults, node: string): Promise<void>;
  /** The recovery restarts the node's agent (which starts bird): its budget includes the agent's. */
  restartsAgent?: true;
}

export const BIRD_FAULTS: BirdFault[] = [
  {
    mode: 'sigkill',
    description: "the node's bird killed with SIGKILL",
    inject: (faults, node) => faults.bird(node, 'kill'),
    recover: async (faults, node) => {
      const killed = await faults.killAgents([node]);
      await waitAgentsHealthy(faults, killed, performance.now(), 20_000);
    },
    restartsAgent: true,
  },
  {
    mode: 'down',
    description: "the node's bird shut down with `birdc down`",
    inject: (faults, node) => faults.bird(node, 'down'),
    recover: (faults, node) => faults.bird(node, 'restore'),
  },
  {
    mode: 'freeze',
    description: "the node's bird frozen with SIGSTOP (session open, silent: only the hold timer notices)",
    inject: (faults, node) => faults.bird(node, 'freeze'),
    recover: (faults, node) => faults.bird(node, 'thaw'),
  },
];

/** Kernel routes and BGP sessions of the nodes, read through the provider's node access. */
export function convergenceThrough(faults: NodeFaults): Pick<ConvergenceOptions, 'netnsOf' | 'routesOf' | 'sessionsOf' | 'pollMs'> {
  return { netnsOf: (n) => n.name, routesOf: (node) => faults.birdRoutes(node), sessionsOf: (n) => faults.bgpSessions(n.name), ...(faults.pollMs ? { pollMs: faults.pollMs } : {}) };
}

/** Inject `fault` on `victim` and measure until no other node routes its pod CIDR; judged against
 *  the hold time + margin. Exported so a test can prove it fails when the fault does nothing. */
/** The agent checks its speaker every second; allow for a frozen bird's birdc timeout too. */
const HEALTH_REPORT_BUDGET_MS = 5000;

export async function measureWithdrawal(ctx: Pick<ScenarioContext, 'spec' | 'provider'>, victim: string, fault: Pick<BirdFault, 'mode' | 'inject'>): Promise<CheckOutcome> {
  const spec = ctx.spec;
  const faults = faultsOf(ctx);
  const hold = holdTimeMs();
  const budgetMs = hold + WITHDRAWAL_MARGIN_MS;
  const cidr = spec.nodes.find((n) => n.name === victim)?.podCidr;
  const others = spec.nodes.filter((n) => n.name !== victim).map((n) => n.name);
  const base = { id: 'withdrawn', name: `${fault.mode}: ${victim}'s ${cidr} withdrawn from ${others.join(', ')}`, what: `${cidr} gone from the kernel tables of ${others.join(', ')}`, budgetMs };
  const t0 = performance.now();
  try {
    await fault.inject(faults, victim);
  } catch (e) {
    if (e instanceof UnsupportedError) return unsupportedOutcome(base.id, base.name, e);
    throw e;
  }
  try {
    const ms = await waitWithdrawn(spec, victim, budgetMs, { since: t0, ...convergenceThrough(faults) });
    return timedOutcome({ ...base, ms, detail: `hold time ${hold} ms + margin ${WITHDRAWAL_MARGIN_MS} ms`, tags: { fault: fault.mode, measure: 'withdrawal' } });
  } catch (e) {
    if (!(e instanceof WaitTimeoutError)) throw e;
    const out = timedOutcome({ ...base, ms: undefined, detail: `${e.message}\n${e.detail ?? ''}`.trim(), tags: { fault: fault.mode, measure: 'withdrawal' } });
    // Tables that could not be read show nothing either way: the evidence is unavailable, not a pass.
    return e instanceof WithdrawalUnknownError && e.unreadable ? { ...out, verdict: 'unavailable', observed: `unreadable: ${e.detail}` } : out;
  }
}

async function failFastChecks(ctx: ScenarioContext, pods: FaultPods, mode: string): Promise<CheckOutcome[]> {
  const { client, victim } = pods;
  const faults = faultsOf(ctx);
  const before = await faults.dropCount(client.node, DROP_FIB_LOOKUP_FAILED);
  const out: CheckOutcome[] = [];
  for (const protocol of ['icmp', 'tcp'] as const) {
    const r = await probeFrom(ctx, client, { protocol, host: victim.ip, port: protocol === 'tcp' ? FAULT_TCP_PORT : undefined, timeoutMs: FAIL_FAST_TIMEOUT_MS });
    const v = failFastVerdict(r, FAIL_FAST_MS);
    const command = shellQuote(r.command);
    out.push({
      id: `fail-fast/${protocol}`,
      name: `${mode}: ${protocol} ${client.key} → ${victim.key} fails fast (unreachable)`,
      passed: v.passed,
      verdict: v.verdict,
      expected: `${UNREACHABLE_MODES.join(' | ')} in < ${FAIL_FAST_MS} ms (probe timeout ${FAIL_FAST_TIMEOUT_MS} ms)`,
      observed: v.observed,
      detail: probeTail(r),
      command,
      evidence: [{ kind: 'probe', command, exit: r.exitCode, observed: `${r.failure ?? r.outcome}: ${probeTail(r, 1)}` }],
      from: client.key,
      to: victim.key,
      protocol,
      ...(protocol === 'tcp' ? { port: FAULT_TCP_PORT } : {}),
      tags: msTags(r.durationMs, { fault: mode, measure: 'fail-fast' }),
    });
  }
  const after = await faults.dropCount(client.node, DROP_FIB_LOOKUP_FAILED);
  const delta = after - before;
  out.push({
    id: 'drop-fib-lookup-failed',
    name: `${mode}: ${client.node}'s datapath counted the drops as FIB_LOOKUP_FAILED (${DROP_FIB_LOOKUP_FAILED})`,
    passed: delta > 0n,
    expected: `drop reason ${DROP_FIB_LOOKUP_FAILED} counter on ${client.node} grows across the probes`,
    observed: `+${delta} packets`,
    evidence: [{ kind: 'counter', command: `agent ${client.node} GET /v1/maps (drops, reason ${DROP_FIB_LOOKUP_FAILED})`, observed: `${before} → ${after} packets` }],
    tags: { fault: mode, dropReason: String(DROP_FIB_LOOKUP_FAILED), packets: String(delta) },
  });
  return out;
}

/** Probes client → peer that must keep working while the victim is cut off. */
export async function unaffectedChecks(ctx: ScenarioContext, pods: FaultPods, mode: string): Promise<CheckOutcome[]> {
  const { client, peer } = pods;
  return Promise.all(
    (['icmp', 'tcp'] as const).map(async (protocol) => {
      const r = await probeFrom(ctx, client, { protocol, host: peer.ip, port: protocol === 'tcp' ? FAULT_TCP_PORT : undefined, timeoutMs: 1500, identify: true });
      return probeOutcome(r, { outcome: 'ok', responder: protocol === 'icmp' ? peer.ip : peer.name }, {
        id: `peer-unaffected/${protocol}`,
        name: `${mode}: ${protocol} ${client.key} → ${peer.key} unaffected during the fault`,
        from: client.key,
        to: peer.key,
        protocol,
        tags: { fault: mode },
      });
    }),
  );
}

async function recoveryChecks(ctx: ScenarioContext, pods: FaultPods, fault: BirdFault): Promise<CheckOutcome[]> {
  const { client, victim } = pods;
  const faults = faultsOf(ctx);
  // A recovery through an agent restart waits for the agent first (its own budget, as agent-restart
  // judges it: ~9 s on a loaded 2-core machine), then for BGP.
  const budgetMs = RECOVERY_BUDGET_MS + (fault.restartsAgent ? AGENTS_HEALTHY_BUDGET_MS : 0);
  const t1 = performance.now();
  await fault.recover(faults, victim.node);
  let routes: CheckOutcome;
  try {
    const c = await measureConvergence(ctx.spec, { timeoutMs: budgetMs, since: t1, ...convergenceThrough(faults) });
    routes = timedOutcome({ id: 'recovered/routes', name: `${fault.mode}: routes back on every node after recovery`, what: 'every session Established and every pod CIDR routed everywhere', ms: c.ms, budgetMs, tags: { fault: fault.mode, measure: 'recovery' } });
  } catch (e) {
    if (!(e instanceof WaitTimeoutError)) throw e;
    routes = timedOutcome({ id: 'recovered/routes', name: `${fault.mode}: routes back on every node after recovery`, what: 'every session Established and every pod CIDR routed everywhere', ms: undefined, budgetMs, detail: e.detail, tags: { fault: fault.mode, measure: 'recovery' } });
  }
  let reach: CheckOutcome;
  try {
    const probeOnce = () => probeFrom(ctx, client, { protocol: 'tcp', host: victim.ip, port: FAULT_TCP_PORT, timeoutMs: 1000 });
    const { ms } = await waitProbeOk(probeOnce, `tcp ${client.key} → ${victim.key}`, t1, budgetMs);
    reach = timedOutcome({ id: 'recovered/reachable', name: `${fault.mode}: tcp ${client.key} → ${victim.key} works again`, what: 'tcp answered', ms, budgetMs, tags: { fault: fault.mode, measure: 'recovery' } });
  } catch (e) {
    if (!(e instanceof WaitTimeoutError)) throw e;
    reach = timedOutcome({ id: 'recovered/reachable', name: `${fault.mode}: tcp ${client.key} → ${victim.key} works again`, what: 'tcp answered', ms: undefined, budgetMs, detail: e.detail, tags: { fault: fault.mode, measure: 'recovery' } });
  }
  return [routes, reach];
}

/** One fault end to end; whatever happens, the victim's bird is left running. */
export async function birdFaultChecks(ctx: ScenarioContext, fault: BirdFault): Promise<CheckOutcome[]> {
  const pods = faultPods(ctx);
  const faults = faultsOf(ctx);
  const out: CheckOutcome[] = [];
  let recovering = false;
  try {
    const withdrawal = await measureWithdrawal(ctx, pods.victim.node, fault);
    out.push(withdrawal);
    // Not injected: nothing to judge the rest by (and nothing to recover from).
    if (withdrawal.tags?.unsupported) return out;
    out.push(...(await failFastChecks(ctx, pods, fault.mode)));
    out.push(await healthReportsCheck(ctx, pods.victim.node, fault.mode));
    out.push(...(await unaffectedChecks(ctx, pods, fault.mode)));
    recovering = true;
    out.push(...(await recoveryChecks(ctx, pods, fault)));
  } finally {
    // A check that threw mid-fault must not leave the victim cut off for the scenarios after it.
    if (!recovering) await fault.recover(faults, pods.victim.node).catch(() => undefined);
    await faults.bird(pods.victim.node, 'restore').catch((e: Error) => ctx.log(`bgp-peer-loss: could not restore ${pods.victim.node}'s bird: ${e.message}`));
  }
  return out;
}

/** The victim node's agent must say its BGP speaker is in trouble (it does not restart bird itself). */
async function healthReportsCheck(ctx: ScenarioContext, node: string, mode: string): Promise<CheckOutcome> {
  const faults = faultsOf(ctx);
  const t0 = performance.now();
  let last = 'no answer';
  while (performance.now() - t0 < HEALTH_REPORT_BUDGET_MS) {
    try {
      const h = await faults.agentHealth(node);
      last = h.ok ? 'healthy' : `unhealthy: ${h.message}`;
      if (!h.ok && /BGP/.test(h.message ?? '')) break;
    } catch (e) {
      last = `no answer (${(e as Error).message})`;
    }
    await new Promise((r) => setTimeout(r, faults.pollMs ?? 100));
  }
  return {
    id: 'agent-health',
    name: `${mode}: ${node}'s agent reports its BGP speaker as a problem`,
    passed: /^unhealthy: .*BGP/.test(last),
    expected: `agent healthz not ok, naming BGP, within ${HEALTH_REPORT_BUDGET_MS} ms`,
    observed: last,
    tags: { fault: mode, measure: 'health' },
  };
}

/** The converged-before-the-faults check, judged from what was read: every node's sessions and its
 *  kernel routes (re-checked here, so a convergence wait that returned early or a result with a node
 *  missing cannot pass), or the timeout with what was still missing. */
export function convergedOutcome(spec: Pick<ClusterSpec, 'nodes'>, c: ConvergenceResult | WaitTimeoutError, upMs?: number): CheckOutcome {
  const expected = 'every session Established, every node routes every other pod CIDR';
  if (c instanceof WaitTimeoutError) {
    return { passed: false, expected, observed: `not converged: ${c.message}`, detail: c.detail, tags: { measure: 'convergence' } };
  }
  const snapshot = spec.nodes.map((n) => ({ node: n.name, sessions: c.sessions[n.name] ?? [], routes: c.kernelRoutes[n.name] }));
  const gaps = convergenceGaps(spec.nodes, snapshot);
  const routes = Object.entries(c.routes).map(([n, r]) => `${n}: ${r.join(', ')}`).join('\n');
  return {
    passed: gaps.length === 0,
    expected,
    observed: gaps.length ? `not converged: ${gaps.join('; ')}` : `converged (measured in ${c.ms} ms${upMs !== undefined ? `; \`cnilab up\` measured ${upMs} ms` : ''})`,
    detail: routes,
    tags: msTags(c.ms, { measure: 'convergence' }),
    evidence: spec.nodes.map((n) => ({
      kind: 'route' as const,
      command: `ip -j route show proto bird (node ${n.name}); birdc show protocols`,
      observed: `${n.name}: sessions ${(c.sessions[n.name] ?? []).map((s) => s.info || s.state).join(',') || 'none'}; routes ${c.routes[n.name]?.join(', ') || 'none'}`,
    })),
  };
}

async function convergedCheck(ctx: ScenarioContext): Promise<CheckOutcome> {
  let upMs: number | undefined;
  try {
    upMs = (JSON.parse(readFileSync(paths.bgpConvergence(ctx.spec.name), 'utf8')) as { ms: number }).ms;
  } catch {
    /* created without the file (older daemon): the figure here stands alone */
  }
  try {
    return convergedOutcome(ctx.spec, await measureConvergence(ctx.spec, { timeoutMs: RECOVERY_BUDGET_MS, ...convergenceThrough(faultsOf(ctx)) }), upMs);
  } catch (e) {
    if (!(e instanceof WaitTimeoutError)) throw e;
    return convergedOutcome(ctx.spec, e);
  }
}

function baselineProbes(ctx: ScenarioContext): ProbeStep[] {
  const { client, peer, victim } = faultPods(ctx);
  return [victim, peer].flatMap((dst) =>
    (['icmp', 'tcp'] as const).map((protocol) => ({
      kind: 'probe' as const,
      id: `before/${protocol}/${dst.name}`,
      name: `before the fault: ${protocol} ${client.key} → ${dst.key}`,
      from: { pod: client.key },
      to: { pod: dst.key },
      protocol,
      port: protocol === 'tcp' ? FAULT_TCP_PORT : undefined,
      timeoutMs: 1500,
      expect: { outcome: 'ok' as const, responder: protocol === 'icmp' ? dst.ip : dst.name },
      tags: { fromNode: client.node, toNode: dst.node },
    })),
  );
}

export function bgpPeerLossSteps(ctx: ScenarioContext): Step[] {
  return [
    { kind: 'check', id: 'converged', name: 'BGP converged before the faults', run: convergedCheck },
    ...baselineProbes(ctx),
    ...BIRD_FAULTS.map((f): Step => ({ kind: 'check', id: `bird-${f.mode}`, name: f.description, run: (c) => birdFaultChecks(c, f), tags: { fault: f.mode } })),
  ];
}

export const bgpPeerLossScenario: Scenario = {
  name: 'bgp-peer-loss',
  suite: 'faults',
  description: "a node's bird stops (SIGKILL, birdc down, SIGSTOP): routes withdrawn within the hold time, traffic fails fast, recovery",
  topology: { nodes: 3, cni: ['cnilab'], routing: ['native'] },
  setup: faultsObjects,
  steps: bgpPeerLossSteps,
};
