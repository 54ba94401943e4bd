// Checks of each pod's own network configuration, read from inside the pod netns with `ip`:
// eth0's MTU must be the cluster's pod MTU (1450 under VXLAN, so full-size packets fit the tunnel),
// and no neighbour entry may be PERMANENT (the datapath answers ARP; pods need no static entries).
import { run, shellQuote } from '../../harness/exec/run.js';
import type { CheckOutcome, ResolvedPod, ScenarioContext } from '../framework/model.js';
import { connPods } from './workload.js';

/** The MTU from `ip -o link show DEV` output, or undefined. */
export function parseLinkMtu(text: string): number | undefined {
  const m = /\bmtu (\d+)\b/.exec(text);
  return m ? Number(m[1]) : undefined;
}

async function podMtuOutcome(pod: ResolvedPod, want: number): Promise<CheckOutcome> {
  const r = await run(['ip', '-o', 'link', 'show', 'eth0'], { netns: pod.netns, allowFailure: true, timeoutMs: 5000 });
  const mtu = r.code === 0 ? parseLinkMtu(r.stdout) : undefined;
  return {
    id: pod.name,
    name: `eth0 MTU of ${pod.key}`,
    from: pod.key,
    passed: mtu === want,
    expected: `mtu ${want}`,
    observed: mtu === undefined ? `unreadable (exit ${r.code})` : `mtu ${mtu}`,
    command: shellQuote(r.argv),
    ...(mtu === want ? {} : { detail: (r.stdout + r.stderr).trim() }),
    tags: { kind: 'pod-mtu', fromNode: pod.node },
  };
}

async function permanentNeighOutcome(pod: ResolvedPod): Promise<CheckOutcome> {
  const r = await run(['ip', 'neigh', 'show', 'nud', 'permanent'], { netns: pod.netns, allowFailure: true, timeoutMs: 5000 });
  const entries = r.stdout.trim().split('\n').filter(Boolean);
  const ok = r.code === 0 && entries.length === 0;
  return {
    id: pod.name,
    name: `no static neighbour entries in ${pod.key}`,
    from: pod.key,
    passed: ok,
    expected: 'no PERMANENT neighbour entries',
    observed: r.code !== 0 ? `ip failed (exit ${r.code})` : entries.length === 0 ? 'none' : `${entries.length} PERMANENT: ${entries.join('; ')}`,
    command: shellQuote(r.argv),
    ...(r.code !== 0 ? { detail: r.stderr.trim() } : {}),
    tags: { kind: 'pod-neigh', fromNode: pod.node },
  };
}

export async function checkPodMtus(ctx: ScenarioContext): Promise<CheckOutcome[]> {
  return Promise.all(connPods(ctx).map((p) => podMtuOutcome(p, ctx.spec.podMtu)));
}

export async function checkNoPermanentNeighbours(ctx: ScenarioContext): Promise<CheckOutcome[]> {
  return Promise.all(connPods(ctx).map((p) => permanentNeighOutcome(p)));
}
