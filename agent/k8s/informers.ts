// The agent's view of the cluster: one informer per watched kind (nodes, namespaces, pods, services,
// EndpointSlices, NetworkPolicies, CiliumNetworkPolicies, CiliumEndpoints, CiliumIdentities), their
// caches as typed lookups, and a merged event stream for the modules that consume events.
//
// The stream keeps the shape of the control plane's old private watch (ADDED/MODIFIED/DELETED, one
// SYNCED once every selected kind has been listed, BOOKMARK with a resourceVersion), so a module
// written against that watch works unchanged. A BOOKMARK's resourceVersion is the stream's progress:
// the lowest progress of its informers, below which every event of every selected kind has been
// delivered. Kubernetes resourceVersions are one counter for the whole store (etcd's revision), so
// "realized revision R" means the same thing across kinds.
import type { KubeObject } from '../../lib/k8s/object.js';
import { Informer, type InformerOptions } from './informer.js';
import { RESOURCES, REQUIRED_CRDS, type CiliumEndpointObject, type CiliumIdentityObject, type NodeObject, type WatchedKind } from './resources.js';
import type { KubeTransport } from './transport.js';

export type StreamEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject }
  | { type: 'SYNCED' | 'BOOKMARK'; resourceVersion: number };
export type StreamHandler = (ev: StreamEvent) => void;

export interface KubeInformersOptions {
  kinds?: readonly WatchedKind[];
  resyncMs?: number;
  log?: (m: string) => void;
  backoff?: InformerOptions['backoff'];
}

interface Stream {
  kinds: Set<WatchedKind>;
  handler: StreamHandler;
  synced: boolean;
  progress: number;
}

export class KubeInformers {
  readonly informers = new Map<WatchedKind, Informer>();
  private streams = new Set<Stream>();
  private log: (m: string) => void;

  constructor(
    readonly transport: KubeTransport,
    opts: KubeInformersOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    for (const kind of opts.kinds ?? (Object.keys(RESOURCES) as WatchedKind[])) {
      const inf = new Informer(RESOURCES[kind], transport, { resyncMs: opts.resyncMs, log: this.log, backoff: opts.backoff, onProgress: () => this.progressed(kind) });
      this.informers.set(kind, inf);
      const emit = (type: 'ADDED' | 'MODIFIED' | 'DELETED') => (object: KubeObject) => {
        for (const s of this.streams) if (s.kinds.has(kind)) s.handler({ type, object });
      };
      inf.on({ add: emit('ADDED'), update: emit('MODIFIED'), delete: emit('DELETED') });
    }
  }

  /** Fail early and clearly when the API does not serve what the agent needs (its CRDs above all). */
  async checkServed(): Promise<void> {
    const groups = new Map<string, Set<string>>();
    for (const kind of this.informers.keys()) {
      const r = RESOURCES[kind];
      const gv = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
      if (!groups.has(gv)) {
        let served: Set<string>;
        try {
          const doc = await this.transport.request<{ resources?: Array<{ name: string }> }>('GET', gv);
          served = new Set((doc.resources ?? []).map((x) => x.name));
        } catch (e) {
          served = new Set();
          if (!(e instanceof Error && /404/.test(e.message))) throw e;
        }
        groups.set(gv, served);
      }
      if (!groups.get(gv)!.has(r.plural)) {
        const crd = REQUIRED_CRDS.includes(kind) ? ` (the CustomResourceDefinition ${r.plural}.${r.group} must be installed)` : '';
        throw new Error(`the Kubernetes API at ${this.transport.server} does not serve ${r.plural} in ${gv}${crd}`);
      }
    }
  }

  start(): void {
    for (const inf of this.informers.values()) void inf.start();
  }

  stop(): void {
    for (const inf of this.informers.values()) inf.stop();
    this.streams.clear();
  }

