// The policy controller: the glue between the control plane's watch, the endpoint manager, the policy
// engine and the datapath. It
// - feeds the engine: policies, pods (named ports), remote endpoints (CiliumEndpoints of other nodes)
//   and local endpoints (through the endpoint manager's hooks, so a new endpoint's policy is in the
//   datapath before the endpoint is);
// - re-resolves the identity of a local pod when its labels or its namespace's labels change;
// - writes the engine's dirty endpoints to the datapath (only those whose policy really changed) and
//   the CIDR identities to the ipcache;
// - reports the store revision it has realized, which `cnilab apply --wait` waits for on every node.
//
// Events are handled one at a time, in order (a relabel awaits the identity allocator); the datapath is
// written when the queue runs empty, so a burst (the initial listing, a big apply) costs one pass.
import type { Datapath } from '../datapath/types.js';
import type { EndpointState } from '../endpoint/state.js';
import type { EndpointPolicyHooks } from '../endpoint/manager.js';
import { podSecurityLabels } from '../identity/labels.js';
import { PolicyEngine } from './engine.js';
import type { PolicyObject } from './compile.js';
import type { PodWithPorts } from '../../lib/k8s/selectors.js';

/** A watch event as the control plane client delivers it (kept structural: no harness types). */
export interface PolicyWatchEvent {
  type: string;
  resourceVersion?: number;
  object?: {
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string };
    spec?: unknown;
    specs?: unknown;
    status?: unknown;
  };
}

/** The watch kinds the controller needs (besides what the ipcache needs). */
export const POLICY_WATCH_KINDS = ['Namespace', 'Pod', 'NetworkPolicy', 'CiliumNetworkPolicy', 'CiliumEndpoint', 'CiliumIdentity'];

export interface PolicyControllerDeps {
  node: string;
  datapath: Datapath;
  endpoints: {
    list(): EndpointState[];
    relabel(containerId: string, labels: string[]): Promise<boolean>;
  };
  identities: { remember(id: number, labels: string[]): void; forget(id: number): void };
  ipcache: { setCidrIdentities(cidrs: Map<string, number>): void };
  log: (m: string) => void;
  /** Cilium's allow-localhost (default true). */
  allowLocalhost?: boolean;
}

export interface RealizedRevision {
  revision: number;
  /** Wall-clock time (ms since the epoch, sub-ms precision) when it was realized. */
  at: number;
}

const RETRY_MS = 1000;
const HISTORY = 256;
const wallNow = () => performance.timeOrigin + performance.now();

export class PolicyController implements EndpointPolicyHooks {
  readonly engine: PolicyEngine;
  private namespaces = new Map<string, Record<string, string>>();
  private podLabels = new Map<string, Record<string, string>>();
  /** CiliumEndpoint "ns/name" → the member key it was registered under. */
  private remote = new Map<string, string>();
  private queue: PolicyWatchEvent[] = [];
  private running = false;
  private synced = false;
  /** Keys seen since the watch (re)started, to drop what was deleted while it was down. */
  private seen?: { policies: Set<string>; pods: Set<string>; namespaces: Set<string>; remote: Set<string> };
  private processed = 0;
  private realizedRevision = 0;
  private history: RealizedRevision[] = [];
  /** Endpoints that have a policy in the datapath. */
  private written = new Set<number>();
  private retry = new Set<number>();
  private retryTimer?: NodeJS.Timeout;
  private cidrs = new Map<string, number>();
  problem?: string;
  private lastFlush = { at: 0, endpoints: 0, written: 0, entries: 0, ms: 0 };

  constructor(private d: PolicyControllerDeps) {
    this.engine = new PolicyEngine({ allowLocalhost: d.allowLocalhost });
  }

  get revision(): number {
    return this.realizedRevision;
  }
  get isSynced(): boolean {
    return this.synced;
  }

  // ---- Watch side ----------------------------------------------------------------------------------

  /** Every watch event of the agent's stream; those of other kinds are ignored (but move the revision). */
  handle(ev: PolicyWatchEvent): void {
    if (ev.object && !POLICY_WATCH_KINDS.includes(ev.object.kind)) {
      this.queue.push({ type: 'BOOKMARK', resourceVersion: Number(ev.object.metadata.resourceVersion ?? 0) });
    } else this.queue.push(ev);
    void this.run();
  }

