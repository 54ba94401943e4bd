// The cluster as scenarios reach it: through the Provider interface (harness/providers/common), so the
// same steps run on the embedded cluster (netns: nsenter) and on any cluster from a kubeconfig
// (objects through the API, commands through pods/exec over WebSocket, node commands through a
// privileged host-network helper pod). What a provider cannot give — cnilab's agent API, which lives
// on the embedded cluster's host — is said here, so a check that needs it reports "unavailable"
// instead of passing on no evidence.
import { podNetnsName } from '../../harness/cluster/pod-netns.js';
import type { ClusterSpec } from '../../harness/cluster/spec.js';
import type { Provider, ProviderPod } from '../../harness/providers/common/provider.js';
import { NetnsProvider } from '../../harness/providers/netns/provider.js';
import { probeCommand, probeResultOf, probeWrapperTimeoutMs, type ProbeOptions, type ProbeResult } from '../../harness/traffic/probe.js';
import { WaitTimeoutError } from '../../harness/errors.js';
import type { ResolvedPod, ScenarioContext } from './model.js';

type ObjectLike = { kind?: string; metadata?: { namespace?: string; name?: string } };

/** The provider of a context; the embedded cluster's when the runner was given none. */
export function providerOf(ctx: Pick<ScenarioContext, 'provider' | 'spec'>): Provider {
  return ctx.provider ?? new NetnsProvider(ctx.spec.name);
}

/** Why the checks that read cnilab's agents (endpoints, ipcache, flows, drop counters) cannot run
 *  here, or undefined when they can (the embedded cluster: the agents' sockets are on this host). */
export function agentApiUnavailable(ctx: Pick<ScenarioContext, 'provider'>): string | undefined {
  const kind = ctx.provider?.kind ?? 'netns';
  return kind === 'netns' ? undefined : `needs cnilab's agent API on each node (unix sockets on the embedded cluster's host), which the ${kind} provider does not reach`;
}

/** Apply objects, then wait until the pods among them are Running with an address. */
export async function applyThrough(provider: Provider, objects: unknown[], timeoutMs: number): Promise<void> {
  await provider.apply(objects);
  const pods = (objects as ObjectLike[]).filter((o) => o.kind === 'Pod').map((o) => `${o.metadata?.namespace ?? 'default'}/${o.metadata?.name}`);
  const namespaces = [...new Set(pods.map((k) => k.split('/')[0]!))];
  const deadline = Date.now() + timeoutMs;
  const ready = new Set<string>();
  for (const ns of namespaces) {
    const left = Math.max(1, deadline - Date.now());
    for (const p of await provider.waitPodsReady(ns, left)) ready.add(`${p.namespace}/${p.name}`);
  }
  const missing = pods.filter((k) => !ready.has(k));
  if (missing.length) throw new WaitTimeoutError(`pods ${missing.join(', ')} to be Running`, timeoutMs);
}

/** The Running pods with an address and a node, as the steps name them. */
export async function resolvedPods(provider: Provider, spec: Pick<ClusterSpec, 'name'>): Promise<Map<string, ResolvedPod>> {
  const out = new Map<string, ResolvedPod>();
  for (const p of await provider.pods()) {
    if (p.phase !== 'Running' || !p.ip || !p.node) continue;
    out.set(`${p.namespace}/${p.name}`, resolvedPod(spec.name, p));
  }
  return out;
}

function resolvedPod(cluster: string, p: ProviderPod): ResolvedPod {
  // netns: where the embedded cluster runs it (what the checks not yet on the provider use).
  const netns = podNetnsName(cluster, { metadata: { namespace: p.namespace, name: p.name }, spec: { hostNetwork: p.hostNetwork, nodeName: p.node } });
  return { namespace: p.namespace, name: p.name, key: `${p.namespace}/${p.name}`, node: p.node, ip: p.ip, netns };
}

/** Where a command runs: in a pod, or on a node (its network namespace). */
export type ExecWhere = { pod: Pick<ResolvedPod, 'namespace' | 'name'> } | { node: string };

/** Run a command in a pod or on a node through the provider; never throws for the command's own exit. */
export async function execThrough(provider: Provider, where: ExecWhere, argv: string[], timeoutMs = 5000) {
  const opts = { allowFailure: true, timeoutMs };
  try {
    return 'pod' in where ? await provider.execInPod(where.pod.namespace, where.pod.name, argv, opts) : await provider.execOnNode(where.node, argv, opts);
  } catch (e) {
    // The provider could not run it at all (API refused, pod gone): a tool failure, not the network's answer.
    const what = 'pod' in where ? `${where.pod.namespace}/${where.pod.name}` : `node/${where.node}`;
    return { argv: [`exec-in-${what}`, '--', ...argv], code: 127, signal: null, stdout: '', stderr: (e as Error).message, durationMs: 0, timedOut: false };
  }
}

/** A probe run through the provider: the same command and classification as `probe`, with the pod's
 *  own agnhost (on its PATH) instead of this checkout's path. `o.netns` is not used. */
export async function probeThrough(provider: Provider, where: ExecWhere, o: Omit<ProbeOptions, 'netns'>): Promise<ProbeResult> {
  const full: ProbeOptions = { ...o, netns: '', agnhost: 'agnhost' };
  const r = await execThrough(provider, where, probeCommand(full), probeWrapperTimeoutMs(full));
  return probeResultOf(full, r);
}
