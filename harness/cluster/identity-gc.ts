// The operator's side of Cilium's CRD identities: garbage collection. Agents create CiliumIdentity
// objects (agent/identity/crd-allocator.ts); an identity that no CiliumEndpoint has carried for a grace
// period is deleted, and its number becomes free for the agents to reuse (they reuse collected numbers
// oldest first, after the fresh ones). The grace counts from the first collection round that found the
// identity unused, so an identity whose last pod went just before a round gets the whole period.
// O(endpoints + identities) per round, as Cilium's operator.
import type { ObjectStore } from './store.js';

/** Cilium's first cluster-local identity; 1..255 are reserved (1 host, 2 world, 6 remote-node, …). */
export const FIRST_CLUSTER_IDENTITY = 256;

export interface IdentityGcOptions {
  /** How often unused identities are looked for (Cilium operator: identity-gc-interval). */
  intervalMs: number;
  /** How long an identity must have been unused before it is deleted (Cilium: heartbeat timeout). */
  graceMs: number;
}
export const DEFAULT_IDENTITY_GC: IdentityGcOptions = { intervalMs: 30_000, graceMs: 60_000 };

export class IdentityGarbageCollector {
  /** When an identity was first found unused; absent while endpoints carry it. */
  private unusedSince = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  constructor(
    private store: ObjectStore,
    private opts: { now?: () => number } = {},
  ) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** One collection round; returns the numbers collected. */
  gc(graceMs: number): number[] {
    const now = this.now();
    const inUse = new Set<string>();
    for (const ep of this.store.list('CiliumEndpoint')) {
      const id = (ep.status as { identity?: { id?: unknown } } | undefined)?.identity?.id;
      if (typeof id === 'number') inUse.add(String(id));
    }
    const collected: number[] = [];
    const present = new Set<string>();
    for (const obj of this.store.list('CiliumIdentity')) {
      const name = obj.metadata.name;
      present.add(name);
      if (inUse.has(name)) {
        this.unusedSince.delete(name);
        continue;
      }
      const since = this.unusedSince.get(name);
      if (since === undefined) {
        this.unusedSince.set(name, now);
        continue;
      }
      if (now - since < graceMs) continue;
      try {
        this.store.delete('CiliumIdentity', undefined, name);
        collected.push(Number(name));
      } catch {
        /* already gone */
      }
      this.unusedSince.delete(name);
    }
    for (const name of [...this.unusedSince.keys()]) if (!present.has(name)) this.unusedSince.delete(name);
    return collected;
  }

  /** Run gc() every intervalMs (the timer does not keep the process alive). */
  start(opts: IdentityGcOptions, log?: (m: string) => void): void {
    this.stop();
    this.timer = setInterval(() => {
      const ids = this.gc(opts.graceMs);
      if (ids.length) log?.(`identity gc: collected ${ids.length} unused identities (${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''})`);
    }, opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
