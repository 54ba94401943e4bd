// Waiting until the datapath enforces what was just applied, on every node: the wait of `cnilab apply
// --wait` (harness/cli/wait.ts), here through the provider's Kubernetes API so it works on any cluster
// whose agents are cnilab's (the embedded one, or cnilab's DaemonSet on a real cluster): each Node is
// asked for the API's current revision (an annotation), each agent answers on its Node once it has
// realized it, and the wait is repeated once for the last object the agents wrote while realizing it
// (a relabel makes agents publish new identities). CNIs that report nothing (reference-bridge, kernel,
// a foreign CNI) cannot be waited for: the prober's retries then absorb any lag, and the step's detail
// says the wait was not possible.
import type { ClusterSpec } from '../../../harness/cluster/spec.js';
import type { Provider, ProviderObject } from '../../../harness/providers/common/provider.js';
import { POLICY_LAST_WRITE_REVISION, POLICY_PROBLEM, POLICY_REALIZED_REVISION, POLICY_WANTED_REVISION } from '../../../lib/k8s/annotations.js';

export type EnforcementState = 'enforced' | 'not-reported' | 'timed-out';

export interface EnforcementWait {
  state: EnforcementState;
  ms: number;
  detail?: string;
}

/** How long a problem an agent reports must persist before the wait gives up on it (it retries). */
const PROBLEM_GRACE_MS = 3000;

const annotationNumber = (n: ProviderObject, key: string) => {
  const v = Number(n.metadata.annotations?.[key]);
  return Number.isFinite(v) && n.metadata.annotations?.[key] !== undefined ? v : -1;
};

/** Ask every node for `revision` and wait until each agent reports it realized; returns the last
 *  revision the agents wrote meanwhile. Throws on timeout or on a problem an agent keeps reporting. */
async function waitNodesAt(provider: Provider, nodes: string[], revision: number, deadline: number): Promise<number> {
  const wanted = String(revision);
  await Promise.all(nodes.map((n) => provider.mergePatch('Node', undefined, n, { metadata: { annotations: { [POLICY_WANTED_REVISION]: wanted } } })));
  const problemSince = new Map<string, number>();
  for (;;) {
    const states = (await provider.list('Node')).items
      .filter((n) => nodes.includes(n.metadata.name))
      .map((n) => ({ node: n.metadata.name, revision: annotationNumber(n, POLICY_REALIZED_REVISION), lastWrite: annotationNumber(n, POLICY_LAST_WRITE_REVISION), problem: n.metadata.annotations?.[POLICY_PROBLEM] }));
    const behind = states.filter((s) => s.revision < revision);
    if (behind.length === 0) return Math.max(0, ...states.map((s) => s.lastWrite));
    for (const s of behind) {
      if (!s.problem) problemSince.delete(s.node);
      else if (!problemSince.has(s.node)) problemSince.set(s.node, Date.now());
      else if (Date.now() - problemSince.get(s.node)! > PROBLEM_GRACE_MS) throw new Error(`the policy of revision ${revision} is not enforced on node ${s.node}: ${s.problem}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`the agents did not enforce revision ${revision} in time; behind: ${behind.map((s) => `${s.node} ${s.revision < 0 ? 'not reporting' : `at ${s.revision}`}${s.problem ? ` (${s.problem})` : ''}`).join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function waitPolicyEnforced(provider: Provider, spec: ClusterSpec, timeoutMs = 10_000): Promise<EnforcementWait> {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  if (spec.cni !== 'cnilab') return { state: 'not-reported', ms: ms(), detail: `cni ${spec.cni} runs no cnilab agent to report what it enforces` };
  const nodes = spec.nodes.map((n) => n.name);
  const deadline = Date.now() + timeoutMs;
  try {
    // The API's current revision: what every list carries.
    let target = Number((await provider.list('Namespace')).resourceVersion);
    if (!Number.isFinite(target) || target <= 0) return { state: 'not-reported', ms: ms(), detail: 'the API gave no resourceVersion to wait for' };
    for (let phase = 0; phase < 2; phase++) {
      const lastWrite = await waitNodesAt(provider, nodes, target, deadline);
      if (lastWrite <= target) break;
      target = lastWrite;
    }
    return { state: 'enforced', ms: ms() };
  } catch (e) {
    // Not enforced in time (or an agent reports a problem): probe anyway; the mismatches will show it.
    return { state: 'timed-out', ms: ms(), detail: (e as Error).message };
  }
}
