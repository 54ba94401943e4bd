// The embedded control plane's object store: what the API server and etcd are to Kubernetes.
// In memory, one per cluster, owned by the cluster daemon. Every change bumps a resourceVersion and
// is broadcast to watchers (the pod runtime, the agents, `cnilab get -w`).
import { randomUUID } from 'node:crypto';
import { ConflictError, InvalidInputError, InvalidInputList, NotFoundError } from '../errors.js';
import { isNamespaced, labelKeyProblem, labelValueProblem, normalizeObject, objectKey, validateObject, type KubeObject } from './objects.js';
import { sameCanonical } from './canonical.js';
import { checkBatchSize, limitProblems, LIMITS } from './limits.js';
import { isDns1123Label } from './names.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject;
  /** The object before a MODIFIED (so a filtered watch can tell "left the selection" from "changed"). */
  old?: KubeObject;
}

/** How many past events the store keeps for watches resuming from a resourceVersion (then 410 Gone). */
export const DEFAULT_HISTORY = 20_000;

export type ApplyAction = 'created' | 'configured' | 'unchanged';
export interface ApplyResult {
  kind: string;
  namespace?: string;
  name: string;
  action: ApplyAction;
}

/** Kinds users may apply; the rest are written by cnilab's own components. */
export const USER_KINDS = new Set(['Namespace', 'Pod', 'Service', 'EndpointSlice', 'NetworkPolicy', 'CiliumNetworkPolicy', 'Deployment', 'ReplicaSet', 'DaemonSet']);

/**
 * An admission step run on every user object of an apply after validation, before anything is
 * stored (what the API server's registry strategies do: allocate a ClusterIP, keep immutable fields).
 * It returns the object to store, or throws InvalidInputError naming the field. `batch` is scratch
 * space shared by the objects of one apply (what they allocated so far): nothing is committed to the
 * store unless the whole batch is admitted.
 */
export type Admission = (obj: KubeObject, old: KubeObject | undefined, where: string, batch: Map<string, unknown>) => KubeObject;

export { isNamespaced };

