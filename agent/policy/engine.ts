// The policy engine: from compiled policies, the identities the selector cache knows and this node's
// endpoints, each local endpoint's EndpointPolicy (agent/policy/types.ts). Pure and synchronous: the
// controller feeds it watch events and writes its output to the datapath.
//
// It updates only what changed, entry by entry (Cilium's incremental policy map updates): each
// endpoint's entries are counted contributions (endpoint-entries.ts). A changed policy takes its old
// contributions out of the endpoints it selected and puts its new ones into those it selects now; an
// identity entering or leaving a selector's selection adds or removes just the entries it causes, in
// the endpoints of the policies using that selector. Only what a named port on the peer side makes
// unpredictable (egress named ports depend on the peer's pods) and a pod's own ports change are
// recomputed in full for the endpoints concerned. takeChanges() hands the net changes to the
// controller; compute() gives an endpoint's whole policy.
//
// Named ports resolve on the destination: for ingress on the local endpoint's own pod; for egress on
// the pods of each peer identity. Pods of one identity may declare different numbers under one name;
// the engine then allows each number any of them declares for that identity (the union), which is
// exact when they agree and otherwise lets a peer pod be reached on a number that another pod of its
// identity gave the name. (Cilium resolves a name across the whole cluster, which is coarser still.)
import { namedPortsOf, type PodWithPorts, type Protocol } from '../../lib/k8s/selectors.js';
import { parseIpv4 } from '../../lib/net/cidr.js';
import { LOCAL_IDENTITY_SCOPE, RESERVED_IDENTITY } from '../identity/labels.js';
import { cidrPrefixesOf, compilePolicy, type CompiledPolicy, type PolicyObject, type PortSpec } from './compile.js';
import { identityRecord, SelectorCache, selects, type SelectionChange, type Selector } from './selector-cache.js';
import { EndpointEntries, type EndpointPolicyChange } from './endpoint-entries.js';
import type { EndpointPolicy, PolicyDirection, PolicyEntry } from './types.js';

export type { EndpointPolicyChange } from './endpoint-entries.js';

export interface LocalEndpoint {
  endpointId: number;
  identity: number;
  /** "namespace/name" of its pod. */
  pod: string;
}

interface PolicyState {
  compiled: CompiledPolicy;
  /** The selector of every rule's peers, in rule order (undefined for 'all'). */
  ruleSelectors: Array<Selector[] | undefined>;
  subjects: Set<number>;
  /** Egress entries depend on the peers' pods: never updated incrementally. */
  egressNamedPorts: boolean;
}

interface EpState extends LocalEndpoint {
  policies: Set<string>;
  entries: EndpointEntries;
  /** The host entry of allow-localhost is in `entries`. */
  localhost: boolean;
}

/** An endpoint carrying an identity: keyed "node/namespace/pod", so a pod re-created on another node
 *  while its old endpoint is still known counts twice until the old one goes. */
interface Member {
  identity: number;
  pod: string;
  ip?: number;
}

export interface EngineOptions {
  /** Cilium's allow-localhost (always, in Kubernetes mode): the local host may reach local endpoints. */
  allowLocalhost?: boolean;
}

const PROTO_NUM: Record<Protocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };
const HOST_ENTRY: PolicyEntry = { direction: 'ingress', deny: false, identity: RESERVED_IDENTITY.host, protocol: 0, port: 0, endPort: 0 };

