// The ReplicaSet controller: keeps spec.replicas active pods that carry the ReplicaSet as their
// controller, creating from the template and deleting the least useful first, and reports
// replicas / readyReplicas / availableReplicas. Pods that failed (a container that cannot start)
// are replaced after a backoff that doubles per failure, so a broken template cannot spin.
import type { KubeObject } from '../objects.js';
import type { ObjectStore, WatchEvent } from '../store.js';
import type { Workload } from '../workloads.js';
import { createPodFor, deletionOrder, isActive, isReady, ownedPods, phaseOf, setStatus } from './pods.js';
import { QueuedController, splitKey } from './queue.js';

const BACKOFF_MS = { first: 1000, max: 60_000 };

export class ReplicaSetController extends QueuedController {
  /** Consecutive failed pods per ReplicaSet, and when replacing them is allowed again. */
  private failures = new Map<string, { count: number; until: number }>();

  constructor(store: ObjectStore, log: (msg: string) => void) {
    super(store, log, 'ReplicaSet');
  }

  protected onEvent(ev: WatchEvent): void {
    this.enqueueSelfOrOwner(ev.object);
  }

  protected reconcile(key: string): void | { retryAfterMs: number } {
    const { namespace, name } = splitKey(key);
    const rs = this.store.get('ReplicaSet', namespace, name) as Workload | undefined;
    if (!rs) {
      this.failures.delete(key);
      return;
    }
    const pods = ownedPods(this.store, rs);
    const failed = pods.filter((p) => phaseOf(p) === 'Failed');
    const active = pods.filter(isActive);
    const want = rs.spec.replicas ?? 1;
    let retry: { retryAfterMs: number } | undefined;
    if (failed.length) {
      const f = this.failures.get(key) ?? { count: 0, until: 0 };
      f.count += failed.length;
      f.until = Date.now() + Math.min(BACKOFF_MS.first * 2 ** (f.count - 1), BACKOFF_MS.max);
      this.failures.set(key, f);
      for (const p of failed) this.store.delete('Pod', p.metadata.namespace, p.metadata.name);
    } else if (active.length && active.every(isReady)) {
      this.failures.delete(key);
    }
    const backoff = this.failures.get(key);
    if (active.length < want) {
      if (backoff && backoff.until > Date.now()) retry = { retryAfterMs: backoff.until - Date.now() };
      else for (let i = active.length; i < want; i++) createPodFor(this.store, rs);
    } else if (active.length > want) {
      for (const p of deletionOrder(active).slice(0, active.length - want)) this.store.delete('Pod', p.metadata.namespace, p.metadata.name);
    }
    this.updateStatus(rs);
    return retry;
  }

  private updateStatus(rs: Workload): void {
    const pods = ownedPods(this.store, rs).filter(isActive);
    const ready = pods.filter(isReady).length;
    const labels = rs.spec.template.metadata?.labels ?? {};
    const fully = pods.filter((p) => Object.entries(labels).every(([k, v]) => p.metadata.labels?.[k] === v)).length;
    setStatus(this.store, rs as KubeObject, {
      replicas: pods.length,
      fullyLabeledReplicas: fully,
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: rs.metadata.generation ?? 1,
    });
  }
}
