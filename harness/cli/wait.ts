// Waiting for what `apply --wait` and `delete --wait` promise: pods Running (failing fast on Failed), and
// the agent of every node having realized the control plane's revision in its datapath (policies and
// the identities they name), so an immediate probe already meets the new policy. Both through the
// Kubernetes API only, so they work wherever the agents run.
import type { ControlPlaneClient } from '../cluster/client.js';
import type { ClusterSpec } from '../cluster/spec.js';
import { CnilabError, WaitTimeoutError } from '../errors.js';
import type { KubeObject } from '../cluster/objects.js';
import { POLICY_LAST_WRITE_REVISION, POLICY_PROBLEM, POLICY_REALIZED_REVISION, POLICY_WANTED_REVISION } from '../../lib/k8s/annotations.js';

export async function waitPodsReady(client: ControlPlaneClient, pods: Array<{ namespace: string; name: string }>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const want = new Set(pods.map((p) => `${p.namespace}/${p.name}`));
  for (;;) {
    const all = await client.list('Pod');
    const pending: string[] = [];
    for (const p of all) {
      const key = `${p.metadata.namespace}/${p.metadata.name}`;
      if (!want.has(key)) continue;
      const status = (p.status ?? {}) as { phase?: string; reason?: string; message?: string };
      if (status.phase === 'Failed') throw new CnilabError('COMMAND_FAILED', `pod ${key} failed: ${status.message ?? 'unknown reason'}`);
      if (status.phase !== 'Running') pending.push(pendingLine(key, (p.spec as { nodeName?: string } | undefined)?.nodeName, status));
    }
    const missing = [...want].filter((k) => !all.some((p) => `${p.metadata.namespace}/${p.metadata.name}` === k));
    if (!pending.length && !missing.length) return;
    if (Date.now() > deadline) throw new WaitTimeoutError(`pods to be Running: ${[...pending, ...missing.map((k) => `${k} (not found)`)].join('; ')}`, timeoutMs);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A pod still waited for, with where it is and why it is not Running (a sandbox error names its node). */
export function pendingLine(key: string, node: string | undefined, status: { phase?: string; reason?: string; message?: string }): string {
  const why = [status.phase ?? 'no status yet', status.reason, status.message].filter(Boolean).join(': ');
  return `${key} (${node ? `node ${node}, ` : 'not scheduled, '}${why})`;
}

/** How long a problem an agent reports must persist before the wait gives up on it (it retries). */
const PROBLEM_GRACE_MS = 3000;

const annotationNumber = (n: KubeObject, key: string) => {
  const v = Number(n.metadata.annotations?.[key]);
  return Number.isFinite(v) ? v : -1;
};

/**
 * Wait until the agent of every node has realized revision `revision` in its datapath, asking and
 * reading through the Kubernetes API (lib/k8s/annotations.ts): each Node gets the wanted revision,
 * each agent answers on its Node once its informers have delivered everything up to it and its
 * policy state holds it. Then once more for the last object the agents wrote while realizing it
 * (a relabelled pod's CiliumEndpoint, a new CiliumIdentity): the other nodes must have seen that too.
 * Returns what it waited for, or why it did not (a CNI without agents enforces nothing).
 */
export async function waitPolicyRealized(
  client: ControlPlaneClient,
  _cluster: string,
  revision: number,
  timeoutMs: number,
): Promise<{ waited: boolean; note?: string; revision: number; nodes: string[] }> {
  const spec: ClusterSpec = await client.cluster();
  const nodes = spec.nodes.map((n) => n.name);
  if (spec.cni !== 'cnilab') return { waited: false, note: `cni ${spec.cni} runs no cnilab agent and enforces no network policy`, revision, nodes };
  const deadline = Date.now() + timeoutMs;
  const problemSince = new Map<string, number>();
  let target = revision;
  for (let phase = 0; phase < 2; phase++) {
    const wanted = String(target);
    await Promise.all(nodes.map((n) => client.kube.mergePatch('Node', undefined, n, { metadata: { annotations: { [POLICY_WANTED_REVISION]: wanted } } })));
    let lastWrite = 0;
    for (;;) {
      const states = (await client.kube.list('Node')).items
        .filter((n) => nodes.includes(n.metadata.name))
        .map((n) => ({
          node: n.metadata.name,
          revision: annotationNumber(n, POLICY_REALIZED_REVISION),
          lastWrite: annotationNumber(n, POLICY_LAST_WRITE_REVISION),
          problem: n.metadata.annotations?.[POLICY_PROBLEM],
        }));
      const behind = states.filter((s) => s.revision < target);
      if (behind.length === 0) {
        lastWrite = Math.max(0, ...states.map((s) => s.lastWrite));
        break;
      }
      for (const s of behind) {
        if (!s.problem) problemSince.delete(s.node);
        else if (!problemSince.has(s.node)) problemSince.set(s.node, Date.now());
        else if (Date.now() - problemSince.get(s.node)! > PROBLEM_GRACE_MS) {
          throw new CnilabError('COMMAND_FAILED', `the policy of revision ${target} is not enforced on node ${s.node}: ${s.problem}`);
        }
      }
      if (Date.now() > deadline) {
        const where = behind.map((s) => `${s.node} ${s.revision < 0 ? 'not reporting (is its agent running?)' : `at ${s.revision}`}${s.problem ? ` (${s.problem})` : ''}`).join(', ');
        throw new WaitTimeoutError(`the agents to enforce control plane revision ${target} (network policies, identities) on every node; behind: ${where}`, timeoutMs);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    if (lastWrite <= target) break;
    target = lastWrite;
  }
  return { waited: true, revision: target, nodes };
}