export class PolicyEngine {
  readonly cache = new SelectorCache();
  private policies = new Map<string, PolicyState>();
  /** Keys of the policies with egress named ports (their subjects follow every member change). */
  private egressNamed = new Set<string>();
  private policiesByNs = new Map<string, Set<string>>();
  /** Object key ("Kind/ns/name") → compiled keys (a CNP with specs compiles to several). */
  private objectKeys = new Map<string, string[]>();
  private endpoints = new Map<number, EpState>();
  private members = new Map<string, Member>();
  private membersByIdentity = new Map<number, Set<string>>();
  private pods = new Map<string, PodWithPorts>();
  /** Endpoints with changes to hand out, and those to recompute in full first. */
  private changed = new Set<number>();
  private full = new Set<number>();
  /** CIDR prefix → [local identity, references]. */
  private cidrIds = new Map<string, [number, number]>();
  private freeCidrIds: number[] = [];
  private nextCidrId = LOCAL_IDENTITY_SCOPE;
  /** Contribution removals that found nothing to remove (a bug if ever non-zero; on /v1/policy). */
  inconsistencies = 0;
  /** Policies that could not be compiled, with why (object key → message). */
  readonly problems = new Map<string, string>();

  constructor(private opts: EngineOptions = {}) {}

  // ---- Policies ----------------------------------------------------------------------------------

  /** Add or replace a NetworkPolicy or CiliumNetworkPolicy. Returns false when it cannot be compiled. */
  upsertPolicy(obj: PolicyObject): boolean {
    const objKey = `${obj.kind}/${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}`;
    let compiled: CompiledPolicy[];
    try {
      compiled = compilePolicy(obj);
      this.problems.delete(objKey);
    } catch (e) {
      // An invalid policy is rejected at apply; one that still arrives is reported and, like in
      // Cilium, not imported (its previous version goes too: half of a policy is not the policy).
      this.deletePolicy(obj.kind, obj.metadata.namespace ?? 'default', obj.metadata.name);
      this.problems.set(objKey, (e as Error).message);
      return false;
    }
    const old = this.objectKeys.get(objKey) ?? [];
    for (const k of old) if (!compiled.some((c) => c.key === k)) this.removeCompiled(k);
    for (const c of compiled) this.addCompiled(c);
    this.objectKeys.set(objKey, compiled.map((c) => c.key));
    return true;
  }

  deletePolicy(kind: string, namespace: string, name: string): void {
    const objKey = `${kind}/${namespace}/${name}`;
    for (const k of this.objectKeys.get(objKey) ?? []) this.removeCompiled(k);
    this.objectKeys.delete(objKey);
    this.problems.delete(objKey);
  }

  private prefixes(c: CompiledPolicy): string[] {
    return c.rules.flatMap((r) => (r.peers === 'all' ? [] : r.peers.flatMap(cidrPrefixesOf)));
  }

  private addCompiled(c: CompiledPolicy): void {
    const prev = this.policies.get(c.key);
    // New CIDR identities and selectors first (shared ones are kept, not rebuilt), then the old
    // version's contributions out and the new one's in, then the CIDR identities only the old needed.
    for (const p of this.prefixes(c)) this.refCidr(p);
    const ruleSelectors = c.rules.map((r) => (r.peers === 'all' ? undefined : r.peers.map((spec) => this.cache.acquire(spec, c.key))));
    if (prev) {
      for (const id of [...prev.subjects]) this.detach(this.endpoints.get(id)!, prev);
      for (const sels of prev.ruleSelectors) for (const sel of sels ?? []) this.cache.release(sel, c.key);
    }
    const state: PolicyState = {
      compiled: c,
      ruleSelectors,
      subjects: new Set(),
      egressNamedPorts: c.rules.some((r) => r.direction === 'egress' && r.ports !== 'all' && r.ports.some((p) => p.name)),
    };
    this.policies.set(c.key, state);
    if (state.egressNamedPorts) this.egressNamed.add(c.key);
    else this.egressNamed.delete(c.key);
    if (!this.policiesByNs.has(c.namespace)) this.policiesByNs.set(c.namespace, new Set());
    this.policiesByNs.get(c.namespace)!.add(c.key);
    for (const ep of this.endpoints.values()) {
      const rec = this.cache.identity(ep.identity);
      if (rec && selects({ spec: c.subject }, rec)) this.attach(ep, state);
    }
    if (prev) for (const p of this.prefixes(prev.compiled)) this.unrefCidr(p);
  }

