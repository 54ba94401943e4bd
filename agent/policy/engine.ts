// The policy engine: from compiled policies, the identities the selector cache knows and this node's
// endpoints, each local endpoint's EndpointPolicy (agent/policy/types.ts). Pure and synchronous: the
// controller feeds it watch events and writes its output to the datapath.
//
// It recomputes only what changed. A changed policy dirties the endpoints it selected or selects now;
// an identity that appears or disappears dirties the endpoints of the policies whose selectors'
// selections changed; a pod's named ports dirty the endpoint itself (ingress) and the subjects of
// policies with egress named ports. takeDirty() hands the dirty endpoints to the controller.
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
import { identityRecord, SelectorCache, selects, type Selector } from './selector-cache.js';
import type { EndpointPolicy, PolicyDirection, PolicyEntry } from './types.js';

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
  egressNamedPorts: boolean;
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

export class PolicyEngine {
  readonly cache = new SelectorCache();
  private policies = new Map<string, PolicyState>();
  private policiesByNs = new Map<string, Set<string>>();
  /** Object key ("Kind/ns/name") → compiled keys (a CNP with specs compiles to several). */
  private objectKeys = new Map<string, string[]>();
  private endpoints = new Map<number, LocalEndpoint & { policies: Set<string> }>();
  private members = new Map<string, Member>();
  private membersByIdentity = new Map<number, Set<string>>();
  private pods = new Map<string, PodWithPorts>();
  private dirty = new Set<number>();
  /** CIDR prefix → [local identity, references]. */
  private cidrIds = new Map<string, [number, number]>();
  private freeCidrIds: number[] = [];
  private nextCidrId = LOCAL_IDENTITY_SCOPE;
  /** Policies that could not be compiled, with why (object key → message). */
  readonly problems = new Map<string, string>();

  constructor(private opts: EngineOptions = {}) {}

  // ---- Inputs ------------------------------------------------------------------------------------

