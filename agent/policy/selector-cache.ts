// The selector cache (Cilium's SelectorCache): every distinct peer selector of every policy, each with
// the set of security identities it selects right now, kept up to date incrementally as identities
// appear, disappear or change members. Policies share selectors (same spec, same entry), so a new pod
// identity costs one evaluation per selector that could match it, not one per policy rule.
//
// Identities known here: the reserved ones (host, world, remote-node), pod identities while at least
// one endpoint (local or remote) carries them, and the node-local CIDR identities the policies need.
import { matchLabelSelector, type LabelSelector } from '../../lib/k8s/selectors.js';
import { cidrContains, parseCidr, parseIpv4, type Cidr } from '../../lib/net/cidr.js';
import { NAMESPACE_LABEL, NAMESPACE_LABELS_PREFIX, RESERVED_IDENTITY, RESERVED_LABELS, securityLabelIndex } from '../identity/labels.js';
import type { SelectorSpec } from './compile.js';

export type IdentityKind = 'pod' | 'reserved' | 'cidr';

export interface IdentityRecord {
  id: number;
  kind: IdentityKind;
  labels: string[];
  /** "source:key" → value. */
  index: Map<string, string>;
  /** key → values, whatever the source (for "any:" selectors). */
  anyIndex: Map<string, string[]>;
  namespace?: string;
  /** k8s: labels of the pod and of its namespace, as a NetworkPolicy sees them. */
  podLabels: Record<string, string>;
  nsLabels: Record<string, string>;
  cidr?: Cidr;
  /** Member IPs (pod identities) with how many endpoints hold each. */
  ips: Map<number, number>;
}

export function identityRecord(id: number, labels: string[], kind: IdentityKind): IdentityRecord {
  const index = securityLabelIndex(labels);
  const anyIndex = new Map<string, string[]>();
  const podLabels: Record<string, string> = {};
  const nsLabels: Record<string, string> = {};
  let namespace: string | undefined;
  let cidr: Cidr | undefined;
  for (const [sk, v] of index) {
    const colon = sk.indexOf(':');
    const source = sk.slice(0, colon);
    const key = sk.slice(colon + 1);
    anyIndex.set(key, [...(anyIndex.get(key) ?? []), v]);
    if (source === 'cidr') cidr = parseCidr(key) ?? undefined;
    if (source !== 'k8s') continue;
    if (key === NAMESPACE_LABEL) namespace = v;
    else if (key.startsWith(NAMESPACE_LABELS_PREFIX)) nsLabels[key.slice(NAMESPACE_LABELS_PREFIX.length)] = v;
    else podLabels[key] = v;
  }
  return { id, kind, labels, index, anyIndex, namespace, podLabels, nsLabels, cidr, ips: new Map() };
}

/** Cilium label selector on security labels: keys are "source:key", or "key" (= any source). */
export function matchCiliumSelector(sel: LabelSelector, rec: IdentityRecord): boolean {
  const values = (k: string): string[] => {
    const colon = k.indexOf(':');
    const source = colon > 0 && /^[A-Za-z0-9_-]+$/.test(k.slice(0, colon)) ? k.slice(0, colon) : 'any';
    const key = source === 'any' && colon > 0 && k.startsWith('any:') ? k.slice(4) : source === 'any' ? k : k.slice(colon + 1);
    if (source === 'any') return rec.anyIndex.get(key) ?? [];
    const v = rec.index.get(`${source}:${key}`);
    return v === undefined ? [] : [v];
  };
  for (const [k, want] of Object.entries(sel.matchLabels ?? {})) if (!values(k).includes(want)) return false;
  for (const r of sel.matchExpressions ?? []) {
    const have = values(r.key);
    const ok =
      r.operator === 'In' ? have.some((v) => (r.values ?? []).includes(v))
      : r.operator === 'NotIn' ? !have.some((v) => (r.values ?? []).includes(v))
      : r.operator === 'Exists' ? have.length > 0
      : r.operator === 'DoesNotExist' ? have.length === 0
      : false;
    if (!ok) return false;
  }
  return true;
}

function inside(inner: Cidr, outer: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContains(outer, inner.base);
}

export interface Selector {
  key: string;
  spec: SelectorSpec;
  /** Identities selected now. */
  selected: Set<number>;
  /** Policy keys using this selector (refcount). */
  users: Map<string, number>;
  /** Parsed CIDRs of a cidr spec. */
  cidr?: { cidr: Cidr; except: Cidr[] };
}

/** Does this selector select this identity? */
export function selects(sel: Pick<Selector, 'spec' | 'cidr'>, rec: IdentityRecord): boolean {
  const s = sel.spec;
  switch (s.type) {
    case 'k8s':
      if (rec.kind !== 'pod') return false;
      if (s.namespace !== undefined && rec.namespace !== s.namespace) return false;
      if (s.namespaceSelector && !matchLabelSelector(s.namespaceSelector, rec.nsLabels)) return false;
      return !s.podSelector || matchLabelSelector(s.podSelector, rec.podLabels);
    case 'cilium':
      if (s.namespace !== undefined && rec.namespace !== s.namespace) return false;
      return matchCiliumSelector(s.selector, rec);
    case 'entity':
      switch (s.entity) {
        case 'world':
          return rec.id === RESERVED_IDENTITY.world || rec.kind === 'cidr';
        case 'host':
          return rec.id === RESERVED_IDENTITY.host;
        case 'remote-node':
          return rec.id === RESERVED_IDENTITY.remoteNode;
        case 'cluster':
          return rec.kind === 'pod' || rec.id === RESERVED_IDENTITY.host || rec.id === RESERVED_IDENTITY.remoteNode;
      }
      return false;
    case 'cidr': {
      const c = sel.cidr!;
      const outside = (x: Cidr) => !c.except.some((e) => inside(x, e));
      if (rec.id === RESERVED_IDENTITY.world) return c.cidr.prefix === 0;
      if (rec.kind === 'cidr') return !!rec.cidr && inside(rec.cidr, c.cidr) && outside(rec.cidr);
      if (rec.kind === 'pod' && s.pods) {
        for (const ip of rec.ips.keys()) if (cidrContains(c.cidr, ip) && outside({ base: ip, prefix: 32 })) return true;
      }
      return false;
    }
  }
}