  private removeCompiled(key: string): void {
    const s = this.policies.get(key);
    if (!s) return;
    for (const id of [...s.subjects]) this.detach(this.endpoints.get(id)!, s);
    for (const sels of s.ruleSelectors) for (const sel of sels ?? []) this.cache.release(sel, key);
    this.policies.delete(key);
    this.egressNamed.delete(key);
    this.policiesByNs.get(s.compiled.namespace)?.delete(key);
    for (const p of this.prefixes(s.compiled)) this.unrefCidr(p);
  }

  // ---- Contributions -------------------------------------------------------------------------------

  /** Policy s now selects endpoint ep: its rules' entries go in. */
  private attach(ep: EpState, s: PolicyState): void {
    ep.policies.add(s.compiled.key);
    s.subjects.add(ep.endpointId);
    if (s.egressNamedPorts) this.markFull(ep);
    else if (!this.full.has(ep.endpointId)) s.compiled.rules.forEach((_, i) => this.applyRule(ep, s, i, this.peers(s, i), 1));
    this.updateFlags(ep);
  }

  /** Policy s no longer selects ep (or is being replaced): its rules' entries go out. */
  private detach(ep: EpState, s: PolicyState): void {
    ep.policies.delete(s.compiled.key);
    s.subjects.delete(ep.endpointId);
    if (s.egressNamedPorts) this.markFull(ep);
    else if (!this.full.has(ep.endpointId)) s.compiled.rules.forEach((_, i) => this.applyRule(ep, s, i, this.peers(s, i), -1));
    this.updateFlags(ep);
  }

  /** The peers of rule i, each as often as a selector of the rule selects it (contributions count). */
  private *peers(s: PolicyState, i: number): Iterable<number> {
    const sels = s.ruleSelectors[i];
    if (sels === undefined) yield 0;
    else for (const sel of sels) yield* sel.selected;
  }

  private applyRule(ep: EpState, s: PolicyState, i: number, ids: Iterable<number>, d: 1 | -1): void {
    this.ruleEntries(ep, s, i, ids, (e) => {
      if (!ep.entries.ref(e, d)) this.inconsistencies++;
    });
    this.changed.add(ep.endpointId);
  }

  private ruleEntries(ep: EpState, s: PolicyState, i: number, ids: Iterable<number>, out: (e: PolicyEntry) => void): void {
    const rule = s.compiled.rules[i]!;
    const entry = (identity: number, protocol: number, port: number, endPort: number): PolicyEntry => ({ direction: rule.direction, deny: rule.deny, identity, protocol, port, endPort });
    if (rule.ports === 'all') {
      for (const id of ids) out(entry(id, 0, 0, 0));
      return;
    }
    const idList = [...ids];
    for (const p of rule.ports) {
      if (!p.name) {
        for (const id of idList) out(entry(id, p.protocol, p.port, p.endPort));
      } else if (rule.direction === 'ingress') {
        // The destination is this endpoint: its own pod's ports name the number.
        const resolved = this.resolveName([ep.pod], p);
        for (const id of idList) for (const [proto, port] of resolved) out(entry(id, proto, port, port));
      } else {
        // The destination is each peer: resolve on the pods of every peer identity ("any peer" =
        // every pod identity, since only pods have named ports).
        for (const id of idList) {
          for (const t of id === 0 ? this.membersByIdentity.keys() : [id]) {
            const pods = [...(this.membersByIdentity.get(t) ?? [])].map((m) => this.members.get(m)!.pod);
            for (const [proto, port] of this.resolveName(pods, p)) out(entry(t, proto, port, port));
          }
        }
      }
    }
  }