function keyOf(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${isNamespaced(kind) ? (namespace ?? 'default') : ''}/${name}`;
}

const clone = <T>(v: T): T => structuredClone(v);
const sameJson = sameCanonical;

/**
 * What a user's object becomes when applied over `old`: the fields the system set are kept (uid,
 * creationTimestamp, the status, a scheduled Pod's nodeName), so re-applying an unchanged manifest
 * is a no-op. Internal writers (agents, the runtime) may set status; users never do.
 */
function overSystemFields(obj: KubeObject, old: KubeObject, internal: boolean): KubeObject {
  const merged: KubeObject = {
    ...obj,
    metadata: {
      ...obj.metadata,
      uid: old.metadata.uid,
      creationTimestamp: old.metadata.creationTimestamp,
      ...(old.metadata.generation !== undefined ? { generation: old.metadata.generation } : {}),
    },
    status: internal ? (obj.status ?? old.status) : old.status,
  };
  if (merged.status === undefined) delete merged.status;
  const oldNode = (old.spec as { nodeName?: string } | undefined)?.nodeName;
  if (obj.kind === 'Pod' && oldNode && merged.spec && (merged.spec as { nodeName?: string }).nodeName === undefined) {
    merged.spec = { ...merged.spec, nodeName: oldNode };
  }
  return merged;
}

/**
 * Objects cnilab's own components write (CiliumEndpoints, identities, Nodes) skip the user schema,
 * but never the shape every reader of the store relies on, nor the size limits: the API is reachable
 * by anything on the host, and one malformed object would break every watcher.
 */
function checkInternal(raw: unknown, where: string): KubeObject {
  const o = raw as KubeObject;
  const problems = limitProblems(raw, where);
  if (!o || typeof o !== 'object' || Array.isArray(o)) problems.push(new InvalidInputError(`${where}: (top level)`, 'expected an object'));
  else {
    if (typeof o.kind !== 'string' || !/^[A-Z][A-Za-z0-9]{0,62}$/.test(o.kind)) problems.push(new InvalidInputError(`${where}: kind`, 'expected a kind name'));
    const m = o.metadata as { name?: unknown; namespace?: unknown } | undefined;
    if (!m || typeof m !== 'object' || Array.isArray(m)) problems.push(new InvalidInputError(`${where}: metadata`, 'expected an object'));
    else {
      if (typeof m.name !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(m.name)) problems.push(new InvalidInputError(`${where}: metadata.name`, 'expected a DNS-1123 name'));
      if (m.namespace !== undefined && (typeof m.namespace !== 'string' || !isDns1123Label(m.namespace))) problems.push(new InvalidInputError(`${where}: metadata.namespace`, 'expected a DNS-1123 label'));
    }
    for (const f of ['spec', 'status'] as const) {
      const v = (o as Record<string, unknown>)[f];
      if (v !== undefined && (!v || typeof v !== 'object' || Array.isArray(v))) problems.push(new InvalidInputError(`${where}: ${f}`, 'expected an object'));
    }
  }
  if (problems.length) throw new InvalidInputList(problems);
  return o;
}

const withoutVersion = (o: KubeObject) => ({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });

export class ObjectStore {
  private objects = new Map<string, KubeObject>();
  private version = 0;
  private watchers = new Set<(ev: WatchEvent) => void>();
  private admissions: Admission[] = [];
  /** Recent events in resourceVersion order, for watches that resume (the etcd watch window). */
  private history: WatchEvent[] = [];
  /** history[0..historyStart) is already dropped: trimming one event at a time by splice moved the whole
   *  window per event (60k internal writes took 5 s); the dead prefix is cut off once it is as long as
   *  the window, so trimming is amortized O(1). */
  private historyStart = 0;
  /** Events with a resourceVersion at or below this are gone (compacted). */
  private compactedRv = 0;
  private outbox: WatchEvent[] = [];
  private emitting = false;

  constructor(private historyLimit = DEFAULT_HISTORY) {}

  /** Add an admission step (see Admission): run by apply for user objects and by write (the Kubernetes
   *  API's create/update) for every object. */
  admit(step: Admission): void {
    this.admissions.push(step);
  }

  get resourceVersion(): number {
    return this.version;
  }

  /** The oldest resourceVersion a watch may still resume from. */
  get oldestResumableVersion(): number {
    return this.compactedRv;
  }

  /**
   * The events after `rv`, in order, or undefined when some of them were compacted away (the caller
   * answers 410 Gone, and the client lists again).
   */
  eventsSince(rv: number): WatchEvent[] | undefined {
    if (rv < this.compactedRv) return undefined;
    let lo = this.historyStart;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (Number(this.history[mid]!.object.metadata.resourceVersion) <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.history.slice(lo).map((ev) => clone(ev));
  }

  /** Forget the history up to `rv` (all of it by default), as etcd compaction does. */
  compact(rv = this.version): void {
    this.history = this.history.slice(this.historyStart).filter((ev) => Number(ev.object.metadata.resourceVersion) > rv);
    this.historyStart = 0;
    this.compactedRv = Math.max(this.compactedRv, rv);
  }

  list(kind: string, namespace?: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const obj of this.objects.values()) {
      if (obj.kind !== kind) continue;
      if (namespace !== undefined && isNamespaced(kind) && obj.metadata.namespace !== namespace) continue;
      out.push(clone(obj));
    }
    return out.sort((a, b) =>
      `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`),
    );
  }

  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const obj = this.objects.get(keyOf(kind, namespace, name));
    return obj ? clone(obj) : undefined;
  }

  /** Every object and the resourceVersion: what the daemon persists so a restarted one resumes. */
  snapshot(): { resourceVersion: number; objects: KubeObject[] } {
    return { resourceVersion: this.version, objects: [...this.objects.values()].map(clone) };
  }

  /** The snapshot as JSON, serialized from the stored objects without copying them first (persistence
   *  writes one per changing turn: cloning every object each time made 10k Services take seconds). */
  snapshotJson(): string {
    return JSON.stringify({ resourceVersion: this.version, objects: [...this.objects.values()] });
  }

  /** Load a snapshot into this (empty) store, without watch events: the daemon's restart. */
  restore(snap: { resourceVersion: number; objects: KubeObject[] }): void {
    for (const obj of snap.objects) this.objects.set(objectKey(obj), clone(obj));
    this.version = Math.max(this.version, snap.resourceVersion);
    // The event history did not survive: a watch resuming from before now must list again (410).
    this.compactedRv = this.version;
  }

  /** Subscribe to every change; returns the unsubscribe function. */
  watch(fn: (ev: WatchEvent) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  private emit(type: WatchEventType, object: KubeObject, old?: KubeObject): void {
    const ev: WatchEvent = old ? { type, object: clone(object), old: clone(old) } : { type, object: clone(object) };
    this.history.push(ev);
    if (this.history.length - this.historyStart > this.historyLimit) {
      this.historyStart = this.history.length - this.historyLimit;
      this.compactedRv = Number(this.history[this.historyStart - 1]!.object.metadata.resourceVersion);
      if (this.historyStart >= this.historyLimit) {
        this.history = this.history.slice(this.historyStart);
        this.historyStart = 0;
      }
    }
    // A watcher that writes (the runtime binding a pod it was just told about) must not make later
    // watchers see the second change before the first: events go out strictly in resourceVersion order.
    this.outbox.push(ev);
    if (this.emitting) return;
    this.emitting = true;
    try {
      for (let next = this.outbox.shift(); next; next = this.outbox.shift()) {
        for (const w of this.watchers) w({ ...next, object: clone(next.object) });
      }
    } finally {
      this.emitting = false;
    }
  }

  private put(obj: KubeObject, existed: boolean): void {
    const key = objectKey(obj);
    const old = this.objects.get(key);
    this.version++;
    obj.metadata.resourceVersion = String(this.version);
    // metadata.generation counts changes of the desired state (spec), as the API server does.
    const prevGen = Number(old?.metadata.generation ?? 0);
    obj.metadata.generation = !old ? 1 : sameJson(old.spec, obj.spec) ? prevGen || 1 : prevGen + 1;
    this.objects.set(key, obj);
    this.emit(existed ? 'MODIFIED' : 'ADDED', obj, existed ? old : undefined);
  }

  /**
   * Store an object exactly as given (the Kubernetes API layer has validated it, merged it with the
   * stored one and checked its preconditions); uid and creationTimestamp are filled in when new.
   */
  write(obj: KubeObject): KubeObject {
    let next = clone(obj);
    const old = this.objects.get(objectKey(next));
    for (const step of this.admissions) next = step(next, old ? clone(old) : undefined, '', new Map());
    const existed = old !== undefined;
    next.metadata.uid ??= randomUUID();
    next.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    this.put(next, existed);
    return clone(next);
  }

  /**
   * Apply a batch atomically, as `kubectl apply -f` with several documents: every object is validated
   * first, namespaces must exist (or be created in the same batch), and only then is anything stored.
   */
  apply(input: KubeObject[], opts: { internal?: boolean } = {}): ApplyResult[] {
    if (!opts.internal) checkBatchSize(input.length, 'request body.objects');
    const problems: InvalidInputError[] = [];
    const staged: KubeObject[] = [];
    const batchNamespaces = new Set<string>();
    const batch = new Map<string, unknown>();
    input.forEach((raw, i) => {
      const where = `object ${i + 1}${raw?.kind ? ` (${raw.kind} ${raw.metadata?.namespace ? `${raw.metadata.namespace}/` : ''}${raw.metadata?.name ?? '?'})` : ''}`;
      try {
        if (!opts.internal && raw && typeof raw.kind === 'string' && !USER_KINDS.has(raw.kind)) {
          throw new InvalidInputError(`${where}: kind`, `"${raw.kind}" cannot be applied; supported: ${[...USER_KINDS].join(', ')}`);
        }
        let obj = opts.internal ? clone(checkInternal(raw, where)) : normalizeObject(validateObject(raw, where));
        if (!opts.internal) for (const step of this.admissions) obj = step(obj, this.objects.get(objectKey(obj)), where, batch);
        if (obj.kind === 'Namespace') batchNamespaces.add(obj.metadata.name);
        staged.push(obj);
      } catch (e) {
        if (e instanceof InvalidInputList) problems.push(...e.problems);
        else if (e instanceof InvalidInputError) problems.push(e);
        else throw e;
      }
    });
    staged.forEach((obj, i) => {
      if (!isNamespaced(obj.kind)) return;
      const ns = obj.metadata.namespace ?? 'default';
      if (!batchNamespaces.has(ns) && !this.objects.has(keyOf('Namespace', undefined, ns))) {
        problems.push(
          new InvalidInputError(`object ${i + 1} (${obj.kind} ${ns}/${obj.metadata.name}): metadata.namespace`, `namespace "${ns}" not found`),
        );
      }
      if (obj.kind === 'Pod') {
        const old = this.objects.get(objectKey(obj));
        if (old && !sameJson(old.spec, overSystemFields(obj, old, !!opts.internal).spec)) {
          problems.push(
            new InvalidInputError(
              `object ${i + 1} (Pod ${ns}/${obj.metadata.name}): spec`,
              'a Pod spec cannot be changed once created (only its labels and annotations); delete the Pod first',
            ),
          );
        }
      }
    });
    if (!opts.internal) {
      const created = new Set(staged.map(objectKey).filter((k) => !this.objects.has(k))).size;
      if (this.objects.size + created > LIMITS.totalObjects) {
        problems.push(new InvalidInputError('request body.objects', `${created} new objects would make ${this.objects.size + created} in the cluster; at most ${LIMITS.totalObjects} allowed`));
      }
    }
    if (problems.length) throw problems.length === 1 ? problems[0]! : new InvalidInputList(problems);

    const results: ApplyResult[] = [];
    for (const obj of staged) {
      const old = this.objects.get(objectKey(obj));
      const base = { kind: obj.kind, namespace: isNamespaced(obj.kind) ? obj.metadata.namespace : undefined, name: obj.metadata.name };
      if (old) {
        const merged = overSystemFields(obj, old, !!opts.internal);
        if (sameJson(withoutVersion(old), withoutVersion(merged))) {
          results.push({ ...base, action: 'unchanged' });
          continue;
        }
        this.put(merged, true);
        results.push({ ...base, action: 'configured' });
      } else {
        if (!opts.internal) {
          // The system's fields, never the user's (as the API server ignores them on create).
          delete obj.status;
          delete obj.metadata.uid;
          delete obj.metadata.creationTimestamp;
        }
        obj.metadata.uid = obj.metadata.uid ?? randomUUID();
        obj.metadata.creationTimestamp = obj.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        this.put(obj, false);
        results.push({ ...base, action: 'created' });
      }
    }
    return results;
  }

  /** Replace an object's status (written by the pod runtime and the agents, never by users). */
  updateStatus(kind: string, namespace: string | undefined, name: string, status: Record<string, unknown>): KubeObject {
    const key = keyOf(kind, namespace, name);
    const obj = this.objects.get(key);
    if (!obj) throw new NotFoundError(`${kind} ${namespace ? `${namespace}/` : ''}${name} not found`);
    if (sameJson(obj.status, status)) return clone(obj);
    const next = { ...obj, status: clone(status) };
    this.put(next, true);
    return clone(next);
  }

  /** Bind a Pod to a node (the scheduler's one write to a Pod spec). */
  bindPod(namespace: string, name: string, nodeName: string): KubeObject {
    const key = keyOf('Pod', namespace, name);
    const obj = this.objects.get(key);
    if (!obj) throw new NotFoundError(`Pod ${namespace}/${name} not found`);
    const next = clone(obj);
    (next.spec as Record<string, unknown>).nodeName = nodeName;
    this.put(next, true);
    return clone(next);
  }

  /** Delete an object; deleting a Namespace deletes what is in it, as Kubernetes does. */
  delete(kind: string, namespace: string | undefined, name: string): KubeObject {
    const key = keyOf(kind, namespace, name);
    const obj = this.objects.get(key);
    if (!obj) throw new NotFoundError(`${kind} "${name}" not found${isNamespaced(kind) ? ` in namespace "${namespace ?? 'default'}"` : ''}`);
    if (kind === 'Namespace' && name === 'default') throw new ConflictError('the "default" namespace cannot be deleted');
    if (kind === 'Namespace') {
      for (const o of [...this.objects.values()]) {
        if (isNamespaced(o.kind) && o.metadata.namespace === name) this.remove(objectKey(o));
      }
    }
    this.remove(key);
    return obj;
  }

  private remove(key: string): void {
    const obj = this.objects.get(key);
    if (!obj) return;
    this.objects.delete(key);
    this.version++;
    // The DELETED event carries the deletion's resourceVersion, so a watch can resume after it.
    obj.metadata.resourceVersion = String(this.version);
    this.emit('DELETED', obj);
  }

  /**
   * Set and remove labels of one object, as `kubectl label` does: a key that already has another
   * value is an error unless `overwrite`; removing an absent key is reported, not an error. A
   * Namespace's kubernetes.io/metadata.name label is the API server's and cannot change.
   */
  patchLabels(
    kind: string,
    namespace: string | undefined,
    name: string,
    change: { set?: Record<string, string>; remove?: string[]; overwrite?: boolean },
  ): { object: KubeObject; changed: boolean; missing: string[] } {
    const key = keyOf(kind, namespace, name);
    const obj = this.objects.get(key);
    if (!obj) throw new NotFoundError(`${kind} "${name}" not found${isNamespaced(kind) ? ` in namespace "${namespace ?? 'default'}"` : ''}`);
    if (!USER_KINDS.has(kind)) throw new InvalidInputError('kind', `labels of a ${kind} are cnilab's own and cannot be changed`);
    const problems: InvalidInputError[] = [];
    const labels = { ...(obj.metadata.labels ?? {}) };
    const missing: string[] = [];
    const fixed = kind === 'Namespace' ? 'kubernetes.io/metadata.name' : undefined;
    for (const k of change.remove ?? []) {
      const p = labelKeyProblem(k);
      if (p) problems.push(new InvalidInputError(`label ${JSON.stringify(k)}`, p));
      else if (k === fixed) problems.push(new InvalidInputError(`label ${JSON.stringify(k)}`, 'is set by the API server to the namespace name and cannot be removed'));
      else if (!Object.hasOwn(labels, k)) missing.push(k);
      else delete labels[k];
    }
    for (const [k, v] of Object.entries(change.set ?? {})) {
      const p = labelKeyProblem(k) ?? labelValueProblem(v);
      if (p) problems.push(new InvalidInputError(`label ${JSON.stringify(k)}`, p));
      else if (k === fixed && v !== name) problems.push(new InvalidInputError(`label ${JSON.stringify(k)}`, `is set by the API server to the namespace name ("${name}") and cannot change`));
      else if (Object.hasOwn(obj.metadata.labels ?? {}, k) && obj.metadata.labels![k] !== v && !change.overwrite) {
        problems.push(new InvalidInputError(`label ${JSON.stringify(k)}`, `already has a value (${obj.metadata.labels![k]}), and --overwrite is false`));
      } else labels[k] = v;
    }
    if (problems.length) throw problems.length === 1 ? problems[0]! : new InvalidInputList(problems);
    if (sameJson(labels, obj.metadata.labels ?? {})) return { object: clone(obj), changed: false, missing };
    const next = { ...obj, metadata: { ...obj.metadata, labels } };
    this.put(next, true);
    return { object: clone(next), changed: true, missing };
  }
}
