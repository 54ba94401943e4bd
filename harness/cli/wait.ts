// Waiting for what `apply --wait` and `delete --wait` promise: pods Running (failing fast on Failed), and
// the agent of every node having realized the control plane's revision in its datapath (policies and
// the identities they name), so an immediate probe already meets the new policy.
import type { ControlPlaneClient } from '../cluster/client.js';
import type { ClusterSpec } from '../cluster/spec.js';
import { CnilabError, WaitTimeoutError } from '../errors.js';
import { AgentClient } from '../../agent/api/client.js';

export async function waitPodsReady(client: ControlPlaneClient, pods: Array<{ namespace: string; name: string }>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const want = new Set(pods.map((p) => `${p.namespace}/${p.name}`));
  for (;;) {
    const all = await client.list('Pod');
    const pending: string[] = [];
    for (const p of all) {
      const key = `${p.metadata.namespace}/${p.metadata.name}`;
      if (!want.has(key)) continue;
      const status = (p.status ?? {}) as { phase?: string; message?: string };
      if (status.phase === 'Failed') throw new CnilabError('COMMAND_FAILED', `pod ${key} failed: ${status.message ?? 'unknown reason'}`);
      if (status.phase !== 'Running') pending.push(key);
    }
    const missing = [...want].filter((k) => !all.some((p) => `${p.metadata.namespace}/${p.metadata.name}` === k));
    if (!pending.length && !missing.length) return;
    if (Date.now() > deadline) throw new WaitTimeoutError(`pods to be Running: ${[...pending, ...missing].join(', ')}`, timeoutMs);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** How long a problem an agent reports must persist before the wait gives up on it (it retries). */
const PROBLEM_GRACE_MS = 3000;

/**
 * Wait until the agent of every node reports a realized revision ≥ `revision`, then once more for the
 * store's revision at that moment: realizing a change can make agents write (a relabelled pod's new
 * identity is published in its CiliumEndpoint), and the other nodes must have seen that too.
 * Returns what it waited for, or why it did not (a CNI without agents enforces nothing).
 */
export async function waitPolicyRealized(
  client: ControlPlaneClient,
  cluster: string,
  revision: number,
  timeoutMs: number,
): Promise<{ waited: boolean; note?: string; revision: number; nodes: string[] }> {
  const spec: ClusterSpec = await client.cluster();
  const nodes = spec.nodes.map((n) => n.name);
  if (spec.cni !== 'cnilab') return { waited: false, note: `cni ${spec.cni} runs no cnilab agent and enforces no network policy`, revision, nodes };
  const deadline = Date.now() + timeoutMs;
  const agents = nodes.map((n) => new AgentClient(cluster, n));
  const problemSince = new Map<string, number>();
  let target = revision;
  for (let phase = 0; phase < 2; phase++) {
    for (;;) {
      const states = await Promise.all(
        agents.map(async (a) => {
          try {
            const h = await a.healthz(5000);
            return { node: a.node, revision: h.policyRevision ?? -1, problem: h.policyProblem, unreachable: undefined };
          } catch (e) {
            // Busy or restarting: not an answer, so wait on (until the timeout, which names it).
            return { node: a.node, revision: -1, problem: undefined, unreachable: (e as Error).message };
          }
        }),
      );
      const behind = states.filter((s) => s.revision < target);
      if (behind.length === 0) break;
      for (const s of behind) {
        if (!s.problem) problemSince.delete(s.node);
        else if (!problemSince.has(s.node)) problemSince.set(s.node, Date.now());
        else if (Date.now() - problemSince.get(s.node)! > PROBLEM_GRACE_MS) {
          throw new CnilabError('COMMAND_FAILED', `the policy of revision ${target} is not enforced on node ${s.node}: ${s.problem}`);
        }
      }
      if (Date.now() > deadline) {
        const where = behind.map((s) => `${s.node} ${s.unreachable ? `unreachable (${s.unreachable})` : s.revision < 0 ? 'not reporting' : `at ${s.revision}`}${s.problem ? ` (${s.problem})` : ''}`).join(', ');
        throw new WaitTimeoutError(`the agents to enforce control plane revision ${target} (network policies, identities) on every node; behind: ${where}`, timeoutMs);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const now = (await client.healthz()).resourceVersion;
    if (now <= target) break;
    target = now;
  }
  return { waited: true, revision: target, nodes };
}
