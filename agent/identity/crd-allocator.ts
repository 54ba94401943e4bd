// Cluster-wide security identities as Cilium allocates them in CRD mode: a CiliumIdentity object per
// identity, named by its number, holding the security labels. Every agent watches them all; a label set
// already known is answered from that index, a new one gets a number the agent picks and claims by
// creating the object: the API server's AlreadyExists is the lock. Garbage collection is the
// operator's (in the embedded cluster the control plane's): identities no CiliumEndpoint carries are
// deleted after a grace period, and their numbers come back.
//
// Numbers as the control plane's allocator handed them out before (O(1) each): fresh numbers first
// (one past the highest known), then collected ones oldest first (in the order the informer saw them
// deleted), so a number returns as late as possible. Two agents asking for the same new label set at
// once pick the same number; one gets AlreadyExists, reads the object, finds its own labels and uses
// it. Should two objects ever hold one label set (two agents whose informers had seen different
// numbers pick different fresh ones), the lowest number is used: onDuplicate tells the agent, which
// moves its endpoints on the higher number to it, and the other is collected once unused. An identity that local endpoints still use and that disappears (collected in
// a race with a new endpoint) is created again under the same number.
import type { KubeObject } from '../../lib/k8s/object.js';
import { RESOURCES, type CiliumIdentityObject } from '../k8s/resources.js';
import { isAlreadyExists, isNotFound, type KubeTransport } from '../k8s/transport.js';

export const FIRST_CLUSTER_IDENTITY = 256;
export const LAST_CLUSTER_IDENTITY = 65535;
const MAX_ATTEMPTS = 64;

