// Label selectors and address blocks, written for the oracle alone (it must not share an implementation
// with the engine it judges). Kubernetes selectors match a plain label map; Cilium selectors match a
// set of labels that each carry a source ("k8s:app=web", "reserved:host"), where a selector key
// without a source, or with "any:", matches a label of any source.
import type { LabelSelector } from '../../../harness/cluster/objects.js';

/** Kubernetes LabelSelector: all of matchLabels and matchExpressions hold; `{}` selects everything. */
export function selectsLabels(selector: LabelSelector, labels: Record<string, string>): boolean {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(labels, k);
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (!has(k) || labels[k] !== v) return false;
  }
  for (const e of selector.matchExpressions ?? []) {
    const vals = e.values ?? [];
    const present = has(e.key);
    const inValues = present && vals.includes(labels[e.key]!);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !present) return false;
    if (e.operator === 'DoesNotExist' && present) return false;
  }
  return true;
}

export interface SourcedLabel {
  source: string;
  key: string;
  value: string;
}

/** "k8s:app" → {source: k8s, key: app}; "app" and "any:app" → {source: any, key: app}. */
export function parseCiliumKey(raw: string): { source: string; key: string } {
  const m = /^([A-Za-z0-9_-]+):(.*)$/.exec(raw);
  return m ? { source: m[1]!, key: m[2]! } : { source: 'any', key: raw };
}

function valuesOf(labels: SourcedLabel[], rawKey: string): string[] {
  const { source, key } = parseCiliumKey(rawKey);
  return labels.filter((l) => l.key === key && (source === 'any' || l.source === source)).map((l) => l.value);
}

/** A Cilium EndpointSelector against an endpoint's sourced labels. */
export function selectsCiliumLabels(selector: LabelSelector, labels: SourcedLabel[]): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (!valuesOf(labels, k).includes(v)) return false;
  }
  for (const e of selector.matchExpressions ?? []) {
    const found = valuesOf(labels, e.key);
    const vals = e.values ?? [];
    const inValues = found.some((v) => vals.includes(v));
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && found.length === 0) return false;
    if (e.operator === 'DoesNotExist' && found.length > 0) return false;
  }
  return true;
}

/** The keys a selector mentions, parsed. */
export function selectorKeys(selector: LabelSelector): Array<{ source: string; key: string }> {
  return [...Object.keys(selector.matchLabels ?? {}), ...(selector.matchExpressions ?? []).map((e) => e.key)].map(parseCiliumKey);
}

// ---- IPv4 blocks --------------------------------------------------------------------------------

export function ipv4ToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const p = m.slice(1).map(Number);
  if (p.some((x) => x > 255)) return undefined;
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

/** Whether an IPv4 address lies in a CIDR (host bits of the CIDR ignored, as Kubernetes does). IPv6 blocks never hold an IPv4 address. */
export function cidrContains(cidr: string, ip: string): boolean {
  const [base, len] = cidr.split('/');
  const b = ipv4ToInt(base ?? '');
  const a = ipv4ToInt(ip);
  const prefix = Number(len);
  if (b === undefined || a === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return false;
  if (prefix === 0) return true;
  const shift = 32 - prefix;
  return a >>> shift === b >>> shift;
}

/** In `cidr` and in none of `except`. */
export function inBlock(ip: string, cidr: string, except: readonly string[] = []): boolean {
  return cidrContains(cidr, ip) && !except.some((e) => cidrContains(e, ip));
}