  private updateFlags(ep: EpState): void {
    let ingress = false;
    let egress = false;
    for (const k of ep.policies) {
      const c = this.policies.get(k)!.compiled;
      ingress ||= c.ingress;
      egress ||= c.egress;
    }
    ep.entries.ingress = ingress;
    ep.entries.egress = egress;
    const localhost = ingress && this.opts.allowLocalhost !== false;
    if (localhost !== ep.localhost && !this.full.has(ep.endpointId)) ep.entries.ref(HOST_ENTRY, localhost ? 1 : -1);
    ep.localhost = localhost;
    this.changed.add(ep.endpointId);
  }

  private markFull(ep: EpState): void {
    this.full.add(ep.endpointId);
    this.changed.add(ep.endpointId);
  }

  /** Every contribution to an endpoint, from scratch. */
  private *scratch(ep: EpState): Iterable<PolicyEntry> {
    const out: PolicyEntry[] = [];
    for (const k of ep.policies) {
      const s = this.policies.get(k)!;
      s.compiled.rules.forEach((_, i) => this.ruleEntries(ep, s, i, this.peers(s, i), (e) => out.push(e)));
    }
    if (ep.localhost) out.push(HOST_ENTRY);
    yield* out;
  }

  private selectionsChanged(changes: SelectionChange[]): void {
    for (const { sel, id, added } of changes) {
      for (const user of sel.users.keys()) {
        const s = this.policies.get(user);
        if (!s || s.subjects.size === 0) continue;
        if (s.egressNamedPorts) {
          for (const ep of s.subjects) this.markFull(this.endpoints.get(ep)!);
          continue;
        }
        s.ruleSelectors.forEach((sels, i) => {
          for (const x of sels ?? []) {
            if (x !== sel) continue;
            for (const epId of s.subjects) {
              const ep = this.endpoints.get(epId)!;
              if (!this.full.has(epId)) this.applyRule(ep, s, i, [id], added ? 1 : -1);
            }
          }
        });
      }
    }
  }

  private fullEgressNamedPorts(): void {
    for (const k of this.egressNamed) for (const id of this.policies.get(k)!.subjects) this.markFull(this.endpoints.get(id)!);
  }

  // ---- Pods, identities, endpoints -----------------------------------------------------------------

  /** A pod's container ports (for named ports); undefined when the pod is gone. */
  setPod(podKey: string, pod: PodWithPorts | undefined): void {
    const before = JSON.stringify(this.pods.get(podKey)?.spec.containers?.map((c) => c.ports ?? []) ?? null);
    if (pod) this.pods.set(podKey, pod);
    else this.pods.delete(podKey);
    if (before === JSON.stringify(pod?.spec.containers?.map((c) => c.ports ?? []) ?? null)) return;
    for (const ep of this.endpoints.values()) if (ep.pod === podKey) this.markFull(ep);
    this.fullEgressNamedPorts();
  }

  /**
   * An endpoint (local or remote) of a pod carries `identity` with these labels at `ip`. The identity
   * becomes known to the selectors if it is new; a pod moving to another identity leaves the old one.
   */
  upsertMember(memberKey: string, podKey: string, identity: number, labels: string[], ip: string | undefined): void {
    const old = this.members.get(memberKey);
    const ipNum = ip === undefined ? undefined : parseIpv4(ip);
    if (old && old.identity === identity && old.ip === ipNum && old.pod === podKey) {
      this.ensureIdentity(identity, labels);
      return;
    }
    if (old) this.removeMember(memberKey);
    this.ensureIdentity(identity, labels);
    this.members.set(memberKey, { identity, pod: podKey, ip: ipNum });
    if (!this.membersByIdentity.has(identity)) this.membersByIdentity.set(identity, new Set());
    this.membersByIdentity.get(identity)!.add(memberKey);
    const rec = this.cache.identity(identity)!;
    if (ipNum !== undefined) {
      rec.ips.set(ipNum, (rec.ips.get(ipNum) ?? 0) + 1);
      this.selectionsChanged(this.cache.ipsChanged(identity));
    }
    this.fullEgressNamedPorts();
  }

