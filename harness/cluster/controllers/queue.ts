// The work queue every controller uses: keys are reconciled after the current turn (so a burst of
// events costs one reconcile per key), one at a time, and a reconcile may ask to be retried later
// (a backoff after failed pods, for instance). Errors are logged, never thrown into the store.
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
