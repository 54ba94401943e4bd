// link-down: the victim node's port on the fabric bridge goes down (its cable is pulled). Traffic to
// its pods must fail (how it fails depends on the mode: a timeout while routes still point at the dead
// node, unreachable once BGP withdrew them), traffic between the other nodes must not notice, and
// once the port is up again everything recovers within a bounded time. In native mode the link is the
// silent failure BGP's hold timer exists for, so node1's withdrawal time is recorded too.
import type { ClusterSpec } from '../../harness/cluster/spec.js';
import { UnsupportedError, WaitTimeoutError } from '../../harness/errors.js';
import type { NodeFaults } from '../../harness/providers/common/faults.js';
import { WithdrawalUnknownError, measureConvergence, waitWithdrawn } from '../../harness/providers/netns/bgp-convergence.js';
import type { FailureMode, ProbeOptions } from '../../harness/traffic/probe.js';
import type { CheckOutcome, ProbeExpectation, ResolvedPod, Scenario, ScenarioContext, Step } from '../framework/model.js';
import { convergenceThrough } from './bgp-peer-loss.js';
import { faultsOf, probeFrom, unsupportedOutcome, waitProbeOk } from './live.js';
import { UNREACHABLE_MODES, WITHDRAWAL_MARGIN_MS, holdTimeMs, probeOutcome, timedOutcome } from './measure.js';
import { FAULT_TCP_PORT, faultPods, faultsObjects, type FaultPods } from './workload.js';

/** Everything answers again after the port is up: BGP reconnect (connect retry 1 s) + propagation in
 *  native mode, neighbour resolution in the others. */
export const LINK_RECOVERY_BUDGET_MS = 15_000;
const PROBE_TIMEOUT_MS = 1000;

type ProbeSpec = { id: string; label: string; from: ResolvedPod; opts: Omit<ProbeOptions, 'netns'>; responder?: string };

/** What must keep working: client → peer, or on a 2-node cluster (peer shares the victim's node)
 *  the client's own node. */
function unaffectedProbes(ctx: ScenarioContext, p: FaultPods): ProbeSpec[] {
  if (p.peer.node !== p.victim.node) {
    return (['icmp', 'tcp'] as const).map((protocol) => ({
      id: `unaffected/${protocol}`,
      label: `${protocol} ${p.client.key} → ${p.peer.key}`,
      from: p.client,
      opts: { protocol, host: p.peer.ip, port: protocol === 'tcp' ? FAULT_TCP_PORT : undefined, timeoutMs: 1500, identify: true },
      responder: protocol === 'icmp' ? p.peer.ip : p.peer.name,
    }));
  }
  const own = ctx.nodes.get(p.client.node)!;
  return [{ id: 'unaffected/icmp-own-node', label: `icmp ${p.client.key} → node ${own.name}`, from: p.client, opts: { protocol: 'icmp', host: own.underlayIp, timeoutMs: 1500 }, responder: own.underlayIp }];
}

function victimProbes(p: FaultPods): ProbeSpec[] {
  return (['icmp', 'tcp'] as const).map((protocol) => ({
    id: `cut-off/${protocol}`,
    label: `${protocol} ${p.client.key} → ${p.victim.key}`,
    from: p.client,
    opts: { protocol, host: p.victim.ip, port: protocol === 'tcp' ? FAULT_TCP_PORT : undefined, timeoutMs: PROBE_TIMEOUT_MS },
  }));
}

/** How traffic to a cut-off node may fail: a timeout while routes still point at it (the tunnel, or
 *  native before the hold timer fires), unreachable once BGP withdrew the route. Not a reset, not a
 *  broken probe tool. */
export const CUT_OFF_MODES: FailureMode[] = ['TIMEOUT', ...UNREACHABLE_MODES];

async function probeCheck(ctx: ScenarioContext, s: ProbeSpec, expect: ProbeExpectation, phase: string): Promise<CheckOutcome> {
  const r = await probeFrom(ctx, s.from, s.opts);
  return probeOutcome(r, expect, { id: s.id, name: `${phase}: ${s.label}`, protocol: s.opts.protocol, ...(s.opts.port ? { port: s.opts.port } : {}) });
}

/** node1's view of the withdrawal: waitWithdrawn over a spec holding only the client and the victim. */
async function withdrawalSeenBy(spec: ClusterSpec, faults: NodeFaults, observer: string, victim: string, since: number): Promise<CheckOutcome> {
  const budgetMs = holdTimeMs() + WITHDRAWAL_MARGIN_MS;
  const cidr = spec.nodes.find((n) => n.name === victim)!.podCidr;
  const view = { ...spec, nodes: spec.nodes.filter((n) => n.name === observer || n.name === victim) };
  const base = { id: 'bgp-withdrawn', name: `link down: ${observer} withdraws ${victim}'s ${cidr} (hold timer)`, what: `${cidr} gone from ${observer}'s kernel table`, budgetMs, tags: { measure: 'withdrawal', fault: 'link-down' } };
  try {
    return timedOutcome({ ...base, ms: await waitWithdrawn(view, victim, budgetMs, { since, ...convergenceThrough(faults) }), detail: `hold time ${holdTimeMs()} ms + margin ${WITHDRAWAL_MARGIN_MS} ms` });
  } catch (e) {
    if (!(e instanceof WaitTimeoutError)) throw e;
    const out = timedOutcome({ ...base, ms: undefined, detail: e.detail });
    return e instanceof WithdrawalUnknownError && e.unreadable ? { ...out, verdict: 'unavailable', observed: `unreadable: ${e.detail}` } : out;
  }
}