  removeMember(memberKey: string): void {
    const m = this.members.get(memberKey);
    if (!m) return;
    this.members.delete(memberKey);
    const set = this.membersByIdentity.get(m.identity);
    set?.delete(memberKey);
    const rec = this.cache.identity(m.identity);
    if (rec && m.ip !== undefined) {
      const n = (rec.ips.get(m.ip) ?? 1) - 1;
      if (n > 0) rec.ips.set(m.ip, n);
      else rec.ips.delete(m.ip);
    }
    if (!set || set.size === 0) {
      this.membersByIdentity.delete(m.identity);
      this.selectionsChanged(this.cache.removeIdentity(m.identity));
    } else if (m.ip !== undefined) {
      this.selectionsChanged(this.cache.ipsChanged(m.identity));
    }
    this.fullEgressNamedPorts();
  }

  private ensureIdentity(id: number, labels: string[]): void {
    const rec = this.cache.identity(id);
    if (rec && rec.labels.length === labels.length && rec.labels.every((l, i) => l === labels[i])) return;
    if (rec?.kind === 'reserved') return;
    this.selectionsChanged(this.cache.upsertIdentity(identityRecord(id, [...labels].sort(), 'pod')));
    // A local endpoint of this identity may now be selected by other policies.
    for (const ep of this.endpoints.values()) if (ep.identity === id) this.resubject(ep);
  }

  upsertLocalEndpoint(ep: LocalEndpoint, labels: string[], ip: string | undefined): void {
    this.upsertMember(`local/${ep.pod}`, ep.pod, ep.identity, labels, ip);
    let cur = this.endpoints.get(ep.endpointId);
    if (!cur) {
      cur = { ...ep, policies: new Set(), entries: new EndpointEntries(ep.endpointId), localhost: false };
      this.endpoints.set(ep.endpointId, cur);
    } else if (cur.pod !== ep.pod) {
      this.markFull(cur); // its ingress named ports resolve on another pod now
    }
    cur.identity = ep.identity;
    cur.pod = ep.pod;
    this.resubject(cur);
  }

  removeLocalEndpoint(endpointId: number): void {
    const ep = this.endpoints.get(endpointId);
    if (!ep) return;
    for (const k of ep.policies) this.policies.get(k)?.subjects.delete(endpointId);
    this.endpoints.delete(endpointId);
    this.changed.delete(endpointId);
    this.full.delete(endpointId);
    this.removeMember(`local/${ep.pod}`);
  }

  /** Attach and detach policies after the endpoint's identity (or the policy set) changed. */
  private resubject(ep: EpState): void {
    const rec = this.cache.identity(ep.identity);
    const ns = rec?.namespace;
    const now = new Set<string>();
    for (const key of ns === undefined ? [] : (this.policiesByNs.get(ns) ?? [])) {
      if (rec && selects({ spec: this.policies.get(key)!.compiled.subject }, rec)) now.add(key);
    }
    for (const k of [...ep.policies]) if (!now.has(k)) this.detach(ep, this.policies.get(k)!);
    for (const k of now) if (!ep.policies.has(k)) this.attach(ep, this.policies.get(k)!);
    this.changed.add(ep.endpointId);
  }

  // ---- CIDR identities (node-local, Cilium's local scope) ------------------------------------------

  private refCidr(prefix: string): void {
    const cur = this.cidrIds.get(prefix);
    if (cur) {
      cur[1]++;
      return;
    }
    const id = this.freeCidrIds.shift() ?? this.nextCidrId++;
    this.cidrIds.set(prefix, [id, 1]);
    this.selectionsChanged(this.cache.upsertIdentity(identityRecord(id, [`cidr:${prefix}`, 'reserved:world'], 'cidr')));
  }

