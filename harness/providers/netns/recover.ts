// What a restarted cluster daemon does with the pods the crashed one left (the store comes back from
// its snapshot; the kernel objects never went away). A pod that was running keeps its network
// namespace and IP: it is adopted, and only its containers are started again (their processes died
// with the old daemon or are killed now), restartCount + 1, as kubelet does after a runtime restart.
// A pod caught half-way through its set-up is cleaned (CNI DEL, netns removed) and set up again; a
// pod namespace with no Pod left in the store (deleted as the daemon died) is cleaned and removed.
// The CNI cache mirrors libcni's result cache: DEL of an adopted pod needs its ADD result.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { KubeObject } from '../../cluster/objects.js';
import { netnsNames, paths } from '../../cluster/names.js';
import type { CniResult } from '../common/cni-runtime.js';

export interface CniCacheEntry {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  result: CniResult;
}

const cacheFile = (cluster: string, ns: string, name: string) => `${paths.cniCacheDir(cluster)}/${ns}.${name}.json`;

export function writeCniCache(cluster: string, e: CniCacheEntry): void {
  mkdirSync(paths.cniCacheDir(cluster), { recursive: true });
  writeFileSync(cacheFile(cluster, e.namespace, e.name), JSON.stringify(e));
}

export function readCniCache(cluster: string, ns: string, name: string): CniCacheEntry | undefined {
  try {
    const e = JSON.parse(readFileSync(cacheFile(cluster, ns, name), 'utf8')) as CniCacheEntry;
    return typeof e.uid === 'string' && typeof e.node === 'string' && e.result && typeof e.result === 'object' ? e : undefined;
  } catch {
    return undefined; // absent or unreadable: treated as "no ADD result known"
  }
}

export function removeCniCache(cluster: string, ns: string, name: string): void {
  rmSync(cacheFile(cluster, ns, name), { force: true });
}

export function listCniCache(cluster: string): Array<{ namespace: string; name: string }> {
  const dir = paths.cniCacheDir(cluster);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => /^([a-z0-9-]+)\.([a-z0-9-]+)\.json$/.exec(f))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ namespace: m[1]!, name: m[2]! }));
}

export interface RecoveryPlan {
  /** Running before the crash, sandbox intact: restart the containers only. */
  adopt: KubeObject[];
  /** Half set up (or its sandbox is gone): clean what is there, then set up again. */
  redo: KubeObject[];
  /** Sandboxes of pods no longer in the store: clean and remove. */
  orphans: Array<{ namespace: string; name: string }>;
  /**
   * Completed (Succeeded, or Failed because its containers ended): terminal, as for kubelet — never run
   * again; status and logs stay as they are. `intact`: its sandbox survived and is kept until the pod is
   * deleted; otherwise what is left of it is cleaned.
   */
  finished: Array<{ pod: KubeObject; intact: boolean }>;
}

/** Succeeded, or Failed with every container terminated (not a sandbox or restart failure, which is retried). */
function isCompleted(status: { phase?: string; containerStatuses?: Array<{ state?: { terminated?: unknown } }> }): boolean {
  if (status.phase === 'Succeeded') return true;
  const cs = status.containerStatuses ?? [];
  return status.phase === 'Failed' && cs.length > 0 && cs.every((c) => c.state?.terminated !== undefined);
}

/** Decide, from the store and what exists on the host, what to do with every pod. Pure. */
export function planRecovery(
  cluster: string,
  pods: KubeObject[],
  podNetns: string[],
  cached: (ns: string, name: string) => CniCacheEntry | undefined,
): RecoveryPlan {
  const plan: RecoveryPlan = { adopt: [], redo: [], orphans: [], finished: [] };
  const netns = new Set(podNetns);
  const known = new Set<string>();
  for (const pod of pods) {
    const ns = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name;
    known.add(netnsNames.pod(cluster, ns, name));
    const status = (pod.status ?? {}) as { phase?: string; podIP?: string; containerStatuses?: Array<{ state?: { terminated?: unknown } }> };
    const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
    const cache = cached(ns, name);
    const sandbox = !!status.podIP && netns.has(netnsNames.pod(cluster, ns, name)) && cache?.uid === (pod.metadata.uid ?? '') && cache.node === nodeName;
    if (isCompleted(status)) plan.finished.push({ pod, intact: sandbox });
    else ((status.phase === 'Running' && sandbox) ? plan.adopt : plan.redo).push(pod);
  }
  const prefix = `${netnsNames.clusterPrefix(cluster)}pod.`;
  for (const n of podNetns) {
    if (known.has(n) || !n.startsWith(prefix)) continue;
    const [namespace, name] = n.slice(prefix.length).split('.');
    if (namespace && name) plan.orphans.push({ namespace, name });
  }
  return plan;
}
