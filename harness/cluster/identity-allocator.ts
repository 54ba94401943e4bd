// Cluster-wide security identities (CiliumIdentity objects), as Cilium's CRD allocator and its
// operator's garbage collector do them: the same label set gets the same number on every node;
// numbers are handed out in O(1) (a label-set index, a high-water mark, a FIFO of collected numbers);
// an identity that no CiliumEndpoint has carried for a grace period is deleted and its number becomes
// reusable. Fresh numbers are used first and collected ones are reused oldest first, so a number
// comes back as late as possible (a stale copy somewhere has the longest time to go).
import { CnilabError } from '../errors.js';
import type { KubeObject } from './objects.js';
import type { ObjectStore } from './store.js';

/** Cilium's first cluster-local identity; 1..255 are reserved (1 host, 2 world, 6 remote-node, …). */
export const FIRST_CLUSTER_IDENTITY = 256;
/** Cilium's last cluster-local identity (16 bits with cluster ID 0). */
export const LAST_CLUSTER_IDENTITY = 65535;

export interface IdentityGcOptions {
  /** How often unused identities are looked for (Cilium operator: identity-gc-interval). */
  intervalMs: number;
  /** How long an identity must have been unused before it is deleted (Cilium: heartbeat timeout). */
  graceMs: number;
}
export const DEFAULT_IDENTITY_GC: IdentityGcOptions = { intervalMs: 30_000, graceMs: 60_000 };

const keyOf = (sorted: string[]) => JSON.stringify(sorted);

export class IdentityAllocator {
  private byKey = new Map<string, number>();
  private labelsById = new Map<number, string[]>();
  /** When an identity was allocated or last found unused; absent while endpoints carry it. */
  private unusedSince = new Map<number, number>();
  private next = FIRST_CLUSTER_IDENTITY;
  private free: number[] = [];
  private freeHead = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private store: ObjectStore,
    private opts: { last?: number; now?: () => number } = {},
  ) {
    // Identities already in the store (the allocator is the only writer, but rebuild rather than assume).
    for (const obj of store.list('CiliumIdentity')) {
      const id = Number(obj.metadata.name);
      const labels = (obj as { securityLabels?: string[] }).securityLabels ?? [];
      this.byKey.set(keyOf(labels), id);
      this.labelsById.set(id, labels);
      this.unusedSince.set(id, this.now());
      this.next = Math.max(this.next, id + 1);
    }
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  get size(): number {
    return this.labelsById.size;
  }

  /** The same label set always gets the same number, on every node. */
  allocate(labels: string[]): number {
    const sorted = [...new Set(labels)].sort();
    const key = keyOf(sorted);
    const known = this.byKey.get(key);
    if (known !== undefined) {
      this.unusedSince.set(known, this.now());
      return known;
    }
    let id: number;
    if (this.next <= (this.opts.last ?? LAST_CLUSTER_IDENTITY)) id = this.next++;
    else if (this.freeHead < this.free.length) {
      id = this.free[this.freeHead++]!;
      if (this.freeHead > 1024 && this.freeHead * 2 > this.free.length) {
        this.free = this.free.slice(this.freeHead);
        this.freeHead = 0;
      }
    } else {
      throw new CnilabError('CONFLICT', `no free security identity: all ${(this.opts.last ?? LAST_CLUSTER_IDENTITY) - FIRST_CLUSTER_IDENTITY + 1} numbers are in use`);
    }
    const identity = { apiVersion: 'cilium.io/v2', kind: 'CiliumIdentity', metadata: { name: String(id) }, securityLabels: sorted };
    this.store.apply([identity as unknown as KubeObject], { internal: true });
    this.byKey.set(key, id);
    this.labelsById.set(id, sorted);
    this.unusedSince.set(id, this.now());
    return id;
  }

  /**
   * Delete identities that no CiliumEndpoint has carried and nobody has allocated for `graceMs`,
   * counted from the first collection round that found them unused (so an identity whose last pod
   * went just before a round gets the whole grace period). Returns the numbers collected.
   * O(endpoints + identities).
   */
  gc(graceMs: number): number[] {
    const now = this.now();
    const inUse = new Set<number>();
    for (const ep of this.store.list('CiliumEndpoint')) {
      const id = (ep.status as { identity?: { id?: unknown } } | undefined)?.identity?.id;
      if (typeof id === 'number') inUse.add(id);
    }
    const collected: number[] = [];
    for (const [id, labels] of this.labelsById) {
      if (inUse.has(id)) {
        this.unusedSince.delete(id);
        continue;
      }
      const since = this.unusedSince.get(id);
      if (since === undefined) this.unusedSince.set(id, now);
      if (now - (since ?? now) < graceMs) continue;
      try {
        this.store.delete('CiliumIdentity', undefined, String(id));
      } catch {
        /* already gone */
      }
      this.labelsById.delete(id);
      this.byKey.delete(keyOf(labels));
      this.unusedSince.delete(id);
      this.free.push(id);
      collected.push(id);
    }
    return collected;
  }

  /** Run gc() every intervalMs (the timer does not keep the process alive). */
  startGc(opts: IdentityGcOptions, log?: (m: string) => void): void {
    this.stopGc();
    this.timer = setInterval(() => {
      const ids = this.gc(opts.graceMs);
      if (ids.length) log?.(`identity gc: collected ${ids.length} unused identities (${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''})`);
    }, opts.intervalMs);
    this.timer.unref();
  }

  stopGc(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