async function linkDownChecks(ctx: ScenarioContext): Promise<CheckOutcome[]> {
  const p = faultPods(ctx);
  const native = ctx.spec.routing === 'native' && ctx.spec.cni === 'cnilab';
  const faults = faultsOf(ctx);
  const out: CheckOutcome[] = [];
  const t0 = performance.now();
  try {
    await faults.setLink(p.victim.node, 'down');
  } catch (e) {
    if (e instanceof UnsupportedError) return [unsupportedOutcome('link-down', `${p.victim.node}'s link down`, e)];
    // Half done (the link may be down): put it back before saying so.
    await faults.setLink(p.victim.node, 'up').catch(() => undefined);
    throw e;
  }
  let t1: number;
  try {
    // Probes right away, concurrently with the withdrawal wait: the cut must show whatever BGP does.
    const [withdrawal, cut] = await Promise.all([
      native ? withdrawalSeenBy(ctx.spec, faults, p.client.node, p.victim.node, t0) : Promise.resolve(undefined),
      Promise.all(victimProbes(p).map((s) => probeCheck(ctx, s, { outcome: 'fail', failure: CUT_OFF_MODES }, 'link down'))),
    ]);
    out.push(...cut);
    if (withdrawal) out.push(withdrawal);
    for (const s of unaffectedProbes(ctx, p)) out.push(await probeCheck(ctx, s, { outcome: 'ok', responder: s.responder }, 'link down'));
  } finally {
    t1 = performance.now();
    await faults.setLink(p.victim.node, 'up');
  }
  for (const s of victimProbes(p)) {
    const what = `${s.label} answers again`;
    try {
      const { ms } = await waitProbeOk(() => probeFrom(ctx, s.from, { ...s.opts, timeoutMs: 1000 }), s.label, t1, LINK_RECOVERY_BUDGET_MS);
      out.push(timedOutcome({ id: `recovered/${s.opts.protocol}`, name: `link up: ${what}`, what, ms, budgetMs: LINK_RECOVERY_BUDGET_MS, tags: { measure: 'recovery', fault: 'link-down' } }));
    } catch (e) {
      if (!(e instanceof WaitTimeoutError)) throw e;
      out.push(timedOutcome({ id: `recovered/${s.opts.protocol}`, name: `link up: ${what}`, what, ms: undefined, budgetMs: LINK_RECOVERY_BUDGET_MS, detail: e.detail, tags: { fault: 'link-down' } }));
    }
  }
  if (native) {
    const what = 'every session Established and every pod CIDR routed everywhere';
    try {
      const c = await measureConvergence(ctx.spec, { timeoutMs: LINK_RECOVERY_BUDGET_MS, since: t1, ...convergenceThrough(faults) });
      out.push(timedOutcome({ id: 'recovered/bgp', name: 'link up: BGP converged again', what, ms: c.ms, budgetMs: LINK_RECOVERY_BUDGET_MS, tags: { measure: 'recovery', fault: 'link-down' } }));
    } catch (e) {
      if (!(e instanceof WaitTimeoutError)) throw e;
      out.push(timedOutcome({ id: 'recovered/bgp', name: 'link up: BGP converged again', what, ms: undefined, budgetMs: LINK_RECOVERY_BUDGET_MS, detail: e.detail, tags: { fault: 'link-down' } }));
    }
  }
  return out;
}

function baseline(ctx: ScenarioContext): Step[] {
  const p = faultPods(ctx);
  return [p.victim, p.peer].map((dst) => ({
    kind: 'probe' as const,
    id: `before/tcp/${dst.name}`,
    name: `before the link goes down: tcp ${p.client.key} → ${dst.key}`,
    from: { pod: p.client.key },
    to: { pod: dst.key },
    protocol: 'tcp' as const,
    port: FAULT_TCP_PORT,
    timeoutMs: 1500,
    expect: { outcome: 'ok' as const, responder: dst.name },
  }));
}

export function linkDownSteps(ctx: ScenarioContext): Step[] {
  return [...baseline(ctx), { kind: 'check', id: 'link', name: "the victim node's fabric port down, then up", run: linkDownChecks }];
}

export const linkDownScenario: Scenario = {
  name: 'link-down',
  suite: 'faults',
  description: "the last node's underlay port goes down: its pods are cut off, the others are not, all recovers once it is up",
  topology: { nodes: 2 },
  setup: faultsObjects,
  steps: linkDownSteps,
};
