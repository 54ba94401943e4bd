// The Deployment controller: one ReplicaSet per pod template (named <deployment>-<template hash>,
// with the pod-template-hash label in its selector and pods), scaled to spec.replicas. When the
// template changes, a new ReplicaSet takes the replicas and the old ones are scaled down as the new
// pods become ready (a rolling update with 100 % surge), keeping revisionHistoryLimit old ones at 0.
import type { KubeObject } from '../objects.js';
import type { ObjectStore, WatchEvent } from '../store.js';
import type { Workload } from '../workloads.js';
import { controllerOf, controllerRef, setStatus, templateHash } from './pods.js';
import { QueuedController, splitKey } from './queue.js';

const REVISION = 'deployment.kubernetes.io/revision';

export class DeploymentController extends QueuedController {
  constructor(store: ObjectStore, log: (msg: string) => void) {
    super(store, log, 'Deployment');
  }

  protected onEvent(ev: WatchEvent): void {
    if (ev.object.kind !== 'Pod') this.enqueueSelfOrOwner(ev.object); // its ReplicaSets, not their pods
  }

  private owned(d: KubeObject): Workload[] {
    return this.store.list('ReplicaSet', d.metadata.namespace).filter((rs) => controllerOf(rs)?.uid === d.metadata.uid) as Workload[];
  }

  protected reconcile(key: string): void {
    const { namespace, name } = splitKey(key);
    const d = this.store.get('Deployment', namespace, name) as Workload | undefined;
    if (!d) return;
    const want = d.spec.replicas ?? 1;
    const hash = templateHash(d.spec.template);
    const sets = this.owned(d);
    let current = sets.find((rs) => rs.spec.template.metadata?.labels?.['pod-template-hash'] === hash);
    const revision = (rs: Workload) => Number(rs.metadata.annotations?.[REVISION] ?? 0);
    if (!current) {
      const next = Math.max(0, ...sets.map(revision)) + 1;
      const labels = { ...(d.spec.template.metadata?.labels ?? {}), 'pod-template-hash': hash };
      current = this.store.write({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: `${d.metadata.name}-${hash}`, namespace, labels, annotations: { [REVISION]: String(next), 'deployment.kubernetes.io/desired-replicas': String(want) }, ownerReferences: [controllerRef(d)] },
        spec: {
          replicas: want,
          selector: { ...d.spec.selector, matchLabels: { ...(d.spec.selector.matchLabels ?? {}), 'pod-template-hash': hash } },
          template: { ...d.spec.template, metadata: { ...(d.spec.template.metadata ?? {}), labels } },
        },
      } as KubeObject) as Workload;
    } else if (current.spec.replicas !== want) {
      current = this.store.write({ ...current, spec: { ...current.spec, replicas: want } }) as Workload;
    }
    // Old ReplicaSets give up their pods as the new ones become ready.
    const newReady = Number((current.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0);
    const oldWant = Math.max(0, want - newReady);
    const old = sets.filter((rs) => rs.metadata.uid !== current!.metadata.uid);
    let budget = oldWant;
    for (const rs of old.sort((a, b) => revision(b) - revision(a))) {
      const keep = Math.min(rs.spec.replicas ?? 0, budget);
      budget -= keep;
      if ((rs.spec.replicas ?? 0) !== keep) this.store.write({ ...rs, spec: { ...rs.spec, replicas: keep } });
    }
    const limit = Number(d.spec.revisionHistoryLimit ?? 10);
    const idle = old.filter((rs) => (rs.spec.replicas ?? 0) === 0 && Number((rs.status as { replicas?: number } | undefined)?.replicas ?? 0) === 0).sort((a, b) => revision(a) - revision(b));
    for (const rs of idle.slice(0, Math.max(0, idle.length - limit))) this.store.delete('ReplicaSet', namespace, rs.metadata.name);
    this.updateStatus(d, current);
  }

  private updateStatus(d: Workload, current: Workload): void {
    const st = (rs: KubeObject) => (rs.status ?? {}) as { replicas?: number; readyReplicas?: number; availableReplicas?: number };
    const sets = this.owned(d);
    const sum = (f: (s: ReturnType<typeof st>) => number | undefined) => sets.reduce((n, rs) => n + (f(st(rs)) ?? 0), 0);
    const want = d.spec.replicas ?? 1;
    const available = sum((s) => s.availableReplicas);
    const replicas = sum((s) => s.replicas);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const prev = ((d.status as { conditions?: Array<Record<string, string>> } | undefined)?.conditions ?? []);
    const cond = (type: string, ok: boolean, reason: string, message: string) => {
      const was = prev.find((c) => c.type === type);
      const status = ok ? 'True' : 'False';
      const since = was && was.status === status ? was.lastTransitionTime : now;
      return { type, status, reason, message, lastUpdateTime: was && was.status === status && was.reason === reason ? was.lastUpdateTime : now, lastTransitionTime: since };
    };
    const done = st(current).replicas === want && (st(current).readyReplicas ?? 0) === want && replicas === want;
    setStatus(this.store, d, {
      observedGeneration: d.metadata.generation ?? 1,
      replicas,
      updatedReplicas: st(current).replicas ?? 0,
      readyReplicas: sum((s) => s.readyReplicas),
      availableReplicas: available,
      ...(replicas - available > 0 ? { unavailableReplicas: replicas - available } : {}),
      conditions: [
        cond('Available', available >= want, available >= want ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable', available >= want ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.'),
        cond('Progressing', true, done ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated', `ReplicaSet "${current.metadata.name}" ${done ? 'has successfully progressed' : 'is progressing'}.`),
      ],
    });
  }
}