  private unrefCidr(prefix: string): void {
    const cur = this.cidrIds.get(prefix);
    if (!cur) return;
    if (--cur[1] > 0) return;
    this.cidrIds.delete(prefix);
    this.selectionsChanged(this.cache.removeIdentity(cur[0]));
    this.freeCidrIds.push(cur[0]); // FIFO: a freed number is reused as late as possible
  }

  /** The ipcache entries the policies need: CIDR prefix → its local identity. */
  cidrIdentities(): Map<string, number> {
    return new Map([...this.cidrIds].map(([p, [id]]) => [p, id]));
  }

  // ---- Outputs -----------------------------------------------------------------------------------

  /** The net change of every endpoint whose policy changed since the last call. */
  takeChanges(): EndpointPolicyChange[] {
    for (const id of this.full) {
      const ep = this.endpoints.get(id);
      if (ep) ep.entries.replace(this.scratch(ep));
    }
    this.full.clear();
    const out: EndpointPolicyChange[] = [];
    for (const id of this.changed) {
      const ep = this.endpoints.get(id);
      if (ep?.entries.hasChanges()) out.push(ep.entries.take());
    }
    this.changed.clear();
    return out;
  }

  /** The endpoint's whole policy as it stands (a pending full recomputation done first). */
  compute(endpointId: number, sorted = true): EndpointPolicy {
    const ep = this.endpoints.get(endpointId);
    if (!ep) return { endpointId, ingressEnforced: false, egressEnforced: false, entries: [] };
    if (this.full.delete(endpointId)) ep.entries.replace(this.scratch(ep));
    return ep.entries.snapshot(sorted);
  }

  /** The endpoint's policy recomputed from scratch, ignoring the incremental state (for tests). */
  computeFromScratch(endpointId: number): EndpointPolicy {
    const ep = this.endpoints.get(endpointId);
    if (!ep) return { endpointId, ingressEnforced: false, egressEnforced: false, entries: [] };
    const scratch = new EndpointEntries(endpointId);
    scratch.replace(this.scratch(ep));
    scratch.ingress = ep.entries.ingress;
    scratch.egress = ep.entries.egress;
    return scratch.snapshot();
  }

  localEndpoints(): LocalEndpoint[] {
    return [...this.endpoints.values()].map(({ endpointId, identity, pod }) => ({ endpointId, identity, pod }));
  }

  /** The policy keys selecting an endpoint. */
  policiesOf(endpointId: number): string[] {
    return [...(this.endpoints.get(endpointId)?.policies ?? [])].sort();
  }

  /** Object keys ("Kind/ns/name") of every imported policy. */
  policyObjectKeys(): string[] {
    return [...this.objectKeys.keys()];
  }

  /** What the imported policies asked for that is not supported (per compiled policy). */
  notes(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [k, s] of this.policies) if (s.compiled.notes.length) out[k] = s.compiled.notes;
    return out;
  }

  counts(): { policies: number; selectors: number; identities: number; cidrIdentities: number; endpoints: number; entries: number } {
    let entries = 0;
    for (const ep of this.endpoints.values()) entries += ep.entries.size;
    return { policies: this.policies.size, ...this.cache.size, cidrIdentities: this.cidrIds.size, endpoints: this.endpoints.size, entries };
  }

  /** (protocol, port) pairs `name` resolves to on these pods. */
  private resolveName(podKeys: Iterable<string>, spec: PortSpec): Array<[number, number]> {
    const out = new Map<string, [number, number]>();
    for (const k of podKeys) {
      const pod = this.pods.get(k);
      if (!pod) continue;
      for (const p of namedPortsOf(pod, spec.name!)) {
        const proto = PROTO_NUM[p.protocol];
        if (proto === undefined || (spec.protocol !== 0 && proto !== spec.protocol)) continue;
        out.set(`${proto}/${p.port}`, [proto, p.port]);
      }
    }
    return [...out.values()];
  }
}

export type { PolicyDirection };
