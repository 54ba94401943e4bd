// One informer: @kubernetes/client-node's ListWatch (list, then watch from the list's resourceVersion;
// a 410 Gone, in the stream or as the answer, makes it list again and turn the difference into
// add/update/delete callbacks) plus what an agent needs around it and client-node leaves out:
// - reconnect with back-off: ListWatch gives up on any other error (a refused connection, a reset
//   stream, a failed list); this restarts it after 250 ms doubling to 8 s (with jitter), from the
//   last resourceVersion it saw, and resets the delay once the stream delivers again;
// - watch bookmarks (allowWatchBookmarks) and progress: the resourceVersion up to which every event of
//   this kind has been delivered, from events and bookmarks alike (how `apply --wait` learns that an
//   agent has seen a revision even when nothing of this kind changed);
// - resync: every resyncMs the cached objects are handed to the update handlers again, as client-go's
//   resync period does, so a handler that lost something recovers without a relist;
// - synced: resolves once the first list has been delivered;
// - kind and apiVersion stamped on every object (list items carry neither on a real API server) and
//   handler exceptions caught (client-node's watch would swallow them silently).
import { ListWatch } from '@kubernetes/client-node/dist/cache.js';
import { Watch } from '@kubernetes/client-node/dist/watch.js';
import type { KubeObject } from '../../lib/k8s/object.js';
import { apiVersionOf, type KubeTransport, type ResourceRef } from './transport.js';

export interface InformerHandlers<T extends KubeObject = KubeObject> {
  add?(obj: T): void;
  update?(obj: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions {
  /** Replay the cache to the update handlers this often (0: never). */
  resyncMs?: number;
  labelSelector?: string;
  fieldSelector?: string;
  log?: (m: string) => void;
  /** Called after every event or bookmark, with this informer's progress. */
  onProgress?: (rv: number) => void;
  backoff?: { initialMs: number; maxMs: number };
}

const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 8000 };

export class Informer<T extends KubeObject = KubeObject> {
  private lw: ListWatch<any>;
  private handlers: InformerHandlers<T>[] = [];
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  private stopped = true;
  private rv = 0;
  private syncedFlag = false;
  private resolveSynced!: () => void;
  /** Resolves when the first list has been delivered to the handlers. */
  readonly synced: Promise<void> = new Promise((r) => (this.resolveSynced = r));
  /** The last error, while the informer is reconnecting (cleared when events flow again). */
  lastError?: string;
  /** Counters, for status and tests. */
  readonly stats = { lists: 0, watches: 0, errors: 0, events: 0, bookmarks: 0, resyncs: 0 };

  constructor(
    readonly resource: ResourceRef,
    private transport: KubeTransport,
    private opts: InformerOptions = {},
  ) {
    const self = this;
    const stamp = (o: any) => {
      if (o && typeof o === 'object') {
        o.kind ??= resource.kind;
        o.apiVersion ??= apiVersionOf(resource);
      }
      return o;
    };
    // The watch ListWatch drives: bookmarks asked for, kind stamped, progress and health tracked.
    class ProgressWatch extends Watch {
      override async watch(path: string, query: Record<string, string | number | boolean | undefined>, cb: (phase: string, obj: any, raw?: any) => void, done: (err: any) => void) {
        // ListWatch calls this right after delivering a list (or to resume from its resourceVersion).
        self.onWatchStart(Number(query.resourceVersion) || 0);
        return super.watch(path, { ...query, allowWatchBookmarks: true }, (phase, obj, raw) => {
          if (phase !== 'ERROR') stamp(obj);
          cb(phase, obj, raw);
          self.afterEvent(phase, obj);
        }, done);
      }
    }
    const list = async () => {
      this.stats.lists++;
      const l = await transport.list(resource, { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector });
      this.lastError = undefined;
      for (const o of l.items) stamp(o);
      return l as any;
    };
    this.lw = new ListWatch(transport.path(resource), new ProgressWatch(transport.kc), list, false, opts.labelSelector, opts.fieldSelector);
    const safely = (what: 'add' | 'update' | 'delete') => (obj: any) => {
      for (const h of this.handlers) {
        try {
          h[what]?.(obj as T);
        } catch (e) {
          this.log(`informer ${resource.plural}: ${what} handler failed: ${(e as Error).stack ?? e}`);
        }
      }
    };
    this.lw.on('add', safely('add'));
    this.lw.on('update', safely('update'));
    this.lw.on('delete', safely('delete'));
    this.lw.on('error', (err: any) => this.onError(err));
  }

  private log(m: string): void {
    this.opts.log?.(m);
  }

  /** Add handlers; objects already cached are not replayed (add them before start()). */
  on(h: InformerHandlers<T>): void {
    this.handlers.push(h);
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    if (this.opts.resyncMs) {
      this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncMs);
      this.resyncTimer.unref();
    }
    await this.lw.start();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    void this.lw.stop();
  }

  get isSynced(): boolean {
    return this.syncedFlag;
  }

  /** Every event of this kind up to this resourceVersion has been delivered. */
  get progress(): number {
    return this.rv;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw.get(name, namespace) as T | undefined;
  }

  list(namespace?: string): readonly T[] {
    return this.lw.list(namespace) as T[];
  }

  /** Hand every cached object to the update handlers again (client-go's resync). */
  resync(): void {
    this.stats.resyncs++;
    for (const o of this.lw.list()) {
      for (const h of this.handlers) {
        try {
          h.update?.(o as T);
        } catch (e) {
          this.log(`informer ${this.resource.plural}: resync handler failed: ${(e as Error).message}`);
        }
      }
    }
  }

  private onWatchStart(rv: number): void {
    this.stats.watches++;
    const first = !this.syncedFlag;
    if (first) {
      this.syncedFlag = true;
      this.resolveSynced();
    }
    if (rv > this.rv || first) this.setProgress(Math.max(rv, this.rv));
  }

  private afterEvent(phase: string, obj: any): void {
    if (phase === 'ERROR') {
      // 410 Expired: ListWatch lists again when the stream ends; anything else ends the stream too.
      this.log(`informer ${this.resource.plural}: watch error ${obj?.code ?? ''} ${obj?.reason ?? ''}: ${obj?.message ?? ''}`);
      return;
    }
    if (phase === 'BOOKMARK') this.stats.bookmarks++;
    else this.stats.events++;
    this.failures = 0;
    this.lastError = undefined;
    const rv = Number(obj?.metadata?.resourceVersion);
    if (Number.isFinite(rv) && rv > this.rv) this.setProgress(rv);
  }

  private setProgress(rv: number): void {
    this.rv = rv;
    this.opts.onProgress?.(rv);
  }

  private onError(err: any): void {
    this.stats.errors++;
    this.lastError = String(err?.message ?? err);
    if (this.stopped) return;
    const b = this.opts.backoff ?? DEFAULT_BACKOFF;
    const delay = Math.min(b.maxMs, b.initialMs * 2 ** this.failures) * (0.8 + 0.4 * Math.random());
    this.failures++;
    this.log(`informer ${this.resource.plural}: ${this.lastError}; reconnecting in ${Math.round(delay)} ms`);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopped) void this.lw.start();
    }, delay);
    this.retryTimer.unref();
  }
}
