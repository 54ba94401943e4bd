// Acting on a running cluster for the fault scenarios, through the provider (harness/providers/*/
// faults.ts: on the embedded cluster from this host, on a cluster from a kubeconfig through the nodes'
// helper pods): waits that return how long they took, and the probes the checks run. Every wait has a
// deadline and says what it waited for.
import { UnsupportedError, WaitTimeoutError } from '../../harness/errors.js';
import type { NodeFaults } from '../../harness/providers/common/faults.js';
import { NetnsNodeFaults } from '../../harness/providers/netns/faults.js';
import type { ProbeOptions, ProbeResult } from '../../harness/traffic/probe.js';
import type { CheckOutcome, ResolvedPod, ScenarioContext } from '../framework/model.js';
import { probeThrough, providerOf } from '../framework/provider-access.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The node faults of the context's provider. */
export const faultsOf = (ctx: Pick<ScenarioContext, 'provider' | 'spec'>): NodeFaults => providerOf(ctx).nodeFaults();

/** A probe from a pod, through the context's provider (nsenter on the embedded cluster, exec in the pod
 *  on a cluster from a kubeconfig). */
export function probeFrom(ctx: Pick<ScenarioContext, 'provider' | 'spec'>, pod: Pick<ResolvedPod, 'namespace' | 'name'>, o: Omit<ProbeOptions, 'netns'>): Promise<ProbeResult> {
  return probeThrough(providerOf(ctx), { pod }, o);
}

/** Milliseconds from `since` until every node runs an agent other than the killed one and it
 *  answers healthz ok. A restart that reuses the old pid cannot happen while the old one is a zombie
 *  or reaped within 200 ms, so a new pid is the evidence that a restart took place. */
export async function waitAgentsHealthy(faults: NodeFaults, killed: Map<string, number>, since: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  const nodes = [...killed.keys()];
  for (;;) {
    const pending: string[] = [];
    await Promise.all(
      nodes.map(async (n) => {
        const pid = await faults.agentPid(n).catch(() => undefined);
        if (pid === undefined || pid === killed.get(n)) return void pending.push(`${n}: not restarted`);
        const h = await faults.agentHealth(n).catch((e: Error) => ({ ok: false, message: e.message }));
        if (!h.ok) pending.push(`${n}: ${h.message ?? 'not healthy'}`);
      }),
    );
    if (pending.length === 0) return Math.round(performance.now() - since);
    if (performance.now() > deadline) throw new WaitTimeoutError(`agents of ${nodes.join(', ')} to be healthy again`, timeoutMs, pending.sort().join('\n'));
    await sleep(faults.pollMs ?? 50);
  }
}

/** Packets node's datapath dropped for `reason` so far, on the embedded cluster (the services checks). */
export async function dropCount(cluster: string, node: string, reason: number): Promise<bigint> {
  return new NetnsNodeFaults(cluster).dropCount(node, reason);
}

/** Probe until one succeeds; milliseconds from `since`. Throws (with the last failure) at the deadline. */
export async function waitProbeOk(probeOnce: () => Promise<ProbeResult>, what: string, since: number, timeoutMs: number): Promise<{ ms: number; last: ProbeResult }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const r = await probeOnce();
    if (r.ok) return { ms: Math.round(performance.now() - since), last: r };
    if (performance.now() > deadline) {
      throw new WaitTimeoutError(`${what} to answer`, timeoutMs, `${r.outcome}: ${`${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-2).join(' | ')}`);
    }
    await sleep(100);
  }
}

/** A fault the provider cannot inject on this cluster, as a check: "unsupported: … (needs …)",
 *  verdict unavailable — neither a pass nor the datapath's failure. */
export function unsupportedOutcome(id: string, name: string, e: UnsupportedError): CheckOutcome {
  return { id, name, passed: false, verdict: 'unavailable', expected: 'the fault injected and its effect measured', observed: e.message, tags: { unsupported: e.what } };
}