  /** Add or replace a NetworkPolicy or CiliumNetworkPolicy. Returns false when it cannot be compiled. */
  upsertPolicy(obj: PolicyObject): boolean {
    const objKey = `${obj.kind}/${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}`;
    let compiled: CompiledPolicy[];
    try {
      compiled = compilePolicy(obj);
      this.problems.delete(objKey);
    } catch (e) {
      // Fail closed would need a direction to close; an invalid policy is rejected at apply, so
      // one that still arrives is reported and, like in Cilium, not imported (the old version goes).
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

  private addCompiled(c: CompiledPolicy): void {
    const prev = this.policies.get(c.key);
    // Acquire the new selectors before releasing the old ones, so shared ones are not rebuilt.
    const cidrs = c.rules.flatMap((r) => (r.peers === 'all' ? [] : r.peers.flatMap(cidrPrefixesOf)));
    for (const p of cidrs) this.refCidr(p);
    const ruleSelectors = c.rules.map((r) => (r.peers === 'all' ? undefined : r.peers.map((s) => this.cache.acquire(s, c.key))));
    const state: PolicyState = {
      compiled: c,
      ruleSelectors,
      subjects: new Set(),
      egressNamedPorts: c.rules.some((r) => r.direction === 'egress' && r.ports !== 'all' && r.ports.some((p) => p.name)),
    };
    if (prev) this.dropCompiled(prev);
    this.policies.set(c.key, state);
    if (!this.policiesByNs.has(c.namespace)) this.policiesByNs.set(c.namespace, new Set());
    this.policiesByNs.get(c.namespace)!.add(c.key);
    for (const ep of this.endpoints.values()) {
      const rec = this.cache.identity(ep.identity);
      if (rec && selects({ spec: c.subject }, rec)) {
        state.subjects.add(ep.endpointId);
        ep.policies.add(c.key);
        this.dirty.add(ep.endpointId);
      }
    }
  }

  /** Release what a compiled policy holds; its subjects become dirty. */
  private dropCompiled(s: PolicyState): void {
    for (const sels of s.ruleSelectors) for (const sel of sels ?? []) this.cache.release(sel, s.compiled.key);
    for (const r of s.compiled.rules) if (r.peers !== 'all') for (const p of r.peers.flatMap(cidrPrefixesOf)) this.unrefCidr(p);
    for (const id of s.subjects) {
      this.endpoints.get(id)?.policies.delete(s.compiled.key);
      this.dirty.add(id);
    }
  }

  private removeCompiled(key: string): void {
    const s = this.policies.get(key);
    if (!s) return;
    this.dropCompiled(s);
    this.policies.delete(key);
    this.policiesByNs.get(s.compiled.namespace)?.delete(key);
  }

  /** A pod's container ports (for named ports); undefined when the pod is gone. */
  setPod(podKey: string, pod: PodWithPorts | undefined): void {
    if (pod) this.pods.set(podKey, pod);
    else this.pods.delete(podKey);
    for (const ep of this.endpoints.values()) if (ep.pod === podKey) this.dirty.add(ep.endpointId);
    this.dirtyEgressNamedPorts();
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
    this.dirtyEgressNamedPorts();
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
    this.dirtyEgressNamedPorts();
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
    const cur = this.endpoints.get(ep.endpointId);
    const next = { ...ep, policies: cur?.policies ?? new Set<string>() };
    this.endpoints.set(ep.endpointId, next);
    this.resubject(next);
    this.dirty.add(ep.endpointId);
  }

  removeLocalEndpoint(endpointId: number): void {
    const ep = this.endpoints.get(endpointId);
    if (!ep) return;
    for (const k of ep.policies) this.policies.get(k)?.subjects.delete(endpointId);
    this.endpoints.delete(endpointId);
    this.dirty.delete(endpointId);
    this.removeMember(`local/${ep.pod}`);
  }

  /** Recompute which policies select this endpoint (its identity or the policies changed). */
  private resubject(ep: LocalEndpoint & { policies: Set<string> }): void {
    const rec = this.cache.identity(ep.identity);
    const ns = rec?.namespace;
    const now = new Set<string>();
    for (const key of ns === undefined ? [] : (this.policiesByNs.get(ns) ?? [])) {
      const s = this.policies.get(key)!;
      if (rec && selects({ spec: s.compiled.subject }, rec)) now.add(key);
    }
    for (const k of ep.policies) if (!now.has(k)) this.policies.get(k)?.subjects.delete(ep.endpointId);
    for (const k of now) this.policies.get(k)!.subjects.add(ep.endpointId);
    ep.policies = now;
    this.dirty.add(ep.endpointId);
  }

  private selectionsChanged(sels: Selector[]): void {
    for (const sel of sels) {
      for (const user of sel.users.keys()) for (const id of this.policies.get(user)?.subjects ?? []) this.dirty.add(id);
    }
  }

  private dirtyEgressNamedPorts(): void {
    for (const s of this.policies.values()) if (s.egressNamedPorts) for (const id of s.subjects) this.dirty.add(id);
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

  /** Endpoints whose policy may have changed since the last call (and clears the set). */
  takeDirty(): number[] {
    const out = [...this.dirty].filter((id) => this.endpoints.has(id));
    this.dirty.clear();
    return out;
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

  counts(): { policies: number; selectors: number; identities: number; cidrIdentities: number; endpoints: number } {
    return { policies: this.policies.size, ...this.cache.size, cidrIdentities: this.cidrIds.size, endpoints: this.endpoints.size };
  }

  private podIdentities(): number[] {
    return [...this.membersByIdentity.keys()];
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

  /** The full EndpointPolicy of a local endpoint, from the current state. */
  compute(endpointId: number): EndpointPolicy {
    const ep = this.endpoints.get(endpointId);
    if (!ep) return { endpointId, ingressEnforced: false, egressEnforced: false, entries: [] };
    let ingressEnforced = false;
    let egressEnforced = false;
    const entries = new Map<string, PolicyEntry>();
    const add = (direction: PolicyDirection, deny: boolean, identity: number, protocol: number, port: number, endPort: number) => {
      const key = `${direction}|${deny ? 1 : 0}|${identity}|${protocol}|${port}|${endPort}`;
      if (!entries.has(key)) entries.set(key, { direction, deny, identity, protocol, port, endPort });
    };
    for (const key of ep.policies) {
      const s = this.policies.get(key)!;
      ingressEnforced ||= s.compiled.ingress;
      egressEnforced ||= s.compiled.egress;
      s.compiled.rules.forEach((rule, i) => {
        const sels = s.ruleSelectors[i];
        const peers: Iterable<number> = sels === undefined ? [0] : sels.length === 1 ? sels[0]!.selected : new Set(sels.flatMap((x) => [...x.selected]));
        if (rule.ports === 'all') {
          for (const id of peers) add(rule.direction, rule.deny, id, 0, 0, 0);
          return;
        }
        for (const p of rule.ports) {
          if (!p.name) {
            for (const id of peers) add(rule.direction, rule.deny, id, p.protocol, p.port, p.endPort);
          } else if (rule.direction === 'ingress') {
            // The destination is this endpoint: its own pod's ports name the number.
            const resolved = this.resolveName([ep.pod], p);
            for (const id of peers) for (const [proto, port] of resolved) add('ingress', rule.deny, id, proto, port, port);
          } else {
            // The destination is each peer: resolve on the pods of every peer identity.
            const ids = sels === undefined ? this.podIdentities() : peers;
            for (const id of ids) {
              const pods = [...(this.membersByIdentity.get(id) ?? [])].map((m) => this.members.get(m)!.pod);
              for (const [proto, port] of this.resolveName(pods, p)) add('egress', rule.deny, id, proto, port, port);
            }
          }
        }
      });
    }
    if (ingressEnforced && this.opts.allowLocalhost !== false) add('ingress', false, RESERVED_IDENTITY.host, 0, 0, 0);
    const sorted = [...entries.values()].sort(
      (a, b) => a.direction.localeCompare(b.direction) || Number(a.deny) - Number(b.deny) || a.identity - b.identity || a.protocol - b.protocol || a.port - b.port || a.endPort - b.endPort,
    );
    return { endpointId, ingressEnforced, egressEnforced, entries: sorted };
  }
}