  /** Every informer has delivered its first list. */
  async synced(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const behind = [...this.informers].filter(([, i]) => !i.isSynced).map(([k, i]) => `${k}${i.lastError ? ` (${i.lastError})` : ''}`);
        reject(new Error(`the Kubernetes API at ${this.transport.server}: no initial list of ${behind.join(', ')} within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      await Promise.race([Promise.all([...this.informers.values()].map((i) => i.synced)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  get isSynced(): boolean {
    return [...this.informers.values()].every((i) => i.isSynced);
  }

  private informer(kind: WatchedKind): Informer {
    const inf = this.informers.get(kind);
    if (!inf) throw new Error(`${kind} is not watched by this agent`);
    return inf;
  }

  /** The lowest progress of the given kinds (0 until all of them have listed). */
  progress(kinds: Iterable<WatchedKind> = this.informers.keys()): number {
    let min = Infinity;
    for (const k of kinds) {
      const inf = this.informer(k);
      if (!inf.isSynced) return 0;
      min = Math.min(min, inf.progress);
    }
    return min === Infinity ? 0 : min;
  }

  /** Problems of informers that are reconnecting, for the agent's health. */
  problems(): string[] {
    return [...this.informers].filter(([, i]) => i.lastError).map(([k, i]) => `${k} watch: ${i.lastError}`);
  }

  status() {
    return Object.fromEntries([...this.informers].map(([k, i]) => [k, { synced: i.isSynced, progress: i.progress, objects: i.list().length, ...i.stats, ...(i.lastError ? { lastError: i.lastError } : {}) }]));
  }

  /**
   * A merged event stream of some kinds, as the old control plane watch delivered it. Objects already
   * cached are replayed as ADDED first. Returns a function that ends the subscription.
   */
  watch(kinds: readonly string[], handler: StreamHandler): () => void {
    const s: Stream = { kinds: new Set(kinds.filter((k): k is WatchedKind => this.informers.has(k as WatchedKind))), handler, synced: false, progress: 0 };
    for (const k of kinds) if (!this.informers.has(k as WatchedKind)) throw new Error(`${k} is not watched by this agent`);
    for (const k of s.kinds) {
      const inf = this.informer(k);
      if (inf.isSynced) for (const object of inf.list()) handler({ type: 'ADDED', object });
    }
    this.streams.add(s);
    this.checkStream(s);
    return () => this.streams.delete(s);
  }

  private progressed(kind: WatchedKind): void {
    for (const s of this.streams) if (s.kinds.has(kind)) this.checkStream(s);
  }

  private checkStream(s: Stream): void {
    const p = this.progress(s.kinds);
    if (!s.synced) {
      if (![...s.kinds].every((k) => this.informer(k).isSynced)) return;
      s.synced = true;
      s.progress = p;
      s.handler({ type: 'SYNCED', resourceVersion: p });
      return;
    }
    if (p > s.progress) {
      s.progress = p;
      s.handler({ type: 'BOOKMARK', resourceVersion: p });
    }
  }

  // ---- Typed lookups in the caches ----------------------------------------------------------------

  node(name: string): NodeObject | undefined {
    return this.informer('Node').get(name) as NodeObject | undefined;
  }
  nodes(): readonly NodeObject[] {
    return this.informer('Node').list() as NodeObject[];
  }
  namespace(name: string): KubeObject | undefined {
    return this.informer('Namespace').get(name);
  }
  pod(namespace: string, name: string): KubeObject | undefined {
    return this.informer('Pod').get(name, namespace);
  }
  ciliumEndpoints(): readonly CiliumEndpointObject[] {
    return this.informer('CiliumEndpoint').list() as CiliumEndpointObject[];
  }
  ciliumEndpoint(namespace: string, name: string): CiliumEndpointObject | undefined {
    return this.informer('CiliumEndpoint').get(name, namespace) as CiliumEndpointObject | undefined;
  }
  ciliumIdentities(): readonly CiliumIdentityObject[] {
    return this.informer('CiliumIdentity').list() as CiliumIdentityObject[];
  }
  /** Handlers on one kind's informer (the identity allocator keeps its own index this way). */
  onKind(kind: WatchedKind, h: Parameters<Informer['on']>[0]): void {
    this.informer(kind).on(h);
  }
}
