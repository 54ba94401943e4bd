// Owner references and deletion propagation, as Kubernetes' garbage collector does them:
//   Background  the owner goes now; its dependents are deleted right after (this controller)
//   Foreground  the dependents go first (recursively), then the owner
//   Orphan      the dependents lose their owner reference and stay
// A dependent is deleted only when none of its owners is left. The controller also catches
// dependents whose owner disappeared by any path (cnilab delete, a namespace going away).
import type { KubeObject } from '../objects.js';
import { isNamespaced } from '../objects.js';
import type { ObjectStore, WatchEvent } from '../store.js';

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export const ownerRefs = (o: KubeObject): OwnerReference[] => (Array.isArray(o.metadata.ownerReferences) ? (o.metadata.ownerReferences as OwnerReference[]) : []);

/** The objects that name `owner` among their owners (same namespace, or any for a cluster-scoped owner). */
export function dependentsOf(store: ObjectStore, owner: KubeObject, kinds: readonly string[] = DEPENDENT_KINDS): KubeObject[] {
  const uid = owner.metadata.uid;
  const ns = isNamespaced(owner.kind) ? owner.metadata.namespace : undefined;
  return kinds.flatMap((k) => store.list(k, ns)).filter((o) => ownerRefs(o).some((r) => r.uid === uid));
}

/** Kinds that can have owners in the embedded cluster. */
export const DEPENDENT_KINDS = ['ReplicaSet', 'Pod', 'CiliumEndpoint'] as const;

function stillOwned(store: ObjectStore, o: KubeObject): boolean {
  return ownerRefs(o).some((r) => store.list(r.kind, isNamespaced(r.kind) ? o.metadata.namespace : undefined).some((x) => x.metadata.uid === r.uid));
}

/** Delete one object with a propagation policy; returns the deleted object. */
export function deleteWithPropagation(store: ObjectStore, obj: KubeObject, policy: PropagationPolicy): KubeObject {
  const deps = dependentsOf(store, obj);
  if (policy === 'Orphan') {
    for (const d of deps) {
      const next = structuredClone(d);
      next.metadata.ownerReferences = ownerRefs(d).filter((r) => r.uid !== obj.metadata.uid);
      if ((next.metadata.ownerReferences as unknown[]).length === 0) delete next.metadata.ownerReferences;
      store.write(next);
    }
    return store.delete(obj.kind, obj.metadata.namespace, obj.metadata.name);
  }
  if (policy === 'Foreground') {
    for (const d of deps) {
      // A dependent with another living owner only loses this reference.
      const others = ownerRefs(d).filter((r) => r.uid !== obj.metadata.uid);
      if (others.length && stillOwnedBy(store, d, others)) continue;
      if (store.get(d.kind, d.metadata.namespace, d.metadata.name)) deleteWithPropagation(store, d, 'Foreground');
    }
  }
  return store.delete(obj.kind, obj.metadata.namespace, obj.metadata.name);
}

function stillOwnedBy(store: ObjectStore, o: KubeObject, refs: OwnerReference[]): boolean {
  return refs.some((r) => store.list(r.kind, isNamespaced(r.kind) ? o.metadata.namespace : undefined).some((x) => x.metadata.uid === r.uid));
}

/** Background propagation: when an owner is deleted, delete the dependents it leaves ownerless. */
export class GarbageCollector {
  private unwatch?: () => void;
  private pending = new Set<KubeObject>();
  private scheduled = false;

  constructor(private store: ObjectStore) {}

  start(): void {
    this.unwatch = this.store.watch((ev: WatchEvent) => {
      if (ev.type !== 'DELETED') return;
      this.pending.add(ev.object);
      if (!this.scheduled) {
        this.scheduled = true;
        // After the request that deleted the owner has been answered, as the API server's GC does.
        setImmediate(() => this.sweep());
      }
    });
  }

  stop(): void {
    this.unwatch?.();
  }

  private sweep(): void {
    this.scheduled = false;
    const owners = [...this.pending];
    this.pending.clear();
    for (const owner of owners) {
      for (const d of dependentsOf(this.store, owner)) {
        if (stillOwned(this.store, d)) continue;
        try {
          deleteWithPropagation(this.store, d, 'Background');
        } catch {
          /* deleted meanwhile */
        }
      }
    }
  }
}
