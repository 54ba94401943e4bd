// Kubernetes label selector syntax ("app=a,tier!=db", "env in (a,b)", "!legacy", "k8s:pod=a") matched
// against Cilium-style endpoint labels ("k8s:pod=a"). A key with a source prefix ("k8s:", "reserved:")
// matches only labels of that source; a key without one matches any source, as Hubble's label filter.
import { splitTop } from '../../lib/k8s/selectors.js';

export interface LabelRequirement {
  source?: string;
  key: string;
  op: 'exists' | 'not-exists' | 'in' | 'notin';
  values: string[];
}

const KEY = /^[A-Za-z0-9]([A-Za-z0-9_.\-/]*[A-Za-z0-9])?$/;
const SOURCE = /^(k8s|reserved|container|cidr|unspec|any):/;

function parseKey(raw: string): { source?: string; key: string } {
  const k = raw.trim();
  const m = SOURCE.exec(k);
  const source = m && m[1] !== 'any' ? m[1] : undefined;
  const key = m ? k.slice(m[0].length) : k;
  if (!KEY.test(key)) throw new Error(`invalid label key "${raw.trim()}"`);
  return { source, key };
}

export function parseLabelSelector(selector: string): LabelRequirement[] {
  const parts = splitTop(selector);
  if (parts.length === 0) throw new Error(`empty label selector "${selector}"`);
  return parts.map((p) => {
    let m = /^(.+?)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p);
    if (m) {
      const values = m[3]!.split(',').map((v) => v.trim()).filter(Boolean);
      return { ...parseKey(m[1]!), op: m[2] as 'in' | 'notin', values };
    }
    m = /^(.+?)\s*(==|!=|=)\s*(.*)$/.exec(p);
    if (m) return { ...parseKey(m[1]!), op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!.trim()] };
    if (p.startsWith('!')) return { ...parseKey(p.slice(1)), op: 'not-exists', values: [] };
    return { ...parseKey(p), op: 'exists', values: [] };
  });
}

function parseLabel(l: string): { source: string; key: string; value: string } {
  const colon = l.indexOf(':');
  const eq = l.indexOf('=');
  const hasSource = colon >= 0 && (eq < 0 || colon < eq);
  const source = hasSource ? l.slice(0, colon) : 'unspec';
  const body = hasSource ? l.slice(colon + 1) : l;
  const e = body.indexOf('=');
  return e < 0 ? { source, key: body, value: '' } : { source, key: body.slice(0, e), value: body.slice(e + 1) };
}

export function matchesLabelSelector(reqs: LabelRequirement[], labels: string[]): boolean {
  const parsed = labels.map(parseLabel);
  return reqs.every((r) => {
    const hits = parsed.filter((l) => l.key === r.key && (r.source === undefined || l.source === r.source));
    switch (r.op) {
      case 'exists':
        return hits.length > 0;
      case 'not-exists':
        return hits.length === 0;
      case 'in':
        return hits.some((l) => r.values.includes(l.value));
      case 'notin':
        return !hits.some((l) => r.values.includes(l.value));
    }
  });
}