const keyOf = (sorted: readonly string[]) => JSON.stringify(sorted);
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** "k8s:app=web" labels → Cilium's `security-labels` map {"k8s:app": "web"}. */
export function toSecurityLabelMap(labels: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of labels) {
    const eq = l.indexOf('=');
    if (eq < 0) out[l] = '';
    else out[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return out;
}

/** Cilium's `security-labels` map back to sorted "source:key=value" labels. */
export function fromSecurityLabelMap(m: Record<string, string> | undefined): string[] {
  return Object.entries(m ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .sort();
}

/** The CiliumIdentity object for a number and label set (metadata.labels: the valid ones, without source). */
export function identityObject(id: number, sorted: readonly string[]): KubeObject {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(toSecurityLabelMap(sorted))) {
    const key = k.includes(':') ? k.slice(k.indexOf(':') + 1) : k;
    if (key.length <= 316 && LABEL_KEY.test(key) && v.length <= 63 && LABEL_VALUE.test(v)) labels[key] = v;
  }
  return { apiVersion: 'cilium.io/v2', kind: 'CiliumIdentity', metadata: { name: String(id), labels }, 'security-labels': toSecurityLabelMap(sorted) };
}

export interface CrdAllocatorOptions {
  first?: number;
  last?: number;
  log?: (m: string) => void;
  /** Identities this node's endpoints carry now: one of them deleted is created again. */
  inUse?: () => Iterable<{ id: number; labels: string[] }>;
  /**
   * A second identity appeared for a label set (two agents with different views picked different
   * fresh numbers for it at once): endpoints on the higher number should move to lookup()'s lowest, so
   * that the cluster converges on one number per label set.
   */
  onDuplicate?: (labels: string[]) => void;
}

export class CrdIdentityAllocator {
  private idsByKey = new Map<string, Set<number>>();
  private labelsById = new Map<number, string[]>();
  private next: number;
  private free: number[] = [];
  private freeHead = 0;
  /** The gaps below the high-water mark have been looked for once (after a restart nothing is known of the order). */
  private scanned = false;
  private inFlight = new Map<string, Promise<number>>();
  private first: number;
  private last: number;
  /** Counters, for status and tests. */
  readonly stats = { created: 0, reused: 0, conflicts: 0, recreated: 0 };

  constructor(
    private transport: KubeTransport,
    private opts: CrdAllocatorOptions = {},
  ) {
    this.first = opts.first ?? FIRST_CLUSTER_IDENTITY;
    this.last = opts.last ?? LAST_CLUSTER_IDENTITY;
    this.next = this.first;
  }

  /** Informer handlers for CiliumIdentity objects. */
  readonly handlers = {
    add: (o: KubeObject) => this.index(o as CiliumIdentityObject),
    update: (o: KubeObject) => this.index(o as CiliumIdentityObject),
    delete: (o: KubeObject) => this.unindex(o as CiliumIdentityObject),
  };

  get size(): number {
    return this.labelsById.size;
  }

  labelsOf(id: number): string[] | undefined {
    return this.labelsById.get(id);
  }

  /** The number of a label set, if an identity holds it (the lowest of several). */
  lookup(labels: readonly string[]): number | undefined {
    const ids = this.idsByKey.get(keyOf([...new Set(labels)].sort()));
    if (!ids?.size) return undefined;
    let min = Infinity;
    for (const id of ids) min = Math.min(min, id);
    return min;
  }

  private index(o: CiliumIdentityObject): void {
    const id = Number(o.metadata.name);
    if (!Number.isInteger(id)) return;
    const labels = fromSecurityLabelMap(o['security-labels']);
    const old = this.labelsById.get(id);
    if (old) this.idsByKey.get(keyOf(old))?.delete(id);
    this.labelsById.set(id, labels);
    const key = keyOf(labels);
    if (!this.idsByKey.has(key)) this.idsByKey.set(key, new Set());
    const ids = this.idsByKey.get(key)!;
    const added = !ids.has(id);
    ids.add(id);
    if (id >= this.next && id <= this.last) this.next = id + 1;
    if (added && ids.size > 1) this.opts.onDuplicate?.(labels);
  }

  private unindex(o: CiliumIdentityObject): void {
    const id = Number(o.metadata.name);
    const labels = this.labelsById.get(id);
    if (!labels) return;
    this.labelsById.delete(id);
    const ids = this.idsByKey.get(keyOf(labels));
    ids?.delete(id);
    if (ids?.size === 0) this.idsByKey.delete(keyOf(labels));
    if (id >= this.first && id <= this.last) this.free.push(id);
    for (const u of this.opts.inUse?.() ?? []) {
      if (u.id === id) {
        void this.recreate(id, u.labels);
        break;
      }
    }
  }

  /** The next number to try: fresh ones first, then collected ones oldest first. O(1) amortized. */
  private candidate(): number {
    while (this.next <= this.last) {
      const id = this.next++;
      if (!this.labelsById.has(id)) return id;
    }
    if (!this.scanned && this.freeHead >= this.free.length) {
      this.scanned = true;
      const known = new Set(this.free.slice(this.freeHead));
      for (let id = this.first; id <= this.last; id++) if (!this.labelsById.has(id) && !known.has(id)) this.free.push(id);
    }
    while (this.freeHead < this.free.length) {
      const id = this.free[this.freeHead++]!;
      if (this.freeHead > 1024 && this.freeHead * 2 > this.free.length) {
        this.free = this.free.slice(this.freeHead);
        this.freeHead = 0;
      }
      if (!this.labelsById.has(id)) return id;
    }
    throw new Error(`no free security identity: all ${this.last - this.first + 1} numbers are in use`);
  }

  /** The cluster-wide number of a label set, creating its CiliumIdentity if there is none. */
  allocate(labels: readonly string[]): Promise<number> {
    const sorted = [...new Set(labels)].sort();
    const known = this.lookup(sorted);
    if (known !== undefined) {
      this.stats.reused++;
      return Promise.resolve(known);
    }
    const key = keyOf(sorted);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const p = this.claim(sorted).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private async claim(sorted: string[]): Promise<number> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const known = this.lookup(sorted);
      if (known !== undefined) return known;
      const id = this.candidate();
      try {
        const created = await this.transport.create<CiliumIdentityObject>(RESOURCES.CiliumIdentity, identityObject(id, sorted));
        this.index(created);
        this.stats.created++;
        return id;
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        this.stats.conflicts++;
        // Someone holds this number: another agent that just made the same label set (then it is ours
        // too), or another label set our informer has not shown us yet. Read it and move on.
        const existing = await this.transport.get<CiliumIdentityObject>(RESOURCES.CiliumIdentity, undefined, String(id)).catch((err) => {
          if (isNotFound(err)) return undefined;
          throw err;
        });
        if (existing) {
          this.index(existing);
          if (keyOf(fromSecurityLabelMap(existing['security-labels'])) === keyOf(sorted)) return id;
        }
      }
    }
    throw new Error(`could not claim a security identity for ${sorted.join(',')} in ${MAX_ATTEMPTS} attempts (every number tried was taken)`);
  }

  /** An identity a local endpoint uses must exist (restored endpoints, or one collected in a race). */
  async ensure(id: number, labels: readonly string[]): Promise<void> {
    const have = this.labelsById.get(id);
    const sorted = [...new Set(labels)].sort();
    if (have && keyOf(have) === keyOf(sorted)) return;
    if (have) {
      this.opts.log?.(`identity ${id}: held by other labels (${have.join(',')}) than a local endpoint's (${sorted.join(',')})`);
      return;
    }
    await this.recreate(id, sorted);
  }

  private async recreate(id: number, labels: readonly string[]): Promise<void> {
    const sorted = [...new Set(labels)].sort();
    try {
      this.index((await this.transport.create(RESOURCES.CiliumIdentity, identityObject(id, sorted))) as CiliumIdentityObject);
      this.stats.recreated++;
      this.opts.log?.(`identity ${id} was deleted while local endpoints use it: created again`);
    } catch (e) {
      if (isAlreadyExists(e)) return; // someone else did
      this.opts.log?.(`identity ${id}: could not create it again: ${(e as Error).message}`);
    }
  }
}
