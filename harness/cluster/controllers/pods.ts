// What the workload controllers share about pods: which are active, ready, owned by whom, and how a
// pod is made from a template (labels, owner reference, the API server's defaults).
import { createHash } from 'node:crypto';
import type { KubeObject, Pod } from '../objects.js';
import { normalizeObject } from '../objects.js';
import type { ObjectStore } from '../store.js';
import { randomSuffix } from '../kube/admission.js';
import type { PodTemplate, Workload } from '../workloads.js';
import { ownerRefs } from './garbage-collector.js';

const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** A short stable hash of a pod template (pod-template-hash, controller-revision-hash). */
export function templateHash(template: PodTemplate): string {
  const digest = createHash('sha256').update(JSON.stringify(template)).digest();
  return [...digest.subarray(0, 10)].map((b) => ALPHABET[b % ALPHABET.length]).join('');
}

export const phaseOf = (p: KubeObject) => ((p as Pod).status?.phase ?? 'Pending');
/** Counted as a replica: neither finished nor being deleted. */
export const isActive = (p: KubeObject) => !['Succeeded', 'Failed'].includes(phaseOf(p)) && !p.metadata.deletionTimestamp;
export const isReady = (p: KubeObject) =>
  phaseOf(p) === 'Running' && ((p.status as { conditions?: Array<{ type: string; status: string }> })?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

export function controllerRef(owner: KubeObject): Record<string, unknown> {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true };
}

/** The controller owning an object (the owner reference with controller: true). */
export function controllerOf(o: KubeObject): { kind: string; name: string; uid: string } | undefined {
  return ownerRefs(o).find((r) => r.controller);
}

export function ownedPods(store: ObjectStore, owner: KubeObject): KubeObject[] {
  return store.list('Pod', owner.metadata.namespace).filter((p) => controllerOf(p)?.uid === owner.metadata.uid);
}

/** Create a pod from a workload's template, named <owner>-<5 random characters>. */
export function createPodFor(store: ObjectStore, owner: Workload, extra: { nodeName?: string; labels?: Record<string, string> } = {}): KubeObject {
  const ns = owner.metadata.namespace!;
  let name = '';
  do name = `${owner.metadata.name}-${randomSuffix()}`;
  while (store.get('Pod', ns, name));
  const t = owner.spec.template;
  const pod = normalizeObject({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: ns,
      generateName: `${owner.metadata.name}-`,
      labels: { ...(t.metadata?.labels ?? {}), ...(extra.labels ?? {}) },
      ...(t.metadata?.annotations ? { annotations: t.metadata.annotations } : {}),
      ownerReferences: [controllerRef(owner)],
    },
    spec: { ...structuredClone(t.spec), ...(extra.nodeName ? { nodeName: extra.nodeName } : {}) },
    status: { phase: 'Pending' },
  } as KubeObject);
  return store.write(pod);
}

/** Which pods to remove first when scaling down: not yet scheduled/running, then not ready, then the newest. */
export function deletionOrder(pods: KubeObject[]): KubeObject[] {
  const rank = (p: KubeObject) => (phaseOf(p) === 'Pending' ? 0 : isReady(p) ? 2 : 1);
  return [...pods].sort((a, b) => rank(a) - rank(b) || (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') || b.metadata.name.localeCompare(a.metadata.name));
}

/** Write a status only when it changed (the store keeps resourceVersions for real changes). */
export function setStatus(store: ObjectStore, o: KubeObject, status: Record<string, unknown>): void {
  try {
    store.updateStatus(o.kind, o.metadata.namespace, o.metadata.name, status);
  } catch {
    /* deleted meanwhile */
  }
}