/** One identity entering or leaving one selector's selection. */
export interface SelectionChange {
  sel: Selector;
  id: number;
  added: boolean;
}

export class SelectorCache {
  private identities = new Map<number, IdentityRecord>();
  private byNamespace = new Map<string, Set<number>>();
  private selectors = new Map<string, Selector>();
  /** Selectors limited to one namespace, by namespace; the rest are cluster-wide. */
  private nsSelectors = new Map<string, Set<Selector>>();
  private globalSelectors = new Set<Selector>();

  constructor() {
    for (const [id, labels] of Object.entries(RESERVED_LABELS)) this.identities.set(Number(id), identityRecord(Number(id), labels, 'reserved'));
  }

  get size(): { identities: number; selectors: number } {
    return { identities: this.identities.size, selectors: this.selectors.size };
  }
  identity(id: number): IdentityRecord | undefined {
    return this.identities.get(id);
  }
  allIdentities(): IterableIterator<IdentityRecord> {
    return this.identities.values();
  }
  selector(key: string): Selector | undefined {
    return this.selectors.get(key);
  }

  private namespaceOf(spec: SelectorSpec): string | undefined {
    return spec.type === 'k8s' || spec.type === 'cilium' ? spec.namespace : undefined;
  }

  /** Take a reference to the selector of `spec` for policy `user`, creating and evaluating it if new. */
  acquire(spec: SelectorSpec, user: string): Selector {
    const key = JSON.stringify(spec);
    let sel = this.selectors.get(key);
    if (!sel) {
      sel = { key, spec, selected: new Set(), users: new Map() };
      if (spec.type === 'cidr') {
        const p = (s: string) => {
          const [ip, len] = s.split('/');
          return { base: parseIpv4(ip!)!, prefix: Number(len) };
        };
        sel.cidr = { cidr: p(spec.cidr), except: spec.except.map(p) };
      }
      const ns = this.namespaceOf(spec);
      if (ns !== undefined) {
        if (!this.nsSelectors.has(ns)) this.nsSelectors.set(ns, new Set());
        this.nsSelectors.get(ns)!.add(sel);
        for (const id of this.byNamespace.get(ns) ?? []) if (selects(sel, this.identities.get(id)!)) sel.selected.add(id);
      } else {
        this.globalSelectors.add(sel);
        for (const rec of this.identities.values()) if (selects(sel, rec)) sel.selected.add(rec.id);
      }
      this.selectors.set(key, sel);
    }
    sel.users.set(user, (sel.users.get(user) ?? 0) + 1);
    return sel;
  }

  release(sel: Selector, user: string): void {
    const n = (sel.users.get(user) ?? 0) - 1;
    if (n > 0) sel.users.set(user, n);
    else sel.users.delete(user);
    if (sel.users.size > 0) return;
    this.selectors.delete(sel.key);
    const ns = this.namespaceOf(sel.spec);
    if (ns !== undefined) this.nsSelectors.get(ns)?.delete(sel);
    else this.globalSelectors.delete(sel);
  }

  /** Re-evaluate the selectors that could match `rec`; returns the selections that changed. */
  private reevaluate(rec: IdentityRecord, present: boolean): SelectionChange[] {
    const changed: SelectionChange[] = [];
    const visit = (sel: Selector) => {
      const want = present && selects(sel, rec);
      if (want === sel.selected.has(rec.id)) return;
      if (want) sel.selected.add(rec.id);
      else sel.selected.delete(rec.id);
      changed.push({ sel, id: rec.id, added: want });
    };
    if (rec.namespace !== undefined) for (const sel of this.nsSelectors.get(rec.namespace) ?? []) visit(sel);
    for (const sel of this.globalSelectors) visit(sel);
    return changed;
  }

  /** Add or replace an identity (a pod identity's members are kept when it is replaced). */
  upsertIdentity(rec: IdentityRecord): SelectionChange[] {
    const old = this.identities.get(rec.id);
    if (old) {
      rec.ips = old.ips;
      if (old.namespace !== undefined && old.namespace !== rec.namespace) {
        // The number now names other labels (collected and reused): drop it from every selection first.
        this.byNamespace.get(old.namespace)?.delete(rec.id);
      }
    }
    const changed = old && old.namespace !== rec.namespace ? this.reevaluate(old, false) : [];
    this.identities.set(rec.id, rec);
    if (rec.namespace !== undefined) {
      if (!this.byNamespace.has(rec.namespace)) this.byNamespace.set(rec.namespace, new Set());
      this.byNamespace.get(rec.namespace)!.add(rec.id);
    }
    return [...changed, ...this.reevaluate(rec, true)];
  }

  removeIdentity(id: number): SelectionChange[] {
    const rec = this.identities.get(id);
    if (!rec || rec.kind === 'reserved') return [];
    this.identities.delete(id);
    if (rec.namespace !== undefined) this.byNamespace.get(rec.namespace)?.delete(id);
    return this.reevaluate(rec, false);
  }

  /** A member IP of a pod identity came or went: only CIDR selectors that match pods can change. */
  ipsChanged(id: number): SelectionChange[] {
    const rec = this.identities.get(id);
    return rec ? this.reevaluate(rec, true) : [];
  }
}