  /** The watch stream restarts: everything arrives again as ADDED before SYNCED. */
  resetWatchState(): void {
    this.synced = false;
    this.seen = { policies: new Set(), pods: new Set(), namespaces: new Set(), remote: new Set() };
  }

  /** Flush soon (the endpoint manager changed something outside the watch). */
  private kick(): void {
    this.queue.push({ type: 'KICK' });
    void this.run();
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length) {
        const ev = this.queue.shift()!;
        try {
          await this.apply(ev);
        } catch (e) {
          this.setProblem(`policy: handling ${ev.type} ${ev.object?.kind ?? ''} ${ev.object?.metadata.name ?? ''}: ${(e as Error).message}`);
        }
        const rv = ev.resourceVersion ?? Number(ev.object?.metadata.resourceVersion ?? 0);
        if (rv > this.processed) this.processed = rv;
        if (this.queue.length === 0) this.flush();
      }
    } finally {
      this.running = false;
    }
  }

  private async apply(ev: PolicyWatchEvent): Promise<void> {
    if (ev.type === 'SYNCED') return this.onSynced();
    if (ev.type === 'RELABEL') {
      const st = this.d.endpoints.list().find((e) => e.containerId === ev.object?.metadata.name);
      return st ? this.relabel(st) : undefined;
    }
    const obj = ev.object;
    if (!obj) return;
    const deleted = ev.type === 'DELETED';
    const ns = obj.metadata.namespace ?? 'default';
    const key = `${ns}/${obj.metadata.name}`;
    switch (obj.kind) {
      case 'NetworkPolicy':
      case 'CiliumNetworkPolicy':
        this.seen?.policies.add(`${obj.kind}/${key}`);
        if (deleted) this.engine.deletePolicy(obj.kind, ns, obj.metadata.name);
        else if (!this.engine.upsertPolicy(obj as PolicyObject)) this.d.log(`policy ${obj.kind} ${key} not imported: ${this.engine.problems.get(`${obj.kind}/${key}`)}`);
        return;
      case 'Namespace': {
        const name = obj.metadata.name;
        this.seen?.namespaces.add(name);
        const before = JSON.stringify(this.namespaces.get(name) ?? null);
        if (deleted) this.namespaces.delete(name);
        else this.namespaces.set(name, { ...(obj.metadata.labels ?? {}) });
        if (this.synced && before !== JSON.stringify(this.namespaces.get(name) ?? null)) {
          for (const st of this.d.endpoints.list()) if (st.podNamespace === name) await this.relabel(st);
        }
        return;
      }
      case 'Pod': {
        this.seen?.pods.add(key);
        const before = JSON.stringify(this.podLabels.get(key) ?? null);
        if (deleted) {
          this.podLabels.delete(key);
          this.engine.setPod(key, undefined);
          return;
        }
        this.podLabels.set(key, { ...(obj.metadata.labels ?? {}) });
        this.engine.setPod(key, obj as unknown as PodWithPorts);
        if (this.synced && before !== JSON.stringify(this.podLabels.get(key))) {
          const st = this.d.endpoints.list().find((e) => e.podNamespace === ns && e.podName === obj.metadata.name);
          if (st) await this.relabel(st);
        }
        return;
      }
      case 'CiliumEndpoint':
        return this.onRemoteEndpoint(key, obj.status, deleted);
      case 'CiliumIdentity':
        if (deleted) this.d.identities.forget(Number(obj.metadata.name));
        return;
    }
  }

  private onRemoteEndpoint(key: string, status: unknown, deleted: boolean): void {
    const st = status as { nodeName?: string; identity?: { id?: number; labels?: string[] }; networking?: { addressing?: Array<{ ipv4?: string }> } } | undefined;
    const old = this.remote.get(key);
    // Our own endpoints come through the endpoint manager's hooks, which know them first.
    if (deleted || !st || st.nodeName === this.d.node || typeof st.identity?.id !== 'number') {
      if (old) this.engine.removeMember(old);
      this.remote.delete(key);
      return;
    }
    this.seen?.remote.add(key);
    const member = `${st.nodeName}/${key}`;
    if (old && old !== member) this.engine.removeMember(old);
    this.remote.set(key, member);
    const labels = [...(st.identity.labels ?? [])].sort();
    this.d.identities.remember(st.identity.id, labels);
    this.engine.upsertMember(member, key, st.identity.id, labels, st.networking?.addressing?.[0]?.ipv4);
  }

  private onSynced(): void {
    // Drop what was deleted while the stream was down.
    const seen = this.seen;
    if (seen) {
      for (const k of this.engine.policyObjectKeys()) {
        if (!seen.policies.has(k)) {
          const [kind, ns, name] = k.split('/');
          this.engine.deletePolicy(kind!, ns!, name!);
        }
      }
      for (const k of [...this.podLabels.keys()]) if (!seen.pods.has(k)) (this.podLabels.delete(k), this.engine.setPod(k, undefined));
      for (const k of [...this.namespaces.keys()]) if (!seen.namespaces.has(k)) this.namespaces.delete(k);
      for (const [k, m] of [...this.remote]) if (!seen.remote.has(k)) (this.engine.removeMember(m), this.remote.delete(k));
      this.seen = undefined;
    }
    // Local endpoints (restored ones included), then the whole datapath state against the engine's.
    const local = this.d.endpoints.list();
    const ids = new Set(local.map((st) => st.endpointId));
    for (const ep of this.engine.localEndpoints()) if (!ids.has(ep.endpointId)) this.engine.removeLocalEndpoint(ep.endpointId);
    for (const st of local) this.registerLocal(st);
    // Every local endpoint is written again (the datapath writes only what differs from its maps);
    // policies of endpoints that no longer exist go.
    this.written.clear();
    for (const p of this.d.datapath.listEndpointPolicies?.() ?? []) {
      if (ids.has(p.endpointId)) this.written.add(p.endpointId);
      else this.d.datapath.deleteEndpointPolicy?.(p.endpointId);
    }
    for (const st of local) this.retry.add(st.endpointId);
    this.synced = true;
    // Labels may have changed while this agent was away.
    for (const st of local) this.queue.push({ type: 'RELABEL', object: { kind: 'Relabel', metadata: { name: st.containerId } } });
  }

  /** Move a local endpoint to the identity its current labels give, if they changed. */
  private async relabel(st: EndpointState): Promise<void> {
    const podLabels = this.podLabels.get(`${st.podNamespace}/${st.podName}`);
    if (!podLabels) return; // no Pod object (a bare CNI call): nothing to compare with
    const labels = podSecurityLabels(st.podNamespace, podLabels, this.namespaces.get(st.podNamespace));
    try {
      await this.d.endpoints.relabel(st.containerId, labels);
    } catch (e) {
      this.setProblem(`identity of ${st.podNamespace}/${st.podName}: ${(e as Error).message}`);
    }
  }

  private registerLocal(st: EndpointState): void {
    this.engine.upsertLocalEndpoint({ endpointId: st.endpointId, identity: st.identity, pod: `${st.podNamespace}/${st.podName}` }, st.labels, st.ip);
  }

  // ---- Endpoint manager hooks ------------------------------------------------------------------------

  beforeActivate(st: EndpointState): void {
    this.registerLocal(st);
    if (!this.synced) return;
    // This endpoint's own policy now (an error fails the ADD, which rolls back); the peers later.
    this.realize(st.endpointId);
    // The ADD read the labels from the control plane; a change the watch brought meanwhile is
    // caught by comparing with the watch's view once the endpoint exists (a no-op when they agree).
    this.queue.push({ type: 'RELABEL', object: { kind: 'Relabel', metadata: { name: st.containerId } } });
    this.kick();
  }

  removed(st: EndpointState): void {
    this.engine.removeLocalEndpoint(st.endpointId);
    this.retry.delete(st.endpointId);
    if (this.written.delete(st.endpointId) || !this.synced) this.d.datapath.deleteEndpointPolicy?.(st.endpointId);
    this.kick();
  }

  // ---- Realization ---------------------------------------------------------------------------------

  /** Write an endpoint's whole policy (the datapath diffs it against its maps), or remove it. */
  private realize(endpointId: number): number {
    const p = this.engine.compute(endpointId, false);
    if (!p.ingressEnforced && !p.egressEnforced && p.entries.length === 0) {
      if (this.written.has(endpointId)) this.d.datapath.deleteEndpointPolicy?.(endpointId);
      this.written.delete(endpointId);
      return 0;
    }
    if (!this.d.datapath.setEndpointPolicy) throw new Error('this datapath has no policy map: policies are computed but cannot be enforced');
    this.d.datapath.setEndpointPolicy(p);
    this.written.add(endpointId);
    return p.entries.length;
  }

  private flush(): void {
    if (!this.synced) return;
    const t0 = performance.now();
    const dirty = new Set([...this.engine.takeChanges().map((c) => c.endpointId), ...this.retry]);
    this.retry.clear();
    let written = 0;
    let entries = 0;
    let failed: string | undefined;
    const cidrs = this.engine.cidrIdentities();
    const cidrsChanged = !sameMap(cidrs, this.cidrs);
    try {
      // New CIDR identities reach the ipcache before the entries naming them, and stale ones leave after.
      if (cidrsChanged) this.d.ipcache.setCidrIdentities(new Map([...this.cidrs, ...cidrs]));
    } catch (e) {
      failed = `ipcache: ${(e as Error).message}`;
    }
    for (const id of dirty) {
      try {
        entries += this.realize(id);
        written++;
      } catch (e) {
        this.retry.add(id);
        failed ??= `endpoint ${id}: ${(e as Error).message}`;
      }
    }
    try {
      if (cidrsChanged && !failed) {
        this.d.ipcache.setCidrIdentities(cidrs);
        this.cidrs = cidrs;
      }
    } catch (e) {
      failed ??= `ipcache: ${(e as Error).message}`;
    }
    this.lastFlush = { at: Date.now(), endpoints: dirty.size, written, entries, ms: performance.now() - t0 };
    if (failed) {
      this.setProblem(`policy not realized: ${failed}`);
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, RETRY_MS);
        this.retryTimer.unref();
      }
      return;
    }
    this.problem = undefined;
    if (this.processed > this.realizedRevision) {
      this.realizedRevision = this.processed;
      this.history.push({ revision: this.processed, at: wallNow() });
      if (this.history.length > HISTORY) this.history.shift();
    }
  }

  private setProblem(p: string): void {
    if (p !== this.problem) this.d.log(p);
    this.problem = p;
  }

  stop(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  // ---- API -----------------------------------------------------------------------------------------

  /** What /v1/policy serves: the realized revision, what the engine holds, and per endpoint its policy. */
  status(opts: { entries?: boolean } = {}) {
    const endpoints = this.engine.localEndpoints().map((ep) => {
      const p = this.engine.compute(ep.endpointId);
      return {
        endpointId: ep.endpointId,
        pod: ep.pod,
        identity: ep.identity,
        policies: this.engine.policiesOf(ep.endpointId),
        ingressEnforced: p.ingressEnforced,
        egressEnforced: p.egressEnforced,
        entryCount: p.entries.length,
        written: this.written.has(ep.endpointId),
        ...(opts.entries === false ? {} : { entries: p.entries }),
      };
    });
    return {
      node: this.d.node,
      synced: this.synced,
      revision: this.realizedRevision,
      ...(this.problem ? { problem: this.problem } : {}),
      counts: this.engine.counts(),
      cidrIdentities: Object.fromEntries(this.engine.cidrIdentities()),
      lastFlush: this.lastFlush,
      history: this.history.slice(-32),
      rejected: Object.fromEntries(this.engine.problems),
      notes: this.engine.notes(),
      endpoints,
    };
  }

  /** Realization times of recent revisions (for the update-latency benchmark). */
  realizedHistory(): RealizedRevision[] {
    return [...this.history];
  }
}


function sameMap(a: Map<string, number>, b: Map<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
