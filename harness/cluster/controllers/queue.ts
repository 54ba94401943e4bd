// The work queue every controller uses: keys are reconciled after the current turn (so a burst of
// events costs one reconcile per key), one at a time, and a reconcile may ask to be retried later
// (a backoff after failed pods, for instance). Errors are logged, never thrown into the store.
import type { KubeObject } from '../objects.js';
import type { ObjectStore, WatchEvent } from '../store.js';
import { controllerOf } from './pods.js';
export class WorkQueue {
  private dirty = new Set<string>();
  private scheduled = false;
  private timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private reconcile: (key: string) => void | { retryAfterMs: number },
    private log: (msg: string) => void,
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    this.dirty.add(key);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  addAfter(key: string, ms: number): void {
    if (this.stopped || this.timers.has(key)) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    t.unref();
    this.timers.set(key, t);
  }

  private drain(): void {
    this.scheduled = false;
    const keys = [...this.dirty];
    this.dirty.clear();
    for (const key of keys) {
      if (this.stopped) return;
      try {
        const r = this.reconcile(key);
        if (r && r.retryAfterMs > 0) this.addAfter(key, r.retryAfterMs);
      } catch (err) {
        this.log(`reconcile ${key}: ${(err as Error)?.stack ?? err}`);
        this.addAfter(key, 1000);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

/** "ns/name" keys. */
export const keyOf = (ns: string | undefined, name: string) => `${ns ?? ''}/${name}`;
export const splitKey = (key: string) => {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i) || undefined, name: key.slice(i + 1) };
};

/**
 * What the workload controllers share: a work queue of "ns/name" keys of their own kind, fed by the
 * store's watch (each controller says which events concern which key), every object of the kind
 * queued at start, the queue stopped with the watch.
 */
export abstract class QueuedController {
  protected readonly queue: WorkQueue;
  private unwatch?: () => void;

  constructor(protected readonly store: ObjectStore, log: (msg: string) => void, private readonly kind: string) {
    this.queue = new WorkQueue((k) => this.reconcile(k), log);
  }

  start(): void {
    this.unwatch = this.store.watch((ev) => this.onEvent(ev));
    this.enqueueAll();
  }

  stop(): void {
    this.unwatch?.();
    this.queue.stop();
  }

  protected enqueueAll(): void {
    for (const o of this.store.list(this.kind)) this.queue.add(keyOf(o.metadata.namespace, o.metadata.name));
  }

  /** Queues the object itself when it is of this controller's kind, or its controller when that is. */
  protected enqueueSelfOrOwner(o: KubeObject): void {
    if (o.kind === this.kind) this.queue.add(keyOf(o.metadata.namespace, o.metadata.name));
    else {
      const owner = controllerOf(o);
      if (owner?.kind === this.kind) this.queue.add(keyOf(o.metadata.namespace, owner.name));
    }
  }

  protected abstract onEvent(ev: WatchEvent): void;
  protected abstract reconcile(key: string): void | { retryAfterMs: number };
}
