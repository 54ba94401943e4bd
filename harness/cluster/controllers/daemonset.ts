// The DaemonSet controller: one pod per node whose labels match the template's nodeSelector, bound
// to the node by spec.nodeName (the embedded scheduler honours it). A changed template replaces the
// pods (controller-revision-hash label); pods on nodes that no longer qualify are removed.
import type { KubeObject } from '../objects.js';
import { matchLabelSelector } from '../objects.js';
import type { ObjectStore, WatchEvent } from '../store.js';
import type { Workload } from '../workloads.js';
import { createPodFor, isActive, isReady, ownedPods, phaseOf, setStatus, templateHash } from './pods.js';
import { QueuedController, splitKey } from './queue.js';

const REVISION_LABEL = 'controller-revision-hash';

export class DaemonSetController extends QueuedController {
  constructor(store: ObjectStore, log: (msg: string) => void) {
    super(store, log, 'DaemonSet');
  }

  protected onEvent(ev: WatchEvent): void {
    if (ev.object.kind === 'Node') this.enqueueAll(); // a node's labels decide where the pods go
    else this.enqueueSelfOrOwner(ev.object);
  }

  private eligibleNodes(ds: Workload): KubeObject[] {
    const sel = (ds.spec.template.spec as { nodeSelector?: Record<string, string> }).nodeSelector;
    return this.store.list('Node').filter((n) => !sel || matchLabelSelector({ matchLabels: sel }, n.metadata.labels));
  }

  protected reconcile(key: string): void | { retryAfterMs: number } {
    const { namespace, name } = splitKey(key);
    const ds = this.store.get('DaemonSet', namespace, name) as Workload | undefined;
    if (!ds) return;
    const hash = templateHash(ds.spec.template);
    const nodes = this.eligibleNodes(ds);
    const pods = ownedPods(this.store, ds);
    let retry: { retryAfterMs: number } | undefined;
    for (const p of pods) {
      const node = (p.spec as { nodeName?: string }).nodeName;
      const stale = p.metadata.labels?.[REVISION_LABEL] !== hash;
      const misplaced = !nodes.some((n) => n.metadata.name === node);
      // A failed daemon pod is replaced, after a second so a broken template cannot spin.
      const failed = phaseOf(p) === 'Failed';
      if (stale || misplaced || failed) this.store.delete('Pod', p.metadata.namespace, p.metadata.name);
      if (failed) retry = { retryAfterMs: 1000 };
    }
    if (!retry) {
      const left = ownedPods(this.store, ds);
      for (const n of nodes) {
        const here = left.filter((p) => (p.spec as { nodeName?: string }).nodeName === n.metadata.name);
        if (here.length === 0) createPodFor(this.store, ds, { nodeName: n.metadata.name, labels: { [REVISION_LABEL]: hash } });
        for (const extra of here.slice(1)) this.store.delete('Pod', extra.metadata.namespace, extra.metadata.name);
      }
    }
    const now = ownedPods(this.store, ds).filter(isActive);
    const ready = now.filter(isReady).length;
    setStatus(this.store, ds, {
      desiredNumberScheduled: nodes.length,
      currentNumberScheduled: now.length,
      updatedNumberScheduled: now.filter((p) => p.metadata.labels?.[REVISION_LABEL] === hash).length,
      numberReady: ready,
      numberAvailable: ready,
      ...(nodes.length - ready > 0 ? { numberUnavailable: nodes.length - ready } : {}),
      numberMisscheduled: 0,
      observedGeneration: ds.metadata.generation ?? 1,
    });
    return retry;
  }
}
